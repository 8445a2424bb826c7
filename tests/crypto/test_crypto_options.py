"""--hostname and --ssh-policy ssh-audit: typed, validated where built, recorded in run.options."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.compliance.cryptopolicy import load_ssh_policy
from probe.errors import UserError
from probe.options import CryptoOptions, ScanOptions


def test_hostname_is_validated_and_recorded():
    opts = ScanOptions(crypto=CryptoOptions(hostname="router.example.test"))
    assert opts.to_json()["crypto"]["hostname"] == "router.example.test"
    assert opts.crypto.sni == "router.example.test"
    assert CryptoOptions(hostname="192.0.2.7").sni is None  # an IP literal is never sent as SNI
    for bad in ("bad name", "-x.test", "a" * 300):
        with pytest.raises(UserError):
            CryptoOptions(hostname=bad)


def test_ssh_policy_preset_or_path():
    assert CryptoOptions(ssh_policy="ssh-audit").ssh_policy == "ssh-audit"
    assert CryptoOptions(ssh_policy="mine.yaml").ssh_policy == Path("mine.yaml")
    assert ScanOptions(crypto=CryptoOptions(ssh_policy="ssh-audit")).to_json()["crypto"]["ssh_policy"] == "ssh-audit"
    preset = load_ssh_policy("ssh-audit")
    assert preset["source_version"].lstrip("v").startswith("3.")
    assert "ecdh-sha2-nistp256" in preset["kex"]["fail"] and preset["terrapin"] == "warn"


def test_cli_records_the_new_options(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "ev.json"
    r = subprocess.run([sys.executable, "-m", "probe", "run", "--target", "127.0.0.1", "--ports", "1",
                        "--udp-ports", "none", "--no-nmap", "--no-credentials", "--quiet", "--scan-method",
                        "connect", "--hostname", "device.test", "--ssh-policy", "ssh-audit", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 3, 4), r.stderr
    crypto = json.loads(out.read_text())["run"]["options"]["crypto"]
    assert crypto["hostname"] == "device.test" and crypto["ssh_policy"] == "ssh-audit"
