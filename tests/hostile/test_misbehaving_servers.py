"""One `probe run` against every purpose-built hostile server at once (probe.hostile).

Asserts, per misbehaviour: what discovery made of it, the finding and its reason, and for the
whole run: it ends well inside --max-time, the evidence is schema-valid, memory stays bounded,
every artefact is capped, and no escape sequence a device sent reaches the terminal.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from probe.hostile import SERVERS, HostileServer
from probe.options import SafetyOptions
from probe.output.evidence import validate
from tests.helpers.probe_run import ProbeRun, run_probe

ESC = "\x1b"

MAX_TIME = 40
pytestmark = pytest.mark.timeout(180)  # the module's one run (bounded at 120 s) starts with its first test
CAP = SafetyOptions().max_read_bytes
MISBEHAVED = {"device-misbehaved"}
BROKEN = {"device-misbehaved", "connectivity"}

# server -> (protocol discovery must report, {check_id: (status, allowed reason codes, text in reason)})
EXPECT: dict[str, tuple[str, dict[str, tuple[str, set[str] | None, str | None]]]] = {
    "garbage-banner": ("unknown", {}),
    "endless-stream": ("unknown", {}),
    "stall": ("unknown", {}),
    "ftp-garbage": ("ftp", {"cleartext_authentication": ("INCONCLUSIVE", MISBEHAVED, "stalled")}),
    "ftp-endless-greeting": ("ftp", {"cleartext_authentication": ("INCONCLUSIVE", MISBEHAVED, None)}),
    "ftp-stall": ("ftp", {"cleartext_authentication": ("INCONCLUSIVE", MISBEHAVED, "stalled")}),
    "ftp-markup": ("ftp", {"cleartext_authentication": ("FAIL", None, None)}),
    "telnet-negotiation-flood": ("telnet", {"cleartext_authentication": ("INCONCLUSIVE", MISBEHAVED,
                                                                         "option negotiation")}),
    "telnet-markup": ("telnet", {"cleartext_authentication": ("FAIL", None, None)}),
    "ssh-banner-only": ("ssh", {"ssh_algorithms": ("INCONCLUSIVE", MISBEHAVED, "stalled")}),
    "ssh-reset": ("ssh", {"ssh_algorithms": ("INCONCLUSIVE", BROKEN, None)}),
    "ssh-markup": ("ssh", {"ssh_algorithms": ("INCONCLUSIVE", MISBEHAVED, None)}),
    "tls-reset": ("tls", {"tls_configuration": ("INCONCLUSIVE", BROKEN, "closed"),
                          "tls_certificate": ("INCONCLUSIVE", BROKEN, "closed")}),
    "tls-malformed-cert": ("tls", {"tls_certificate": ("INCONCLUSIVE", MISBEHAVED, "not a readable X.509")}),
    "tls-huge-cert": ("tls", {"tls_certificate": ("INCONCLUSIVE", MISBEHAVED, "exceeds our cap")}),
    "http-huge-headers": ("http", {}),
    "http-endless-chunked": ("http", {}),
    "http-markup": ("upnp", {}),
}


def test_every_server_has_an_expectation() -> None:
    assert set(EXPECT) == {cls.name for cls in SERVERS}


@pytest.fixture(scope="module")
def scan(hostile: dict[str, HostileServer], tmp_path_factory: pytest.TempPathFactory) -> ProbeRun:
    out = tmp_path_factory.mktemp("hostile") / "evidence.json"
    ports = ",".join(str(s.port) for s in hostile.values())
    return run_probe(out, "--target", "127.0.0.1", "--ports", ports, "--no-nmap", "--max-time", str(MAX_TIME),
                     "--max-connections", "8", "--timeout", "5", timeout=120)


def test_run_ends_in_time_complete_and_schema_valid(scan: ProbeRun) -> None:
    assert scan.doc is not None, scan.stderr
    validate(scan.doc)
    assert scan.elapsed < MAX_TIME + 20, f"took {scan.elapsed:.1f}s"
    # nothing hostile here stops probe from completing: every check ended on its own bounds
    assert scan.doc["run"]["complete"] is True, scan.doc["run"]["incomplete_reasons"]
    assert scan.returncode == 1, scan.stderr  # the markup servers really offer cleartext logins: FAIL
    assert "Traceback" not in scan.stderr


def test_memory_and_artefacts_are_bounded(scan: ProbeRun) -> None:
    # the floods would have sent gigabytes in this time; probe's peak memory stays small
    assert scan.max_rss_kb < 250 * 1024, f"peak RSS {scan.max_rss_kb} kB"
    assert scan.doc is not None
    sizes = {a["id"]: a["size"] for a in scan.doc["artefacts"]}
    assert max(sizes.values()) <= CAP
    assert sum(sizes.values()) < 4 * 1024 * 1024


def test_no_escape_sequence_reaches_the_terminal(scan: ProbeRun) -> None:
    # not a tty: probe itself prints no colour either, so any ESC would be the device's
    assert ESC not in scan.stdout and ESC not in scan.stderr
    assert "\x9b" not in scan.stdout and "\x07" not in scan.stdout + scan.stderr


def test_no_pass_on_a_broken_port(scan: ProbeRun, hostile: dict[str, HostileServer]) -> None:
    """Whatever checks exist (more land later), a broken device never earns a PASS, and an
    INCONCLUSIVE on it says the device or the connection was at fault, not probe."""
    for name, server in hostile.items():
        if name.endswith("-markup"):
            continue  # these work, they only carry hostile text
        for f in scan.findings(port=server.port):
            assert f["status"] != "PASS", (name, f)
            if f["status"] == "INCONCLUSIVE":
                assert f["reason_code"] in ("device-misbehaved", "connectivity", "unsupported"), (name, f)
                assert f["reason"], (name, f)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_misbehaviour(scan: ProbeRun, hostile: dict[str, HostileServer], name: str) -> None:
    protocol, checks = EXPECT[name]
    server = hostile[name]
    assert server.connections > 0, "probe never connected"
    svc = scan.service(server.port)
    assert svc["protocol"] == protocol, svc
    assert svc["method"] in ("connect-scan", "syn-scan")  # found by the sweep (SYN when root), not a guess
    if name == "tls-reset":  # 7 bytes of a record prove no handshake: a guess, and so no role
        assert svc["confidence"] == "port" and svc["roles"] == [], svc
    assert scan.doc is not None
    arts = {a["id"]: a for a in scan.doc["artefacts"]}
    if svc["banner_artefact"]:
        art = arts[svc["banner_artefact"]]
        assert art["size"] <= 16384
        if art["encoding"] == "base64":
            assert len(base64.b64decode(art["content"])) == art["size"]
    for check_id, (status, codes, text) in checks.items():
        found = scan.findings(port=server.port, check=check_id)
        assert len(found) == 1, (check_id, found)
        f = found[0]
        assert f["status"] == status, f
        if codes is not None:
            assert f["reason_code"] in codes, f
        if text is not None:
            assert text in f["reason"], f
        for art_id in f["evidence"]:
            assert art_id in arts
        if f["status"] != "INCONCLUSIVE" or f["reason_code"] != "connectivity":
            assert f["evidence"], f"{check_id} on {name} cites no evidence"
    if not checks:
        inventory = scan.findings(check="service_inventory")[0]
        assert f"{server.port}/tcp {protocol}" in inventory["details"]["services"]


def test_garbage_is_kept_verbatim(scan: ProbeRun, hostile: dict[str, HostileServer]) -> None:
    """Binary junk is evidence too: stored base64, digest over the original bytes."""
    assert scan.doc is not None
    svc = scan.service(hostile["garbage-banner"].port)
    art = next(a for a in scan.doc["artefacts"] if a["id"] == svc["banner_artefact"])
    assert art["encoding"] == "base64"
    raw = base64.b64decode(art["content"])
    assert raw.startswith(b"\x00\x8f\xfe") and b"\x1b]52;" in raw


def test_markup_kept_in_evidence_but_escaped_in_summaries(scan: ProbeRun, hostile: dict[str, HostileServer]) -> None:
    f = scan.findings(port=hostile["ftp-markup"].port, check="cleartext_authentication")[0]
    assert ESC not in f["summary"] and "\\x1b" in f["summary"]
    assert scan.doc is not None
    transcript = next(a for a in scan.doc["artefacts"] if a["id"] == f["evidence"][0])
    assert "\x1b]52;c;" in transcript["content"]  # the evidence is verbatim


def test_out_path_in_run_dir(scan: ProbeRun) -> None:
    assert "evidence:" in scan.stdout and Path(scan.stdout.split("evidence:")[-1].strip()).exists()


@pytest.mark.parametrize("name", ["ftp-stall", "ssh-banner-only"])
def test_a_stalling_login_is_not_retried(scan: ProbeRun, hostile: dict[str, HostileServer], name: str) -> None:
    """A lone trial connection that the server holds a whole --timeout without answering is a
    stall, not a connection cap: it is not paused for and tried again (each retry would wait the
    timeout out again), and two in a row end the trials with INCONCLUSIVE (connectivity)."""
    (f,) = scan.findings(port=hostile[name].port, check="default_credentials")
    assert (f["status"], f["reason_code"]) == ("INCONCLUSIVE", "connectivity"), f
    assert f["details"]["connection_retries"] == [], f["details"]["connection_retries"]
    assert f["details"]["attempts"] == 2, f["details"]
