"""Just enough TLS 1.3 cryptography to read a server's encrypted first flight.

Why: in TLS 1.3 everything after ServerHello (EncryptedExtensions, Certificate, ...) is
encrypted under handshake keys. Python 3.11's ssl module hands back only the leaf certificate
(`get_unverified_chain` arrived in 3.13), so a scanner that wants the chain *as the server sent
it* must derive those keys itself. That is the RFC 8446 key schedule up to the server handshake
traffic secret (section 7.1), the traffic key calculation (7.3) and the record deprotection
(5.2-5.3): HMAC from the standard library, ECDH/X25519 and the AEADs from `cryptography`.

Nothing here completes a handshake: probe never sends Finished, so no application data can flow
and the key material is thrown away with the connection. Errors are ValueError with a reason.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# suite -> (hash name, AEAD name, key length, tag length)
SUITES: dict[int, tuple[str, str, int, int]] = {
    0x1301: ("sha256", "aes-gcm", 16, 16),
    0x1302: ("sha384", "aes-gcm", 32, 16),
    0x1303: ("sha256", "chacha20-poly1305", 32, 16),
    0x1304: ("sha256", "aes-ccm", 16, 16),
    0x1305: ("sha256", "aes-ccm", 16, 8),
}
# Groups whose key share probe can compute (IANA code -> name). ffdhe* are left out on purpose:
# a server that insists on them still shows its TLS 1.3 acceptance (HelloRetryRequest), only its
# encrypted certificate stays unread, and the caller says so.
SHARE_GROUPS = {29: "x25519", 30: "x448", 23: "secp256r1", 24: "secp384r1", 25: "secp521r1"}
HS_MESSAGE_HASH = 254


def hkdf_extract(alg: str, salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, alg).digest()


def hkdf_expand_label(alg: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """HKDF-Expand-Label (RFC 8446 7.1)."""
    full = b"tls13 " + label
    info = struct.pack("!H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), alg).digest()
        out += block
        counter += 1
    return out[:length]


def message_hash(alg: str, client_hello: bytes) -> bytes:
    """The synthetic handshake message that replaces ClientHello1 after a HelloRetryRequest (4.4.1)."""
    digest = hashlib.new(alg, client_hello).digest()
    return bytes([HS_MESSAGE_HASH, 0, 0, len(digest)]) + digest


@dataclass
class KeyShare:
    """One ephemeral key for one group: the public bytes to send and the private half to keep."""

    group: int
    public: bytes
    _private: Any

    def shared_secret(self, peer: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            if self.group == 29:
                from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

                return self._private.exchange(X25519PublicKey.from_public_bytes(peer))
            if self.group == 30:
                from cryptography.hazmat.primitives.asymmetric.x448 import X448PublicKey

                return self._private.exchange(X448PublicKey.from_public_bytes(peer))
            curve = self._private.curve
            pub = ec.EllipticCurvePublicKey.from_encoded_point(curve, peer)
            return self._private.exchange(ec.ECDH(), pub)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"the server's {SHARE_GROUPS.get(self.group, self.group)} key share is unusable "
                             f"({exc})") from None


def make_share(group: int) -> KeyShare | None:
    """A fresh key share for `group`, or None when probe cannot compute that group."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    if group == 29:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        k: Any = X25519PrivateKey.generate()
        return KeyShare(group, k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), k)
    if group == 30:
        from cryptography.hazmat.primitives.asymmetric.x448 import X448PrivateKey

        k = X448PrivateKey.generate()
        return KeyShare(group, k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), k)
    if group in (23, 24, 25):
        from cryptography.hazmat.primitives.asymmetric import ec

        curves: dict[int, Callable[[], ec.EllipticCurve]] = {23: ec.SECP256R1, 24: ec.SECP384R1, 25: ec.SECP521R1}
        curve = curves[group]()
        k = ec.generate_private_key(curve)
        return KeyShare(group, k.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint), k)
    return None


class HandshakeDecryptor:
    """Removes record protection from the server's handshake records (server_handshake_traffic_secret)."""

    def __init__(self, suite: int, shared_secret: bytes, transcript: bytes) -> None:
        if suite not in SUITES:
            raise ValueError(f"suite 0x{suite:04X} is not a TLS 1.3 suite probe can decrypt")
        alg, aead, key_len, tag_len = SUITES[suite]
        hash_len = hashlib.new(alg).digest_size
        zeros = bytes(hash_len)
        early = hkdf_extract(alg, zeros, zeros)
        derived = hkdf_expand_label(alg, early, b"derived", hashlib.new(alg, b"").digest(), hash_len)
        handshake = hkdf_extract(alg, derived, shared_secret)
        secret = hkdf_expand_label(alg, handshake, b"s hs traffic", hashlib.new(alg, transcript).digest(), hash_len)
        key = hkdf_expand_label(alg, secret, b"key", b"", key_len)
        self.iv = hkdf_expand_label(alg, secret, b"iv", b"", 12)
        self.seq = 0
        from cryptography.hazmat.primitives.ciphers import aead as aeads

        if aead == "aes-gcm":
            self._aead: Any = aeads.AESGCM(key)
        elif aead == "chacha20-poly1305":
            self._aead = aeads.ChaCha20Poly1305(key)
        else:
            self._aead = aeads.AESCCM(key, tag_length=tag_len)

    def decrypt(self, header: bytes, payload: bytes) -> tuple[int, bytes]:
        """(inner content type, content) of one protected record; ValueError when it does not verify."""
        from cryptography.exceptions import InvalidTag

        nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big"), strict=True))
        self.seq += 1
        try:
            plain = self._aead.decrypt(nonce, payload, header)
        except InvalidTag:
            raise ValueError("a protected handshake record did not verify (key schedule mismatch or "
                             "a corrupted record)") from None
        end = len(plain)
        while end and plain[end - 1] == 0:
            end -= 1
        if end == 0:
            raise ValueError("a protected record holds no content type")
        return plain[end - 1], plain[:end - 1]
