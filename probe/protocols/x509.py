"""Certificate facts with `cryptography`: what the key, signature, dates and names are.

Observations only; `probe.compliance.cryptopolicy` judges them. Parsing never raises for a device's bytes:
a certificate `cryptography` cannot read becomes a CertInfo with `parse_error` set.

Chain validation uses `cryptography.x509.verification` (PolicyBuilder, the WebPKI profile) when
the operator gives a CA bundle. That profile checks names too and needs a SAN, so to separate
"does it chain to your CA" from "is it issued for this address", the chain is verified against
a name the leaf itself carries, and the address match is computed here on its own.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa


@dataclass
class CertInfo:
    der: bytes
    parse_error: str = ""
    subject: str = ""
    issuer: str = ""
    serial: str = ""
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    key_type: str = ""  # RSA | EC | DSA | Ed25519 | Ed448 | unknown
    key_size: int = 0
    curve: str = ""
    signature_algorithm: str = ""  # e.g. sha1WithRSAEncryption
    signature_hash: str = ""  # sha1 | sha256 | md5 | ... ("" for EdDSA)
    self_issued: bool = False  # subject == issuer
    self_signed: bool = False  # self-issued and the signature verifies with its own key
    is_ca: bool = False
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    sha256: str = ""
    pem: str = ""

    def expired(self, now: dt.datetime) -> bool:
        return self.not_after is not None and now > self.not_after

    def not_yet_valid(self, now: dt.datetime) -> bool:
        return self.not_before is not None and now < self.not_before

    @property
    def lifetime_days(self) -> int | None:
        if self.not_before is None or self.not_after is None:
            return None
        return (self.not_after - self.not_before).days

    def matches_ip(self, ip: str) -> bool:
        """True when the SANs name this IP (CN is not used for IPs, as browsers do)."""
        try:
            want = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(ipaddress.ip_address(a) == want for a in self.ip_addresses)

    def matches_hostname(self, hostname: str) -> bool:
        """True when a DNS SAN names `hostname` (RFC 6125: a wildcard covers one left-most label)."""
        want = hostname.rstrip(".").lower()
        for name in self.dns_names:
            n = name.rstrip(".").lower()
            if n == want:
                return True
            if n.startswith("*.") and "." in want and want.split(".", 1)[1] == n[2:] and want.split(".", 1)[0]:
                return True
        return False

    @property
    def common_name(self) -> str:
        for part in self.subject.split(","):
            if part.startswith("CN="):
                return part[3:]
        return ""

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject, "issuer": self.issuer, "serial": self.serial,
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "not_after": self.not_after.isoformat() if self.not_after else None,
            "key_type": self.key_type, "key_size": self.key_size, "curve": self.curve or None,
            "signature_algorithm": self.signature_algorithm, "signature_hash": self.signature_hash or None,
            "self_signed": self.self_signed, "is_ca": self.is_ca, "dns_names": self.dns_names,
            "ip_addresses": self.ip_addresses, "sha256": self.sha256, "parse_error": self.parse_error or None,
        }


def _verify_own_signature(cert: x509.Certificate) -> bool:
    return _signed_by(cert, cert.public_key())


def _signed_by(cert: x509.Certificate, key: Any) -> bool:
    """Does `key` verify cert's signature? Any hash, SHA-1 and MD5 included: `cryptography`'s
    verify_directly_issued_by refuses those, and judging them is the policy's job."""
    try:
        if isinstance(key, rsa.RSAPublicKey):
            algo = cert.signature_hash_algorithm
            if algo is None:
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algo)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            algo = cert.signature_hash_algorithm
            if algo is None:
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algo))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        elif isinstance(key, dsa.DSAPublicKey):
            algo = cert.signature_hash_algorithm
            if algo is None:
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, algo)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def parse_certificate(der: bytes) -> CertInfo:
    info = CertInfo(der=der, sha256=_sha256(der))
    try:
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, TypeError) as exc:
        info.parse_error = f"not a readable X.509 certificate: {exc}"
        return info
    try:
        info.pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        info.subject = cert.subject.rfc4514_string()
        info.issuer = cert.issuer.rfc4514_string()
        info.serial = format(cert.serial_number, "x")
        info.not_before = cert.not_valid_before_utc
        info.not_after = cert.not_valid_after_utc
        oid = cert.signature_algorithm_oid
        info.signature_algorithm = getattr(oid, "_name", None) or oid.dotted_string
        try:
            h = cert.signature_hash_algorithm
            info.signature_hash = h.name if h is not None else ""
        except UnsupportedAlgorithm:
            info.signature_hash = "unsupported:" + oid.dotted_string
        try:
            key = cert.public_key()
        except (UnsupportedAlgorithm, ValueError) as exc:
            key = None
            info.key_type = f"unknown ({exc})"
        if isinstance(key, rsa.RSAPublicKey):
            info.key_type, info.key_size = "RSA", key.key_size
        elif isinstance(key, ec.EllipticCurvePublicKey):
            info.key_type, info.key_size, info.curve = "EC", key.key_size, key.curve.name
        elif isinstance(key, dsa.DSAPublicKey):
            info.key_type, info.key_size = "DSA", key.key_size
        elif isinstance(key, ed25519.Ed25519PublicKey):
            info.key_type, info.key_size = "Ed25519", 256
        elif isinstance(key, ed448.Ed448PublicKey):
            info.key_type, info.key_size = "Ed448", 456
        info.self_issued = cert.subject == cert.issuer
        info.self_signed = info.self_issued and key is not None and _verify_own_signature(cert)
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            info.is_ca = bool(bc.ca)
        except x509.ExtensionNotFound:
            pass
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            info.dns_names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
            info.ip_addresses = [str(n) for n in san.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            pass
    except (ValueError, TypeError) as exc:  # malformed extension or name deep inside the DER
        info.parse_error = f"certificate partly unreadable: {exc}"
    return info


def _sha256(data: bytes) -> str:
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize().hex()


@dataclass
class ChainCheck:
    trusted: bool | None  # None: no CA bundle given, or verification unavailable
    detail: str  # readable, for summaries
    raw: str = ""  # the verifier's own words, for the details only
    method: str = ""  # webpki | webpki-at-valid-time | signatures


def load_ca_bundle(path: str) -> list[x509.Certificate]:
    """PEM bundle from the operator (raises ValueError with a one-line reason)."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ValueError(f"{path}: no PEM certificates could be read ({exc})") from None
    if not certs:
        raise ValueError(f"{path}: contains no certificates")
    return certs


_READABLE = (  # the verifier's error text -> what an assessor reads
    ("not valid at validation time", "a certificate in the chain is outside its validity period"),
    ("expired", "a certificate in the chain is outside its validity period"),
    ("unsupported signature algorithm", "the chain uses a signature algorithm the WebPKI rules refuse"),
    ("signature algorithm", "the chain uses a signature algorithm the WebPKI rules refuse"),
    ("candidates exhausted", "no path from the served certificates to a CA in the CA file"),
    ("no issuer", "no path from the served certificates to a CA in the CA file"),
    ("basicConstraints", "an issuing certificate is not marked as a CA (basicConstraints)"),
    ("key usage", "a certificate's key usage does not allow this use"),
    ("EKU", "the leaf's extended key usage does not allow TLS server authentication"),
    ("extended key usage", "the leaf's extended key usage does not allow TLS server authentication"),
    ("public key", "a certificate's public key is unsupported or too weak for the WebPKI rules"),
)


def readable_verification_error(text: str) -> str:
    """The verifier's message in words: never its debug structures (`AlgorithmIdentifier { oid: … }`)."""
    low = text.lower()
    for marker, words in _READABLE:
        if marker.lower() in low:
            return words
    cleaned = re.sub(r"\s*[A-Za-z_]*\s*\{.*\}", "", text).strip(" :")
    return cleaned[:160] or "the chain does not validate"


def _signature_path(certs: list[x509.Certificate], cas: list[x509.Certificate]) -> bool:
    """Does each certificate's signature verify with the next one's key, ending at a CA from the
    file? Names are matched issuer-to-subject; dates and algorithms are left to the policy rules."""
    pool = certs[1:] + cas
    current = certs[0]
    for _ in range(len(pool) + 1):
        if any(current == ca for ca in cas):
            return True
        for cand in pool:
            if cand.subject != current.issuer or cand == current:
                continue
            try:
                if not _signed_by(current, cand.public_key()):
                    continue
            except (ValueError, TypeError, UnsupportedAlgorithm):
                continue
            if any(cand == ca for ca in cas):
                return True
            current = cand
            break
        else:
            return False
    return False


def verify_chain(chain_der: list[bytes], cas: list[x509.Certificate], *, now: dt.datetime,
                 weak_signatures: bool = False) -> ChainCheck:
    """Does the served chain lead to one of the operator's CAs (WebPKI rules, name aside)?

    One problem, one finding: dates and signature hashes have their own rules, so when the
    verifier fails only because of them the chain is checked again without them (at a moment
    inside every certificate's validity; or by signatures alone when a weak hash is already
    reported, `weak_signatures`) and the trust answer says what it rests on.
    """
    try:
        from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store, VerificationError
    except ImportError:  # pragma: no cover - cryptography < 42
        return ChainCheck(None, "this cryptography has no x509.verification: chain not validated")
    try:
        certs = [x509.load_der_x509_certificate(d) for d in chain_der]
    except ValueError as exc:
        return ChainCheck(False, "the served chain could not be read", str(exc))
    if not certs:
        return ChainCheck(False, "no certificate served")
    leaf = certs[0]
    subject: Any = None
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ips = san.get_values_for_type(x509.IPAddress)
        dns = san.get_values_for_type(x509.DNSName)
        if ips:
            subject = IPAddress(ips[0])
        elif dns:
            subject = DNSName(dns[0].lstrip("*."))
    except (x509.ExtensionNotFound, ValueError):
        pass
    if subject is None:
        # The WebPKI verifier needs a subject name; without SANs the leaf cannot pass it.
        subject = IPAddress(ipaddress.ip_address("0.0.0.0"))

    def attempt(at: dt.datetime) -> str:
        try:
            verifier = PolicyBuilder().store(Store(cas)).time(at).build_server_verifier(subject)
            verifier.verify(leaf, certs[1:])
        except VerificationError as exc:
            return str(exc) or "verification failed"
        except (ValueError, TypeError) as exc:
            return str(exc) or type(exc).__name__
        return ""

    raw = attempt(now)
    if not raw:
        return ChainCheck(True, "validates against the CA file (WebPKI rules)", method="webpki")
    starts = [c.not_valid_before_utc for c in certs]
    ends = [c.not_valid_after_utc for c in certs]
    dated = any(now < a or now > b for a, b in zip(starts, ends, strict=True))
    if dated and max(starts) <= min(ends):
        at = max(starts) + (min(ends) - max(starts)) / 2
        if not attempt(at):
            return ChainCheck(True, "chains to the CA file (validated at a moment inside every certificate's "
                                    "validity; the dates are judged by their own rule)", raw, "webpki-at-valid-time")
    if dated and _signature_path(certs, cas):
        return ChainCheck(True, "chains to the CA file by signature (no moment lies inside every validity "
                                "period; the dates are judged by their own rule)", raw, "signatures")
    if weak_signatures and _signature_path(certs, cas):
        return ChainCheck(True, "chains to the CA file by signature (the WebPKI rules refuse its weak signature "
                                "algorithm, which is judged by its own rule)", raw, "signatures")
    return ChainCheck(False, readable_verification_error(raw), raw, "webpki")
