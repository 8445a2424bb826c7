"""Certificates for test servers, made with probe's own lab PKI (probe/lab/pki.py).

One throw-away CA per test session signs the good leaf certificates; the bad ones are what an
auditor must flag: an expired self-signed RSA-2048 one (probe's weak-certificate maker), and a
legacy RSA-1024/SHA-1 one made with `openssl req`, the way old device firmware made them (the
`cryptography` build here refuses SHA-1 signatures, so probe's code cannot make that one).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from probe.lab.pki import Issued, make_ca, make_leaf, make_weak_self_signed

ORG = "probe tests"


@dataclass(frozen=True)
class TestPKI:
    ca: Path  # the CA certificate (PEM): what a test passes as --ca-file
    modern: Issued  # ECDSA P-256 leaf for 127.0.0.1, signed by the CA
    expired: Issued  # RSA-2048, self-signed, expired
    legacy: Issued  # RSA-1024, SHA-1, self-signed

    __test__ = False  # a data class, not a test case for pytest to collect


def server_pem(issued: Issued, path: Path) -> Path:
    """Certificate and key in one PEM file (lighttpd's ssl.pemfile)."""
    path.write_bytes(issued.cert.read_bytes() + issued.key.read_bytes())
    return path


def make_test_pki(directory: Path, ip: str = "127.0.0.1") -> TestPKI:
    ca = make_ca(directory / "ca", "tests")
    modern = make_leaf(directory / "modern", ca, "device.test", ip, ORG)
    expired = make_weak_self_signed(directory / "expired", "expired.test", ip, ORG, bits=2048, expired=True)
    legacy = Issued(directory / "legacy.crt", directory / "legacy.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:1024", "-sha1", "-nodes", "-days", "30",
                    "-subj", "/CN=legacy-device", "-keyout", str(legacy.key), "-out", str(legacy.cert)],
                   check=True, capture_output=True, timeout=60)
    return TestPKI(ca.cert, modern, expired, legacy)


def self_signed(directory: Path, ip: str = "127.0.0.1", *, expired: bool = False, name: str = "self") -> Path:
    """A device's own ECDSA P-256 certificate for `ip`, self-signed, with its key in one PEM (lighttpd's
    ssl.pemfile), as devices ship them; valid for 30 days, or expired yesterday."""
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = ((now - dt.timedelta(days=30), now - dt.timedelta(days=1)) if expired
                  else (now - dt.timedelta(minutes=5), now + dt.timedelta(days=30)))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = directory / f"{name}.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return pem
