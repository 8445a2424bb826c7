"""Issue 13's SSH judgements against real servers: Terrapin exposure (TinySSH 20230101, Debian 12's
tinysshd, predates strict key exchange; OpenSSH 9.2p1 and dropbear 2022.83 in Debian 12 have it),
DH group-exchange moduli (OpenSSH with a small ModuliFile; paramiko's server, which hands out
whatever its moduli file holds), host key signature algorithm names, and the ssh-audit preset."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.compliance.cryptopolicy import load_ssh_policy
from probe.models import Status
from probe.options import CryptoOptions, SafetyOptions, ScanOptions
from probe.plugins import registry
from probe.protocols import ssh_kexinit
from tests.helpers import tinyssh
from tests.helpers.crypto import HOST, connector, dropbear, free_port, running, sshd

pytestmark = pytest.mark.slow


def ssh_ctx(port: int, policy: str | None = None):
    from probe.context import ServiceContext
    from probe.models import Service
    from probe.session import TargetSession
    from probe.store import EvidenceStore

    svc = Service(host=HOST, port=port, transport="tcp", protocol="ssh", method="connect-scan")
    opts = ScanOptions(safety=SafetyOptions(timeout=3.0), crypto=CryptoOptions(ssh_policy=policy))
    ctx = ServiceContext(TargetSession(HOST, opts, EvidenceStore()), "ssh_algorithms", service=svc, services=[svc])
    return ctx


def run_ssh(port: int, policy: str | None = None):
    [f] = list(registry()["ssh_algorithms"]().run(ssh_ctx(port, policy)))
    return f


@contextlib.contextmanager
def tinysshd(tmp: Path, connections: int = 12) -> Iterator[int]:
    if not tinyssh.installed():
        pytest.skip("tinysshd not installed (scripts/setup-system.sh)")
    with tinyssh.tinysshd(tmp, connections) as port:
        yield port


# -- Terrapin ------------------------------------------------------------------------------------
def test_tinyssh_without_strict_kex_is_terrapin_vulnerable(tmp_path):
    with tinysshd(tmp_path) as port:
        f = run_ssh(port)
        preset = run_ssh(port, "ssh-audit")
    assert f.details["scan"]["banner"].startswith("SSH-2.0-tinyssh_20230101")
    t = f.details["scan"]["terrapin"]
    assert t["vulnerable"] is True and t["strict_kex"] is False
    assert t["chacha20_poly1305"] == ["chacha20-poly1305@openssh.com"]
    assert f.status is Status.FAIL
    assert [v["rule"] for v in f.details["violations"] if v["severity"] == "fail"] == ["terrapin"]
    assert f.summary.startswith("vulnerable to the Terrapin attack (CVE-2023-48795): it offers "
                                "chacha20-poly1305@openssh.com without strict key exchange")
    # ssh-audit classes Terrapin as a warning, and so does its preset
    assert any(v["rule"] == "terrapin" and v["severity"] == "warn" for v in preset.details["violations"])


def test_openssh_strict_kex_with_chacha_is_not_terrapin_vulnerable(tmp_path):
    cfg = ["Ciphers chacha20-poly1305@openssh.com,aes128-cbc", "MACs hmac-sha2-256-etm@openssh.com",
           "KexAlgorithms curve25519-sha256"]
    with sshd(tmp_path, cfg, [("ed", "ed25519")]) as port:
        f = run_ssh(port)
    t = f.details["scan"]["terrapin"]
    assert t["strict_kex"] is True and t["vulnerable"] is False
    assert t["cbc_ciphers"] == ["aes128-cbc"] and t["etm_macs"] == ["hmac-sha2-256-etm@openssh.com"]
    assert "terrapin" not in {v["rule"] for v in f.details["violations"]}
    # CBC still fails on its own rule, with the reason in the finding
    assert f.status is Status.FAIL
    assert f.summary.startswith("cipher aes128-cbc is offered (CBC mode")


def test_dropbear_has_strict_kex(tmp_path):
    with dropbear(tmp_path) as port:
        f = run_ssh(port)
    assert f.details["scan"]["terrapin"]["strict_kex"] is True
    assert f.details["scan"]["terrapin"]["vulnerable"] is False


# -- DH group exchange ---------------------------------------------------------------------------
def _moduli(tmp: Path, bits: tuple[int, ...]) -> Path:
    """An OpenSSH moduli(5) file holding the RFC 2409/3526 MODP groups of the given sizes (safe
    primes, generator 2), computed from their definition rather than generated (minutes)."""
    primes = {1024: ssh_kexinit._modp(1024, 129093), 2048: ssh_kexinit._modp(2048, 124476)}
    path = tmp / f"moduli-{'-'.join(map(str, bits))}"
    path.write_text("".join(f"20240101000000 2 6 100 {b - 1} 2 {primes[b]:X}\n" for b in bits))
    return path


def test_openssh_with_small_moduli_file_hands_out_2048(tmp_path):
    """OpenSSH with a ModuliFile holding only 1024- and 2048-bit groups: it never goes under its
    2048-bit floor, so a client asking for 3072 gets 2048 (Debian's moduli file would give 3072).
    The built-in policy passes 2048; the ssh-audit preset warns, as ssh-audit does."""
    small = ["KexAlgorithms diffie-hellman-group-exchange-sha256", f"ModuliFile {_moduli(tmp_path, (1024, 2048))}"]
    with sshd(tmp_path, small, [("ed", "ed25519")]) as port:
        f = run_ssh(port)
        preset = run_ssh(port, "ssh-audit")
    (tmp_path / "default").mkdir()
    gex_only = ["KexAlgorithms diffie-hellman-group-exchange-sha256"]
    with sshd(tmp_path / "default", gex_only, [("ed", "ed25519")]) as port:
        default = run_ssh(port)
    assert [g["modulus_bits"] for g in f.details["scan"]["gex"]] == [2048, 2048]
    assert f.status is Status.PASS, f.summary
    assert "group exchange moduli 2048, 2048 bits" in f.summary
    assert {(v["rule"], v["severity"]) for v in preset.details["violations"] if v["rule"].startswith("gex")} == {
        ("gex.warn_below_bits", "warn")}
    assert default.details["scan"]["gex"][0]["modulus_bits"] == 3072


def test_server_handing_out_1024_bit_moduli_fails(tmp_path):
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).with_name("paramiko_gex_server.py")), str(port),
           str(_moduli(tmp_path, (1024,))), "10"]
    with running(cmd, port):
        f = run_ssh(port)
    assert [g["modulus_bits"] for g in f.details["scan"]["gex"]] == [1024, 1024]
    assert f.status is Status.FAIL
    rules = [(v["rule"], v["item"]) for v in f.details["violations"]]
    assert ("gex.min_modulus_bits", "diffie-hellman-group-exchange-sha256 1024") in rules
    assert "hands out a 1024-bit modulus for a request of 2048/3072/8192 bits" in f.summary
    assert f.details["scan"]["connections"] <= 1 + 1 + 2  # KEXINIT, one host key, two GEX requests


# -- host key signature algorithm names ----------------------------------------------------------
def test_rsa_key_without_sha1_signatures_is_not_ssh_rsa(tmp_path):
    cfg = ["HostKeyAlgorithms rsa-sha2-512,rsa-sha2-256", "KexAlgorithms curve25519-sha256"]
    with sshd(tmp_path, cfg, [("rsa", "rsa:3072")]) as port:
        f = run_ssh(port)
    [hk] = f.details["scan"]["host_keys"]
    assert hk["key_type"] == "ssh-rsa"  # the key's type name ...
    assert hk["signature_algorithms"] == ["rsa-sha2-512", "rsa-sha2-256"]  # ... not the SHA-1 algorithm
    assert f.status is Status.PASS, f.summary
    assert "RSA 3072-bit key (signatures: rsa-sha2-512, rsa-sha2-256)" in f.summary


def test_sha1_ssh_rsa_signatures_are_named_as_such(tmp_path):
    cfg = ["HostKeyAlgorithms rsa-sha2-256,ssh-rsa", "KexAlgorithms curve25519-sha256"]
    with sshd(tmp_path, cfg, [("rsa", "rsa:3072")]) as port:
        f = run_ssh(port)
    assert f.status is Status.FAIL
    assert f.details["scan"]["host_keys"][0]["signature_algorithms"] == ["rsa-sha2-256", "ssh-rsa"]
    assert f.summary.startswith("host key signature algorithm ssh-rsa is offered (RSA signatures with SHA-1")


# -- the ssh-audit preset ------------------------------------------------------------------------
def test_ssh_audit_preset_follows_its_classes(tmp_path):
    """Debian's default OpenSSH: the built-in policy passes it; ssh-audit (and its preset) fail the
    NIST-curve key exchange and host key algorithms and warn about encrypt-and-MAC MACs."""
    with sshd(tmp_path, [], [("ed", "ed25519"), ("ecdsa", "ecdsa:256")]) as port:
        builtin = run_ssh(port)
        preset = run_ssh(port, "ssh-audit")
    assert builtin.status is Status.PASS, builtin.summary
    assert preset.status is Status.FAIL
    fails = {v["item"] for v in preset.details["violations"] if v["severity"] == "fail"}
    assert {"ecdh-sha2-nistp256", "ecdsa-sha2-nistp256"} <= fails
    warns = {v["item"] for v in preset.details["violations"] if v["severity"] == "warn"}
    assert "hmac-sha2-256" in warns
    assert preset.details["policy"]["name"] == load_ssh_policy("ssh-audit")["name"]


@pytest.mark.skipif(shutil.which("ssh-audit") is None, reason="ssh-audit not installed")
def test_ssh_audit_preset_agrees_with_ssh_audit_on_failures(tmp_path):
    """Cross-check with the ssh-audit installed here (Debian 12 ships 2.5): every algorithm it
    fails is failed by the preset too (3.9 classes are a superset: it added the NIST curves)."""
    import re

    from tests.helpers.crypto import LEGACY_SSH, LEGACY_SSH_KEYS

    with sshd(tmp_path, LEGACY_SSH, LEGACY_SSH_KEYS) as port:
        preset = run_ssh(port, "ssh-audit")
        out = subprocess.run(["ssh-audit", "-n", "-p", str(port), HOST], capture_output=True, text=True,
                             timeout=60).stdout
    # 2.5's JSON has no classes; its text lines read "(kex) NAME -- [fail] reason"
    ref_fail = set(re.findall(r"^\((?:kex|key|enc|mac)\) (\S+)\s+-- \[fail\]", out, re.M))
    ours = {v["item"] for v in preset.details["violations"] if v["severity"] == "fail"}
    warned = {v["item"] for v in preset.details["violations"] if v["severity"] == "warn"}
    assert ref_fail, out[:400]
    # ssh-audit 3.x moved AES-CBC from fail to warn (cipher mode only); everything else agrees
    moved = {a for a in ref_fail if a.startswith("aes") and a.endswith("-cbc")}
    assert ref_fail - moved <= ours, (ref_fail - moved) - ours
    assert moved <= warned


def test_connect_helper_is_loopback_only():
    assert connector(1)  # the helpers above only ever use HOST
    assert HOST == "127.0.0.1"
