"""Certificates for lab devices, made fresh at every lab-up with the `cryptography` library.

Three kinds on purpose: a per-instance lab CA that signs good leaf certificates (hardened devices;
tests trust the CA file), deliberately bad self-signed ones (weak devices: short RSA key, already
expired) that an auditor must flag, and the sound self-signed certificate a consumer router makes
for itself on first boot (RSA-2048, SHA-256, long-lived, named for its LAN host names), which no
crypto policy fails for being self-signed when the manufacturer provisions no CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(path: Path, cert: x509.Certificate, key: PrivateKey) -> Issued:
    path.parent.mkdir(parents=True, exist_ok=True)
    crt = path.with_suffix(".crt")
    keyf = path.with_suffix(".key")
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyf.touch(mode=0o600)
    keyf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    return Issued(crt, keyf)


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(path: Path, label: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"probe lab CA ({label})", "probe device lab")
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return _write(path, cert, key)


def _load(issued: Issued) -> tuple[x509.Certificate, PrivateKey]:
    cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    key = serialization.load_pem_private_key(issued.key.read_bytes(), password=None)
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return cert, key


def make_leaf(path: Path, ca: Issued, cn: str, ip: str | None, org: str, client: bool = False) -> Issued:
    """A good certificate: ECDSA P-256, SHA-256, 30 days, SAN with the device's IP."""
    ca_cert, ca_key = _load(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (x509.CertificateBuilder().subject_name(_name(cn, org)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    return _write(path, builder.sign(ca_key, hashes.SHA256()), key)


def make_weak_self_signed(path: Path, cn: str, ip: str | None, org: str, bits: int = 1024,
                          expired: bool = True) -> Issued:
    """A bad certificate on purpose: self-signed, RSA-`bits`, expired when asked.

    Signed with SHA-256: the `cryptography` build here refuses SHA-1 signatures, and the short key,
    self-signature and expiry are already three independent faults for an auditor to find.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    now = _now()
    if expired:
        start, end = now - dt.timedelta(days=3 * 365), now - dt.timedelta(days=365)
    else:
        start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=20 * 365)
    name = _name(cn, org)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end))
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    return _write(path, builder.sign(key, hashes.SHA256()), key)


def make_self_signed(path: Path, cn: str, org: str, dns_names: list[str], ip: str | None = None,
                     bits: int = 2048, days: int = 7300) -> Issued:
    """A router's own certificate: self-signed, RSA-`bits`, SHA-256, valid `days` from yesterday.

    Named the way shipped routers name it (their LAN host names, often not the IP address a
    scanner uses); `ip` adds an IP SAN when given.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    now = _now()
    name = _name(cn, org)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    if ip:
        sans.append(x509.IPAddress(ipaddress.ip_address(ip)))
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _write(path, builder.sign(key, hashes.SHA256()), key)
