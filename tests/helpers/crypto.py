"""What the TLS and SSH judgement tests build beyond probe's lab PKI, and their server helpers.

Certificates with an arbitrary chain, validity window or signature hash (`build_cert`, e.g. an
intermediate CA, a leaf expiring tomorrow, SHA-1 signed) are built here with `cryptography`:
probe/lab/pki.py makes only the lab's own kinds. The servers are the shared loopback daemons
(tests/helpers/daemons.py), as context managers for tests that start several in turn.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from probe.context import ServiceContext
from probe.models import Finding, Service
from probe.options import CryptoOptions, SafetyOptions, ScanOptions
from probe.session import TargetSession
from probe.store import EvidenceStore
from tests.helpers.checks import connector
from tests.helpers.daemons import LEGACY_SSH, LEGACY_SSH_KEYS, LocalDaemons
from tests.helpers.ports import LOOPBACK, free_port
from tests.helpers.processes import Daemons

HOST = LOOPBACK
__all__ = ["HOST", "LEGACY_SSH", "LEGACY_SSH_KEYS", "build_cert", "connector", "dropbear", "free_port", "make_ctx",
           "run_check", "running", "s_server", "sshd", "write_pem"]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write_pem(path: Path, cert: x509.Certificate, key: Any) -> tuple[Path, Path]:
    cpath, kpath = path.with_suffix(".crt"), path.with_suffix(".key")
    cpath.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kpath.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    return cpath, kpath


def build_cert(subject: str, key: Any, *, issuer: tuple[x509.Certificate, Any] | None = None,
               days: tuple[int, int] = (-1, 90), ca: bool = False, ip: str | None = HOST,
               hash_alg: Any = None) -> x509.Certificate:
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
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                                critical=False)
        if issuer:
            b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()),
                                critical=False)
    return b.sign(signing_key, hash_alg or hashes.SHA256())


def make_ctx(port: int, protocol: str, *, host: str = HOST, tls: bool = False,
             ca_file: str | None = None) -> ServiceContext:
    """A service context of its own (its store is `ctx.store`), for tests that read it afterwards."""
    svc = Service(host=host, port=port, transport="tcp", protocol=protocol, method="connect-scan", tls=tls)
    options = ScanOptions(safety=SafetyOptions(timeout=3.0),
                          crypto=CryptoOptions(ca_file=Path(ca_file) if ca_file else None))
    return ServiceContext(TargetSession(host, options, EvidenceStore()), "test", service=svc, services=[svc])


def run_check(check_cls: Any, ctx: ServiceContext) -> list[Finding]:
    ctx.check_id = check_cls.check_id
    return list(check_cls().run(ctx))


@contextlib.contextmanager
def running(cmd: Sequence[str], port: int, *, cwd: Path | None = None) -> Iterator[Any]:
    """`cmd` started, until `port` accepts TCP; stopped when the block ends."""
    with Daemons() as group:
        yield group.start(cmd, port=port, cwd=cwd)


@contextlib.contextmanager
def s_server(cert: Path, key: Path, *args: str) -> Iterator[int]:
    with _daemons() as d:
        yield d.s_server(cert, key, *args)


@contextlib.contextmanager
def sshd(tmp: Path, config: Sequence[str], keys: Sequence[tuple[str, str]]) -> Iterator[int]:
    with LocalDaemons(tmp) as d:
        yield d.sshd(config, keys)


@contextlib.contextmanager
def dropbear(tmp: Path) -> Iterator[int]:
    with LocalDaemons(tmp) as d:
        yield d.dropbear()


@contextlib.contextmanager
def _daemons() -> Iterator[LocalDaemons]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="probe-tls-") as tmp, LocalDaemons(Path(tmp)) as d:
        yield d
