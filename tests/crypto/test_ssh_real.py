"""SSH KEXINIT reader, host-key collection and the ssh_algorithms check against real OpenSSH and
dropbear servers on loopback; ssh-audit (Debian package) as an independent cross-check."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from probe.models import Status
from probe.plugins import registry
from probe.protocols import ssh_kexinit

from .conftest import LEGACY_SSH, LEGACY_SSH_KEYS, connector, dropbear, make_ctx, run_check, sshd

pytestmark = pytest.mark.slow

LEGACY, LEGACY_KEYS = LEGACY_SSH, LEGACY_SSH_KEYS
MODERN = ["KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org",
          "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com",
          "MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
          "HostKeyAlgorithms ssh-ed25519,rsa-sha2-512,rsa-sha2-256"]
MODERN_KEYS = [("ed", "ed25519"), ("rsa", "rsa:3072")]


def test_legacy_openssh_lists_and_host_keys(tmp_path):
    with sshd(tmp_path, LEGACY, LEGACY_KEYS) as port:
        scan = ssh_kexinit.scan(connector(port), timeout=3)
    assert scan.banner is not None and scan.banner.line.startswith("SSH-2.0-OpenSSH")
    kex = scan.kexinit.get("kex_algorithms")
    for alg in ("diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1"):
        assert alg in kex
    assert {"3des-cbc", "aes128-cbc"} <= set(scan.kexinit.get("encryption_algorithms_server_to_client"))
    assert {"hmac-md5", "hmac-sha1-96"} <= set(scan.kexinit.get("mac_algorithms_client_to_server"))
    assert {"ssh-rsa", "ssh-dss"} <= set(scan.kexinit.get("server_host_key_algorithms"))
    keys = {(k.key_type, k.bits) for k in scan.host_keys}
    assert keys == {("ssh-rsa", 1024), ("ssh-dss", 1024), ("ecdsa-sha2-nistp256", 256), ("ssh-ed25519", 256)}
    assert not scan.host_key_errors


@pytest.mark.parametrize("kex", ["diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1",
                                 "diffie-hellman-group-exchange-sha1", "diffie-hellman-group-exchange-sha256",
                                 "ecdh-sha2-nistp256", "ecdh-sha2-nistp521", "curve25519-sha256@libssh.org"])
def test_every_implemented_kex_reads_the_host_key(tmp_path, kex):
    """Each partial key exchange we implement works against real OpenSSH (incl. SHA-1 ones that
    paramiko 5 refuses)."""
    with sshd(tmp_path, LEGACY, [("rsa", "rsa:1024")]) as port:
        first = ssh_kexinit.read_kexinit(connector(port), timeout=3)
        hk = ssh_kexinit.fetch_host_key(connector(port), first.kexinit, "ssh-rsa", timeout=5, kex=kex)
    assert (hk.key_type, hk.bits, hk.kex) == ("ssh-rsa", 1024, kex)


def test_legacy_openssh_check_fails_with_artefacts(tmp_path):
    with sshd(tmp_path, LEGACY, LEGACY_KEYS) as port:
        ctx = make_ctx(port, "ssh")
        [f] = run_check(registry()["ssh_algorithms"], ctx)
    assert f.status is Status.FAIL
    fails = {(v["rule"], v["item"]) for v in f.details["violations"] if v["severity"] == "fail"}
    assert {("kex.fail", "diffie-hellman-group1-sha1"), ("kex.fail", "diffie-hellman-group14-sha1"),
            ("ciphers.fail", "3des-cbc"), ("macs.fail", "hmac-md5"), ("macs.fail", "hmac-sha1-96"),
            ("host_key_algorithms.fail", "ssh-rsa"), ("host_key_algorithms.fail", "ssh-dss"),
            ("host_keys.min_rsa_bits", "ssh-rsa"), ("host_keys.disallowed_types", "ssh-dss")} <= fails
    kinds = {ctx.store.artefacts[a].kind: ctx.store.artefacts[a] for a in f.artefacts}
    assert kinds["kexinit"].data[0] == 20
    assert kinds["banner"].data.startswith(b"SSH-2.0-OpenSSH")
    # paramiko 5 can still talk to this server through its modern algorithms, so methods are listed
    assert "password" in (f.details["auth_methods"] or []) or "publickey" in (f.details["auth_methods"] or [])


def test_modern_openssh_passes_and_lists_auth_methods(tmp_path):
    with sshd(tmp_path, MODERN + ["PasswordAuthentication no"], MODERN_KEYS) as port:
        [f] = run_check(registry()["ssh_algorithms"], make_ctx(port, "ssh"))
    assert f.status is Status.PASS, f.summary
    keys = {(k["key_type"], k["bits"]) for k in f.details["scan"]["host_keys"]}
    assert keys == {("ssh-ed25519", 256), ("ssh-rsa", 3072)}
    assert "password" not in f.details["auth_methods"] and "publickey" in f.details["auth_methods"]


def test_legacy_only_openssh_auth_methods_unlisted_with_reason(tmp_path):
    """A server speaking only SHA-1 kex: paramiko 5 cannot negotiate; we still audit it and say why
    the authentication methods are missing."""
    cfg = ["KexAlgorithms diffie-hellman-group14-sha1", "HostKeyAlgorithms ssh-rsa", "Ciphers aes128-cbc",
           "MACs hmac-sha1"]
    with sshd(tmp_path, cfg, [("rsa", "rsa:2048")]) as port:
        [f] = run_check(registry()["ssh_algorithms"], make_ctx(port, "ssh"))
    assert f.status is Status.FAIL
    assert f.details["scan"]["host_keys"] == [{"algorithm": "ssh-rsa", "key_type": "ssh-rsa", "bits": 2048,
                                               "kex": "diffie-hellman-group14-sha1",
                                               "signature_algorithms": ["ssh-rsa"]}]
    assert f.details["auth_methods"] is None
    assert "could not negotiate" in f.details["auth_methods_note"]


def test_dropbear_kexinit_and_host_keys(tmp_path):
    with dropbear(tmp_path) as port:
        scan = ssh_kexinit.scan(connector(port), timeout=3)
        [f] = run_check(registry()["ssh_algorithms"], make_ctx(port, "ssh"))
    assert scan.banner.software.startswith("dropbear")
    assert {(k.key_type, k.bits) for k in scan.host_keys} == {("ssh-ed25519", 256), ("ssh-rsa", 2048)}
    assert f.status in (Status.PASS, Status.FAIL)
    # the verdict follows the policy applied to what dropbear really offers
    offers_bad = any(v["severity"] == "fail" for v in f.details["violations"])
    assert (f.status is Status.FAIL) == offers_bad


@pytest.mark.skipif(shutil.which("ssh-audit") is None, reason="ssh-audit not installed")
def test_cross_check_with_ssh_audit(tmp_path):
    with sshd(tmp_path, LEGACY, LEGACY_KEYS) as port:
        scan = ssh_kexinit.scan(connector(port), timeout=3)
        out = subprocess.run(["ssh-audit", "-j", "-n", f"127.0.0.1:{port}"], capture_output=True, text=True,
                             timeout=60).stdout
    ref = json.loads(out)
    names = lambda key: [a["algorithm"] if isinstance(a, dict) else a for a in ref[key]]  # noqa: E731
    assert names("kex") == scan.kexinit.get("kex_algorithms")
    assert names("enc") == scan.kexinit.get("encryption_algorithms_client_to_server")
    assert names("mac") == scan.kexinit.get("mac_algorithms_client_to_server")
    assert set(names("key")) <= set(scan.kexinit.get("server_host_key_algorithms"))
    ref_rsa = [k for k in ref["key"] if k["algorithm"] in ("ssh-rsa", "rsa-sha2-512") and "keysize" in k]
    if ref_rsa:
        assert ref_rsa[0]["keysize"] == next(k.bits for k in scan.host_keys if k.key_type == "ssh-rsa")
