"""Ed25519 keys and signatures for evidence packs.

Why Ed25519: small keys, deterministic signatures (the same manifest signed twice gives the same
bytes), no parameters to get wrong, and `cryptography` (already a dependency) implements it.
A key is named by its fingerprint, the SHA-256 of the 32 raw public-key bytes, so an assessor can
compare it with the one the lab published without handling PEM files.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from probe.errors import UserError

ALGORITHM = "Ed25519"


def fingerprint(public: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key."""
    return hashlib.sha256(raw_public(public)).hexdigest()


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_from_raw(data: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(data)


def keygen(base: Path, *, force: bool = False) -> tuple[Path, Path, str]:
    """Write BASE.key (PKCS8 PEM, mode 0600, created that way, never widened) and BASE.pub."""
    key_path, pub_path = Path(f"{base}.key"), Path(f"{base}.pub")
    parent = key_path.parent if str(key_path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"--out {base}: directory {parent} does not exist")
    for p in (key_path, pub_path):
        if p.exists() and not force:
            raise UserError(f"{p} already exists; refusing to overwrite a key (use --force)")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pub_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    if force:
        key_path.unlink(missing_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(key_path, 0o600)  # in case the umask was stricter than needed; never wider
    pub_path.write_bytes(pub_pem)
    return key_path, pub_path, fingerprint(private.public_key())


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"--sign {path}: cannot read ({exc.strerror})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UserError(f"--sign {path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"--sign {path}: not an Ed25519 key (make one with `probe keygen`)")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """A .pub PEM file (or, for convenience, the private key file: its public half is used)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"--key {path}: cannot read ({exc.strerror})") from None
    key: object
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise UserError(f"--key {path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UserError(f"--key {path}: not an Ed25519 public key")
    return key


def sign(private: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(private.sign(message)).decode("ascii")


def signature_valid(public: Ed25519PublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        sig = base64.b64decode(signature_b64, validate=True)
    except (ValueError, TypeError):
        return False
    try:
        public.verify(sig, message)
    except InvalidSignature:
        return False
    return True
