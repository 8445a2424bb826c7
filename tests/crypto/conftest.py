"""Fixtures that start REAL TLS and SSH servers on 127.0.0.1 (random ports, temp dirs) and always
stop them, plus tiny scripted peers for hostile-behaviour tests of the protocol readers."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from probe.context import ServiceContext
from probe.models import Service
from probe.options import CryptoOptions, SafetyOptions, ScanOptions
from probe.session import TargetSession
from probe.store import EvidenceStore

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        with contextlib.suppress(OSError):
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


@contextlib.contextmanager
def running(cmd: list[str], port: int, *, cwd: Path | None = None,
            probe_port: bool = True) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        if probe_port:
            wait_port(port, proc)
        else:
            time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()


def make_ctx(port: int, protocol: str, *, host: str = HOST, tls: bool = False,
             ca_file: str | None = None) -> ServiceContext:
    svc = Service(host=host, port=port, transport="tcp", protocol=protocol, method="connect-scan", tls=tls)
    options = ScanOptions(safety=SafetyOptions(timeout=3.0),
                          crypto=CryptoOptions(ca_file=Path(ca_file) if ca_file else None))
    return ServiceContext(TargetSession(host, options, EvidenceStore()), "test", service=svc, services=[svc])


def run_check(check_cls, ctx: ServiceContext):
    ctx.check_id = check_cls.check_id
    return list(check_cls().run(ctx))


def connector(port: int, timeout: float = 3.0) -> Callable:
    return lambda: contextlib.closing(socket.create_connection((HOST, port), timeout=timeout))


# -- certificates -------------------------------------------------------------------------------
def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write_pem(path: Path, cert: x509.Certificate, key) -> tuple[Path, Path]:
    cpath, kpath = path.with_suffix(".crt"), path.with_suffix(".key")
    cpath.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kpath.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    return cpath, kpath


def build_cert(subject: str, key, *, issuer: tuple[x509.Certificate, object] | None = None,
               days: tuple[int, int] = (-1, 90), ca: bool = False, ip: str | None = HOST,
               hash_alg=None) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name = issuer[0].subject if issuer else _name(subject)
    signing_key = issuer[1] if issuer else key
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now + dt.timedelta(days=days[0])).not_valid_after(now + dt.timedelta(days=days[1]))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        if ip:
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
        if issuer:
            b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()),
                                critical=False)
    return b.sign(signing_key, hash_alg or hashes.SHA256())


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A test CA, a CA-signed P-256 server cert, an expired one, and a legacy RSA-1024/SHA-1 one
    made with `openssl req` (the way an old device firmware would have)."""
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build_cert("probe test CA", ca_key, ca=True, days=(-1, 3650), ip=None)
    out: dict[str, Path] = {}
    out["ca"], _ = write_pem(d / "ca", ca, ca_key)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    out["modern_crt"], out["modern_key"] = write_pem(d / "modern", build_cert("device.test", leaf_key,
                                                                              issuer=(ca, ca_key)), leaf_key)
    exp_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    out["expired_crt"], out["expired_key"] = write_pem(
        d / "expired", build_cert("expired.test", exp_key, issuer=(ca, ca_key), days=(-400, -30)), exp_key)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:1024", "-sha1", "-nodes", "-days", "30",
                    "-subj", "/CN=legacy-device", "-keyout", str(d / "legacy.key"), "-out", str(d / "legacy.crt")],
                   check=True, capture_output=True)
    out["legacy_crt"], out["legacy_key"] = d / "legacy.crt", d / "legacy.key"
    return out


@contextlib.contextmanager
def s_server(cert: Path, key: Path, *args: str) -> Iterator[int]:
    port = free_port()
    cmd = ["openssl", "s_server", "-accept", f"{HOST}:{port}", "-cert", str(cert), "-key", str(key), "-quiet", *args]
    with running(cmd, port):
        yield port


# -- SSH ----------------------------------------------------------------------------------------
LEGACY_SSH = ["KexAlgorithms +diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,"
              "diffie-hellman-group-exchange-sha1",
              "Ciphers +3des-cbc,aes128-cbc", "MACs +hmac-md5,hmac-sha1-96", "HostKeyAlgorithms +ssh-rsa,ssh-dss"]
LEGACY_SSH_KEYS = [("rsa", "rsa:1024"), ("dsa", "dsa"), ("ecdsa", "ecdsa:256"), ("ed", "ed25519")]

def _ensure_privsep_dir() -> None:
    # OpenSSH run as root needs its (empty) privilege-separation directory, normally made by systemd.
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)


@contextlib.contextmanager
def sshd(tmp: Path, config: list[str], keys: list[tuple[str, str]]) -> Iterator[int]:
    """OpenSSH `sshd -D` on 127.0.0.1:<random> with its own host keys and config."""
    if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
        pytest.skip("sshd not installed")
    if os.geteuid() != 0:
        pytest.skip("OpenSSH server tests need root (privilege separation)")
    _ensure_privsep_dir()
    lines = []
    for name, spec in keys:
        ktype, _, bits = spec.partition(":")
        path = tmp / f"hk_{name}"
        cmd = ["ssh-keygen", "-q", "-t", ktype, "-N", "", "-f", str(path)] + (["-b", bits] if bits else [])
        subprocess.run(cmd, check=True, capture_output=True)
        lines.append(f"HostKey {path}")
    port = free_port()
    cfg = tmp / "sshd_config"
    cfg.write_text("\n".join(lines + ["PidFile none", "UsePAM no", f"ListenAddress {HOST}", f"Port {port}",
                                      *config]) + "\n")
    with running(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)], port):
        yield port


@contextlib.contextmanager
def dropbear(tmp: Path) -> Iterator[int]:
    if shutil.which("dropbear") is None and not Path("/usr/sbin/dropbear").exists():
        pytest.skip("dropbear not installed")
    key = tmp / "dropbear_ed25519"
    subprocess.run(["dropbearkey", "-t", "ed25519", "-f", str(key)], check=True, capture_output=True)
    rsa_key = tmp / "dropbear_rsa"
    subprocess.run(["dropbearkey", "-t", "rsa", "-s", "2048", "-f", str(rsa_key)], check=True, capture_output=True)
    port = free_port()
    with running(["/usr/sbin/dropbear", "-F", "-E", "-p", f"{HOST}:{port}", "-r", str(key), "-r", str(rsa_key),
                  "-P", str(tmp / "dropbear.pid")], port):
        yield port


# -- scripted hostile peers ----------------------------------------------------------------------
@contextlib.contextmanager
def scripted_peer(behaviour: Callable[[socket.socket], None], connections: int = 20) -> Iterator[int]:
    """A loopback listener that runs `behaviour` on each accepted connection (for misbehaviour
    tests: garbage, stalls, floods). Stops when the test ends."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((HOST, 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        handled = 0
        while not stop.is_set() and handled < connections:
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            handled += 1
            threading.Thread(target=_run, args=(conn,), daemon=True).start()

    def _run(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(5)
            behaviour(conn)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        srv.close()
