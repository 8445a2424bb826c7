"""`probe run` end to end: discovery finds a legacy TLS service and a legacy SSH server on
loopback, the crypto checks run through the engine, and the evidence validates against the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from probe.output.evidence import validate
from tests.helpers.cli import InProcessCli
from tests.helpers.daemons import LocalDaemons
from tests.helpers.pki import TestPKI

pytestmark = pytest.mark.slow


def test_probe_run_with_crypto_checks(daemons: LocalDaemons, legacy_sshd: int, pki: TestPKI, cli: InProcessCli,
                                      tmp_path: Path) -> None:
    out = tmp_path / "ev.json"
    tport = daemons.s_server(pki.legacy.cert, pki.legacy.key, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0", "-www")
    sport = legacy_sshd
    r = cli("run", "--target", "127.0.0.1", "--profile", "general-iot", "--ports", f"{tport},{sport}",
            "--no-credentials", "--no-nmap", "--quiet", "--ca-file", str(pki.ca), "--out", str(out))
    assert r.returncode == 1, r.stderr
    doc = json.loads(out.read_text())
    validate(doc)
    found = {(f["check_id"], f["port"]): f for f in doc["findings"]}
    assert found[("ssh_algorithms", sport)]["status"] == "FAIL"
    assert found[("tls_configuration", tport)]["status"] == "FAIL"
    cert = found[("tls_certificate", tport)]
    assert cert["status"] == "FAIL"
    assert any(v["rule"] == "certificate.untrusted_with_ca_file" for v in cert["details"]["violations"])
    kinds = {a["kind"] for a in doc["artefacts"]}
    assert {"kexinit", "certificate", "tls-server-hello"} <= kinds
    assert any(c.endswith("5.1-3") for c in found[("ssh_algorithms", sport)]["clauses"])
