"""Unit tests of the TLS parsers and key schedule added for issue 13 (crafted bytes only; the
real-server evidence is in tests/crypto/)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.protocols import tls13_keys, tls_hello


def test_key_schedule_matches_rfc8448():
    """RFC 8448 3 (simple 1-RTT handshake): early secret and the "derived" secret for SHA-256."""
    zeros = bytes(32)
    early = tls13_keys.hkdf_extract("sha256", zeros, zeros)
    assert early.hex() == "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"
    import hashlib

    derived = tls13_keys.hkdf_expand_label("sha256", early, b"derived", hashlib.sha256(b"").digest(), 32)
    assert derived.hex() == "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"


def test_tls13_hello_never_offers_groups_rfc8446_forbids():
    share = tls13_keys.make_share(29)
    rec = tls_hello.build_tls13_hello(list(tls_hello.TLS13_SUITES), key_shares=[(29, share.public)],
                                      groups=tls_hello.GROUPS)  # asked to offer legacy groups: dropped
    body = rec[9:]
    exts = _extensions(body)
    groups = struct.unpack(f"!{len(exts[10]) // 2 - 1}H", exts[10][2:])
    assert groups and all(g in (23, 24, 25, 29, 30, 256, 257, 258, 259, 260) for g in groups)
    assert 11 not in exts and 23 not in exts  # no TLS 1.2-only ec_point_formats / extended_master_secret
    assert exts[43] == b"\x02\x03\x04"
    assert body[34] == 32  # legacy_session_id present (middlebox compatibility)


def test_sni_is_sent_for_names_only():
    rec = tls_hello.build_client_hello(0x0303, [0xC02F], server_name="device.test")
    assert b"device.test" in rec
    assert 0 not in _extensions(tls_hello.build_client_hello(0x0303, [0xC02F])[9:])


def _extensions(body: bytes) -> dict[int, bytes]:
    pos = 2 + 32
    pos += 1 + body[pos]
    pos += 2 + struct.unpack_from("!H", body, pos)[0]
    pos += 1 + body[pos]
    end = pos + 2 + struct.unpack_from("!H", body, pos)[0]
    pos += 2
    out = {}
    while pos < end:
        t, n = struct.unpack_from("!HH", body, pos)
        out[t] = body[pos + 4:pos + 4 + n]
        pos += 4 + n
    return out


def test_server_key_exchange_dhe_and_ecdhe():
    p = (1 << 1023) | 1
    raw = p.to_bytes(128, "big")
    dhe = struct.pack("!H", len(raw)) + raw + b"\x00\x01\x02" + b"\x00\x01\x05"
    assert tls_hello.parse_server_key_exchange(dhe, "DHE").bits == 1024
    ecdhe = b"\x03\x00\x17\x41" + b"\x04" * 65
    k = tls_hello.parse_server_key_exchange(ecdhe, "ECDHE")
    assert (k.group, k.bits, k.code) == ("secp256r1", 256, 23)
    with pytest.raises(tls_hello.TLSParseError):
        tls_hello.parse_server_key_exchange(b"\x00\x10\x01", "DHE")
    with pytest.raises(tls_hello.TLSParseError):
        tls_hello.parse_server_key_exchange(b"\x07\x00\x17", "ECDHE")


def test_tls13_certificate_message():
    cert = b"\x30\x03\x02\x01\x01"
    entry = len(cert).to_bytes(3, "big") + cert + b"\x00\x00"
    body = b"\x00" + (2 * len(entry)).to_bytes(3, "big") + entry + entry
    assert tls_hello.parse_tls13_certificate(body) == [cert, cert]
    with pytest.raises(tls_hello.TLSParseError):
        tls_hello.parse_tls13_certificate(b"\x00\x00\x00\x09" + entry)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["DHE", "ECDHE"]))
def test_new_parsers_only_raise_parse_errors(data, kind):
    for fn in (tls_hello.parse_tls13_certificate, lambda d: tls_hello.parse_server_key_exchange(d, kind)):
        try:
            fn(data)
        except tls_hello.TLSParseError:
            pass


def test_decryptor_round_trip():
    """What HandshakeDecryptor removes is what an AEAD with the derived key and nonce added."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    shared, transcript = b"\x01" * 32, b"client hello + server hello"
    dec = tls13_keys.HandshakeDecryptor(0x1301, shared, transcript)
    import hashlib

    alg = "sha256"
    z = bytes(32)
    early = tls13_keys.hkdf_extract(alg, z, z)
    derived = tls13_keys.hkdf_expand_label(alg, early, b"derived", hashlib.sha256(b"").digest(), 32)
    hs = tls13_keys.hkdf_extract(alg, derived, shared)
    secret = tls13_keys.hkdf_expand_label(alg, hs, b"s hs traffic", hashlib.sha256(transcript).digest(), 32)
    key = tls13_keys.hkdf_expand_label(alg, secret, b"key", b"", 16)
    iv = tls13_keys.hkdf_expand_label(alg, secret, b"iv", b"", 12)
    inner = b"\x08\x00\x00\x02\x00\x00" + b"\x16" + b"\x00\x00"
    header = struct.pack("!BHH", 23, 0x0303, len(inner) + 16)
    ct = AESGCM(key).encrypt(iv, inner, header)
    assert dec.decrypt(header, ct) == (22, b"\x08\x00\x00\x02\x00\x00")
    with pytest.raises(ValueError):
        dec.decrypt(header, ct)  # sequence number moved on: the same record no longer verifies
