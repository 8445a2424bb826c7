"""SSH KEXINIT reader, host-key collection and the ssh_algorithms check against real OpenSSH and
dropbear servers on loopback; ssh-audit (Debian package) as an independent cross-check."""

from __future__ import annotations

import json
import subprocess

import pytest

from probe.models import Status
from probe.protocols import ssh_kexinit
from tests.helpers.checks import check_service, connector, one
from tests.helpers.daemons import LocalDaemons
from tests.helpers.processes import require

pytestmark = pytest.mark.slow

MODERN = ["KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org",
          "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com",
          "MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
          "HostKeyAlgorithms ssh-ed25519,rsa-sha2-512,rsa-sha2-256"]
MODERN_KEYS = [("ed", "ed25519"), ("rsa", "rsa:3072")]


def test_legacy_openssh_lists_and_host_keys(legacy_sshd: int) -> None:
    scan = ssh_kexinit.scan(connector(legacy_sshd), timeout=3)
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
def test_every_implemented_kex_reads_the_host_key(legacy_sshd: int, kex: str) -> None:
    """Each partial key exchange we implement works against real OpenSSH (incl. SHA-1 ones that
    paramiko 5 refuses)."""
    first = ssh_kexinit.read_kexinit(connector(legacy_sshd), timeout=3)
    hk = ssh_kexinit.fetch_host_key(connector(legacy_sshd), first.kexinit, "ssh-rsa", timeout=5, kex=kex)
    assert (hk.key_type, hk.bits, hk.kex) == ("ssh-rsa", 1024, kex)


def test_legacy_openssh_check_fails_with_artefacts(legacy_sshd: int) -> None:
    found, store = check_service("ssh_algorithms", legacy_sshd, "ssh")
    f = one(found)
    assert f.status is Status.FAIL
    fails = {(v["rule"], v["item"]) for v in f.details["violations"] if v["severity"] == "fail"}
    assert {("kex.fail", "diffie-hellman-group1-sha1"), ("kex.fail", "diffie-hellman-group14-sha1"),
            ("ciphers.fail", "3des-cbc"), ("macs.fail", "hmac-md5"), ("macs.fail", "hmac-sha1-96"),
            ("host_key_algorithms.fail", "ssh-rsa"), ("host_key_algorithms.fail", "ssh-dss"),
            ("host_keys.min_rsa_bits", "ssh-rsa"), ("host_keys.disallowed_types", "ssh-dss")} <= fails
    kinds = {store.artefacts[a].kind: store.artefacts[a] for a in f.artefacts}
    assert kinds["kexinit"].data[0] == 20
    assert kinds["banner"].data.startswith(b"SSH-2.0-OpenSSH")


def test_modern_openssh_passes(daemons: LocalDaemons) -> None:
    port = daemons.sshd(MODERN + ["PasswordAuthentication no"], MODERN_KEYS)
    f = one(check_service("ssh_algorithms", port, "ssh")[0])
    assert f.status is Status.PASS, f.summary
    keys = {(k["key_type"], k["bits"]) for k in f.details["scan"]["host_keys"]}
    assert keys == {("ssh-ed25519", 256), ("ssh-rsa", 3072)}
    assert "auth_methods" not in f.details  # default_credentials lists them (tests/auth), not the crypto audit


def test_legacy_only_openssh_is_audited(legacy_only_sshd: int) -> None:
    """A server speaking only SHA-1 kex, which paramiko 5 cannot negotiate: our own partial key
    exchange still reads its host key and fails it."""
    f = one(check_service("ssh_algorithms", legacy_only_sshd, "ssh")[0])
    assert f.status is Status.FAIL
    assert f.details["scan"]["host_keys"] == [{"algorithm": "ssh-rsa", "key_type": "ssh-rsa", "bits": 2048,
                                               "kex": "diffie-hellman-group14-sha1",
                                               "signature_algorithms": ["ssh-rsa"]}]


def test_dropbear_kexinit_and_host_keys(daemons: LocalDaemons) -> None:
    port = daemons.dropbear()
    scan = ssh_kexinit.scan(connector(port), timeout=3)
    f = one(check_service("ssh_algorithms", port, "ssh")[0])
    assert scan.banner.software.startswith("dropbear")
    assert {(k.key_type, k.bits) for k in scan.host_keys} == {("ssh-ed25519", 256), ("ssh-rsa", 2048)}
    assert scan.connections == 2  # the first host key is read on the KEXINIT's own connection
    # its evidence stays the banner and KEXINIT: the key exchange read after them is not in it
    assert scan.transcript.startswith(b"SSH-2.0-dropbear")
    assert all(k.blob not in scan.transcript for k in scan.host_keys)
    # Debian 12's dropbear 2022.83 still offers SHA-1 group14 key exchange and (with an RSA host key)
    # ssh-rsa signatures; the built-in policy fails both and only warns about hmac-sha1
    assert "diffie-hellman-group14-sha1" in scan.kexinit.get("kex_algorithms")
    assert "ssh-rsa" in scan.kexinit.get("server_host_key_algorithms")
    assert f.status is Status.FAIL
    fails = {(v["rule"], v["item"]) for v in f.details["violations"] if v["severity"] == "fail"}
    assert fails == {("kex.fail", "diffie-hellman-group14-sha1"), ("host_key_algorithms.fail", "ssh-rsa")}


def test_cross_check_with_ssh_audit(legacy_sshd: int) -> None:
    require("ssh-audit")
    scan = ssh_kexinit.scan(connector(legacy_sshd), timeout=3)
    out = subprocess.run(["ssh-audit", "-j", "-n", f"127.0.0.1:{legacy_sshd}"], capture_output=True, text=True,
                         timeout=60).stdout
    ref = json.loads(out)

    def names(key: str) -> list[str]:
        return [a["algorithm"] if isinstance(a, dict) else a for a in ref[key]]

    assert names("kex") == scan.kexinit.get("kex_algorithms")
    assert names("enc") == scan.kexinit.get("encryption_algorithms_client_to_server")
    assert names("mac") == scan.kexinit.get("mac_algorithms_client_to_server")
    assert set(names("key")) <= set(scan.kexinit.get("server_host_key_algorithms"))
    ref_rsa = {k["keysize"] for k in ref["key"] if k["algorithm"] in ("ssh-rsa", "rsa-sha2-512", "rsa-sha2-256")}
    assert ref_rsa == {next(k.bits for k in scan.host_keys if k.key_type == "ssh-rsa")} == {1024}


def test_the_audit_needs_no_ssh_client_library(daemons: LocalDaemons) -> None:
    """The whole ssh_algorithms check against dropbear, in a fresh interpreter as the plugin API
    runs it (bench/probe_checks_only.py): a verdict, and neither paramiko (a full client handshake
    and ~70 ms of imports) nor cryptography (~20 ms) is loaded: both count in issue 13's
    per-service timing."""
    import sys

    port = daemons.dropbear()
    code = ("import json, sys\nfrom probe.api import Service, run_single_check\n"
            f"svc = Service(host='127.0.0.1', port={port}, transport='tcp', protocol='ssh', method='given')\n"
            "found, _ = run_single_check('ssh_algorithms', '127.0.0.1', [svc], service=svc)\n"
            "print(json.dumps([str(f.status) for f in found])); print(json.dumps(sorted(sys.modules)))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    statuses, mods = (json.loads(line) for line in r.stdout.strip().splitlines()[-2:])
    assert statuses == ["FAIL"]  # dropbear 2022.83 offers SHA-1 group14 kex (see the test above)
    assert not [m for m in mods if m == "paramiko" or m.startswith("paramiko.")]
    # dropbear offers curve25519: our half of it is the base point, so no key is generated either
    assert not [m for m in mods if m == "cryptography" or m.startswith("cryptography.")]
