"""Fixtures and helpers for the update / exposure / declaration tests: real lighttpd on loopback, a test CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import free_port
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MIME = {".html": "text/html; charset=utf-8", ".json": "application/json", ".txt": "text/plain; charset=utf-8",
        ".xml": "text/xml"}


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(tmp: Path, ip: str = "127.0.0.1") -> dict[str, Path]:
    """A throw-away CA and a server certificate for `ip` (IP SAN), generated for this test only."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("probe test CA")).issuer_name(_name("probe test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(ip)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = tmp / "server.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ca_pem = tmp / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return {"ca": ca_pem, "server_pem": pem}


def self_signed(tmp: Path, ip: str = "127.0.0.1", *, expired: bool = False, name: str = "self") -> Path:
    """A self-signed server certificate + key (PEM, for lighttpd's ssl.pemfile), as devices ship them."""
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = (now - dt.timedelta(days=30), now - dt.timedelta(days=1)) if expired else \
        (now - dt.timedelta(minutes=5), now + dt.timedelta(days=30))
    cert = (x509.CertificateBuilder().subject_name(_name(ip)).issuer_name(_name(ip))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = tmp / f"{name}.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return pem


def basic_auth_conf(tmp: Path, prefix: str = "/admin/") -> list[str]:
    """lighttpd lines putting `prefix` behind HTTP Basic (a user with a strong password)."""
    users = tmp / "webusers"
    users.write_text("owner:Zq8-unique-device-password\n")
    return ['server.modules += ("mod_auth", "mod_authn_file")', 'auth.backend = "plain"',
            f'auth.backend.plain.userfile = "{users}"',
            f'auth.require = ("{prefix}" => ("method" => "basic", "realm" => "device", "require" => "valid-user"))']


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


@pytest.fixture
def lighttpd(daemon, tmp_path) -> Callable[..., int]:
    """Start a real lighttpd on 127.0.0.1 serving `files`; returns its port. Stopped after the test."""
    count = [0]

    def start(files: dict[str, str | bytes], *, tls_pem: Path | None = None, port: int | None = None,
              extra_conf: list[str] | None = None) -> int:
        count[0] += 1
        base = tmp_path / f"lighttpd{count[0]}"
        docroot = write_tree(base / "www", files)
        port = port or free_port()
        mimes = ", ".join(f'"{ext}" => "{t}"' for ext, t in MIME.items())
        conf = [
            f'server.document-root = "{docroot}"',
            'server.bind = "127.0.0.1"',
            f"server.port = {port}",
            f'server.errorlog = "{base}/error.log"',
            'index-file.names = ("index.html")',
            f'mimetype.assign = ({mimes}, "" => "application/json")',
            'server.tag = "lighttpd"',
        ]
        if tls_pem:
            conf += ['server.modules += ("mod_openssl")', 'ssl.engine = "enable"', f'ssl.pemfile = "{tls_pem}"']
        conf += extra_conf or []
        cf = base / "lighttpd.conf"
        cf.write_text("\n".join(conf) + "\n")
        daemon(["lighttpd", "-D", "-f", str(cf)], port)
        return port

    return start


def admin_ui(update_url: str, *, firmware_link: bool = True, extra_link: str | None = None) -> dict[str, str]:
    links = ['<a href="/status.html">Status</a>']
    if firmware_link:
        links.append('<a href="/system/firmware.html">Firmware upgrade</a>')
    if extra_link:
        links.append(f'<a href="{extra_link}">Download the latest firmware</a>')
    index = ("<!DOCTYPE html><html><head><title>EX-GW1000 Home Gateway</title>"
             '<meta name="model" content="EX-GW1000"></head><body>'
             + " | ".join(links) + "</body></html>")
    return {
        "/index.html": index,
        "/status.html": "<html><head><title>Status</title></head><body>Firmware Version: 1.2.3</body></html>",
        "/system/firmware.html": "<html><head><title>Firmware upgrade</title></head><body>"
                                 '<form action="/cgi-bin/upload" method="post"><input type="file"></form>'
                                 "</body></html>",
        "/api/version": json.dumps({"model": "EX-GW1000", "firmware_version": "1.2.3", "update_url": update_url}),
    }
