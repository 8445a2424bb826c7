"""TLS auditing with ClientHellos we write ourselves.

Why not the local OpenSSL: OpenSSL 3 refuses TLS 1.0/1.1, SSL 3.0, SHA-1 signatures and small
keys by default, and lacks RC4/3DES/export suites entirely, so a scanner built on it reports
"not offered" for exactly the weaknesses a compliance scan must find. We only need the server's
*first flight* (ServerHello, and for TLS <= 1.2 the Certificate message that follows it in clear),
so we build the ClientHello with `struct` and parse the answer ourselves.

Two kinds of hello, kept apart on purpose:
- *legacy probing hellos* (SSL 3.0 to TLS 1.2, one version each) offer everything old servers may
  need: every registered suite, the obsolete curves, SHA-1/MD5 signature schemes;
- the *TLS 1.3 hello* is RFC 8446-conformant (only groups section 4.2.7 allows, key shares for
  x25519 and P-256, no TLS 1.2-only extensions), because strict stacks refuse a TLS 1.3 hello that
  offers obsolete groups, and a refusal must mean "no TLS 1.3", not "probe spoke badly".
For TLS 1.3 the server's Certificate message is encrypted; probe derives the handshake keys itself
(probe.protocols.tls13_keys) and reads the chain exactly as sent, on the same connection.

Why not scapy's TLS layer: it would also work, but it is a large stateful stack whose parser
raises whatever a malformed field triggers and whose import reads the host's routing table. The
part we need is ~300 lines whose every length is checked against the bytes actually received and
against hard caps, which is what a scan of a fragile or hostile device needs.

Every connection comes from a `connect` callable (in a check: `lambda: ctx.connection(port)`),
so the per-device connection cap holds, and a whole scan uses at most `max_connections`.
Nothing here raises for device behaviour: each attempt ends as accepted, rejected or an error
with a reason code (connectivity / device-misbehaved).
"""

from __future__ import annotations

import contextlib
import csv
import importlib.resources
import os
import socket
import ssl
import struct
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import lru_cache

from probe.protocols import tls13_keys
from probe.protocols.netio import ReadTimeout, read_exact

# -- constants from RFC 5246 / RFC 8446 ----------------------------------------------------------
VERSIONS: dict[str, int] = {"SSLv3": 0x0300, "TLSv1.0": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303,
                            "TLSv1.3": 0x0304}
VERSION_NAMES = {v: k for k, v in VERSIONS.items()}
CT_CHANGE_CIPHER_SPEC, CT_ALERT, CT_HANDSHAKE, CT_APPLICATION_DATA = 20, 21, 22, 23
HS_CLIENT_HELLO, HS_SERVER_HELLO, HS_CERTIFICATE, HS_SERVER_KEY_EXCHANGE, HS_SERVER_HELLO_DONE = 1, 2, 11, 12, 14
HS_ENCRYPTED_EXTENSIONS, HS_CERTIFICATE_REQUEST, HS_CERTIFICATE_VERIFY, HS_FINISHED = 8, 13, 15, 20
EXT_SERVER_NAME, EXT_SUPPORTED_GROUPS, EXT_EC_POINT_FORMATS, EXT_SIGNATURE_ALGORITHMS = 0, 10, 11, 13
EXT_EMS, EXT_SUPPORTED_VERSIONS, EXT_COOKIE, EXT_PSK_MODES, EXT_KEY_SHARE = 23, 43, 44, 45, 51
MAX_RECORD = 2**14 + 2048  # largest TLSCiphertext a conforming peer may send
MAX_CERTS = 10
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
SCSV_RENEGOTIATION = 0x00FF
TLS13_SUITES = (0x1301, 0x1302, 0x1303, 0x1304, 0x1305)

ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
          40: "handshake_failure", 42: "bad_certificate", 47: "illegal_parameter", 50: "decode_error",
          51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
          86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
          110: "unsupported_extension", 112: "unrecognized_name", 120: "no_application_protocol"}

# Groups the legacy probing hellos (TLS <= 1.2) claim, broad so that a server with only old curves
# still answers: x25519, secp256r1/384r1/521r1, x448, ffdhe2048..8192, and the legacy sect/secp curves.
GROUPS = (29, 23, 24, 25, 30, 256, 257, 258, 259, 260, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
          14, 15, 16, 17, 18, 19, 20, 21, 22, 26, 27, 28)
# The TLS 1.3 hello's groups: only what RFC 8446 4.2.7 allows (named_groups.csv, tls13=yes), most
# common first; key shares go with the first two.
TLS13_GROUPS = (29, 23, 24, 25, 30, 256, 257, 258, 259, 260)
TLS13_SHARES = (29, 23)
# Signature schemes, including SHA-1 and MD5 ones: we must let a legacy server answer.
SIGALGS = (0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B,
           0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0203, 0x0201, 0x0202, 0x0101, 0x0102)
TLS13_SIGALGS = (0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A,
                 0x080B, 0x0401, 0x0501, 0x0601, 0x0201, 0x0203)


class TLSParseError(Exception):
    """The peer's bytes are not the TLS we asked for (the device misbehaved)."""


@dataclass(frozen=True)
class CipherSuite:
    code: int
    name: str  # IANA name
    openssl_name: str

    @property
    def tls12_only(self) -> bool:
        """Suites defined for TLS 1.2 only (AEAD or SHA-2 PRF): never picked in older versions."""
        n = self.name
        return any(t in n for t in ("GCM", "CCM", "CHACHA20", "_SHA256", "_SHA384"))

    @property
    def anonymous_or_null(self) -> bool:
        return "_anon_" in self.name or "WITH_NULL" in self.name or self.name.endswith("_NULL_SHA")

    @property
    def key_exchange(self) -> str:
        """ECDHE | DHE (ephemeral, a ServerKeyExchange carries the group) | TLS1.3 | static."""
        n = self.name
        if self.code in TLS13_SUITES:
            return "TLS1.3"
        if "_ECDHE_" in n or "_ECDH_anon_" in n:
            return "ECDHE"
        if "_DHE_" in n or "_DH_anon_" in n:
            return "DHE"
        return "static"


@dataclass(frozen=True)
class NamedGroup:
    code: int
    name: str
    kind: str  # ec | dh | hybrid
    bits: int
    tls13: bool


@lru_cache(maxsize=1)
def named_groups() -> dict[int, NamedGroup]:
    """The IANA supported-groups table shipped as data (probe/data/tls/named_groups.csv)."""
    text = (importlib.resources.files("probe") / "data" / "tls" / "named_groups.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {int(r["code"]): NamedGroup(int(r["code"]), r["name"], r["kind"], int(r["bits"]), r["tls13"] == "yes")
            for r in rows}


def group_name(code: int) -> str:
    g = named_groups().get(code)
    return g.name if g else f"group_0x{code:04X}"


@lru_cache(maxsize=1)
def cipher_suites() -> dict[int, CipherSuite]:
    """The IANA table shipped as data (probe/data/tls/cipher_suites.csv)."""
    text = (importlib.resources.files("probe") / "data" / "tls" / "cipher_suites.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    out: dict[int, CipherSuite] = {}
    for r in rows:
        code = int(r["code"], 16)
        out[code] = CipherSuite(code, r["iana_name"], r["openssl_name"])
    return out


def suite_name(code: int) -> str:
    s = cipher_suites().get(code)
    return s.name if s else f"UNKNOWN_0x{code:04X}"


def suites_for(version: int, *, include_anon: bool = True) -> list[int]:
    """Every registered suite that can be negotiated in `version` (what we offer)."""
    if version == VERSIONS["TLSv1.3"]:
        return list(TLS13_SUITES)
    out = []
    for s in cipher_suites().values():
        if s.code == 0x0000 or s.code in TLS13_SUITES:
            continue
        if s.tls12_only and version < VERSIONS["TLSv1.2"]:
            continue
        if not include_anon and s.anonymous_or_null:
            continue
        out.append(s.code)
    return out


# -- building the ClientHello ---------------------------------------------------------------------
def _ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(body)) + body


def _u16_list(values: tuple[int, ...] | list[int]) -> bytes:
    return struct.pack(f"!H{len(values)}H", 2 * len(values), *values)


def _server_name_ext(server_name: str | None) -> bytes:
    """SNI (RFC 6066 3): a DNS name only; IP literals are never sent."""
    if not server_name:
        return b""
    name = server_name.encode("idna") if not server_name.isascii() else server_name.encode("ascii")
    entry = b"\x00" + struct.pack("!H", len(name)) + name
    return _ext(EXT_SERVER_NAME, struct.pack("!H", len(entry)) + entry)


def _record(body: bytes, record_version: int) -> bytes:
    hs = bytes([HS_CLIENT_HELLO]) + struct.pack("!I", len(body))[1:] + body
    return struct.pack("!BHH", CT_HANDSHAKE, record_version, len(hs)) + hs


def build_client_hello(version: int, suites: list[int], *, random: bytes | None = None,
                       x25519_public: bytes | None = None, server_name: str | None = None,
                       groups: tuple[int, ...] | list[int] | None = None,
                       key_shares: list[tuple[int, bytes]] | None = None, session_id: bytes | None = None,
                       cookie: bytes | None = None, also: tuple[int, ...] = ()) -> bytes:
    """One TLS record holding a ClientHello whose highest version is `version`.

    TLS 1.3 gets the conformant hello (`build_tls13_hello`); every other version a legacy
    probing hello. SSL 3.0 hellos carry no extensions. `also`: lower versions listed after 1.3
    in supported_versions, for a hello that any TLS server answers (discovery's "is this TLS at
    all?"); the audit offers one version per hello.
    """
    if version == VERSIONS["TLSv1.3"]:
        if key_shares is None:
            share = tls13_keys.make_share(29)
            assert share is not None
            key_shares = [(29, x25519_public or share.public)]
        return build_tls13_hello(suites, key_shares=key_shares, random=random, server_name=server_name,
                                 groups=groups, session_id=session_id, cookie=cookie, also=also)
    random = random if random is not None else os.urandom(32)
    body = struct.pack("!H", version) + random + b"\x00"  # no session id
    body += _u16_list([*suites, SCSV_RENEGOTIATION])
    body += b"\x01\x00"  # compression: null only
    if version >= VERSIONS["TLSv1.0"]:
        exts = _server_name_ext(server_name)
        exts += _ext(EXT_SUPPORTED_GROUPS, _u16_list(tuple(groups) if groups is not None else GROUPS))
        exts += _ext(EXT_EC_POINT_FORMATS, b"\x01\x00")  # uncompressed
        exts += _ext(EXT_EMS, b"")
        if version >= VERSIONS["TLSv1.2"]:
            exts += _ext(EXT_SIGNATURE_ALGORITHMS, _u16_list(SIGALGS))
        body += struct.pack("!H", len(exts)) + exts
    return _record(body, VERSIONS["SSLv3"] if version == VERSIONS["SSLv3"] else VERSIONS["TLSv1.0"])


def build_tls13_hello(suites: list[int], *, key_shares: list[tuple[int, bytes]], random: bytes | None = None,
                      server_name: str | None = None, groups: tuple[int, ...] | list[int] | None = None,
                      session_id: bytes | None = None, cookie: bytes | None = None,
                      also: tuple[int, ...] = ()) -> bytes:
    """An RFC 8446-conformant ClientHello offering TLS 1.3 (and, only when `also` names them, lower
    versions after it in supported_versions).

    legacy_version 1.2, a 32-byte legacy session id (middlebox compatibility), null compression,
    supported_groups limited to groups 4.2.7 allows (anything else given is dropped), a key share
    per given group (each must also be in supported_groups), and signature schemes valid in 1.3.
    """
    allowed = {c for c, g in named_groups().items() if g.tls13}
    offered = [g for g in (groups if groups is not None else TLS13_GROUPS) if g in allowed]
    shares = [(g, pub) for g, pub in key_shares if g in offered]
    random = random if random is not None else os.urandom(32)
    session_id = session_id if session_id is not None else os.urandom(32)
    body = struct.pack("!H", VERSIONS["TLSv1.2"]) + random + bytes([len(session_id)]) + session_id
    body += _u16_list(list(suites))
    body += b"\x01\x00"
    exts = _server_name_ext(server_name)
    exts += _ext(EXT_SUPPORTED_GROUPS, _u16_list(offered))
    exts += _ext(EXT_SIGNATURE_ALGORITHMS, _u16_list(TLS13_SIGALGS))
    versions = struct.pack(f"!{1 + len(also)}H", VERSIONS["TLSv1.3"], *also)
    exts += _ext(EXT_SUPPORTED_VERSIONS, bytes([len(versions)]) + versions)
    exts += _ext(EXT_PSK_MODES, b"\x01\x01")  # psk_dhe_ke
    entries = b"".join(struct.pack("!HH", g, len(pub)) + pub for g, pub in shares)
    exts += _ext(EXT_KEY_SHARE, struct.pack("!H", len(entries)) + entries)
    if cookie is not None:
        exts += _ext(EXT_COOKIE, struct.pack("!H", len(cookie)) + cookie)
    body += struct.pack("!H", len(exts)) + exts
    return _record(body, VERSIONS["TLSv1.0"])


# -- parsing what the server sends ---------------------------------------------------------------
@dataclass(frozen=True)
class ServerHello:
    legacy_version: int
    version: int  # negotiated: supported_versions when present, else legacy_version
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression: int
    extensions: dict[int, bytes]
    hello_retry: bool

    @property
    def version_name(self) -> str:
        return VERSION_NAMES.get(self.version, f"0x{self.version:04X}")


def parse_server_hello(body: bytes) -> ServerHello:
    """Parse a ServerHello handshake body; TLSParseError on anything inconsistent."""
    if len(body) < 38:
        raise TLSParseError(f"ServerHello too short ({len(body)} bytes)")
    legacy_version = struct.unpack_from("!H", body, 0)[0]
    random = body[2:34]
    sid_len = body[34]
    if sid_len > 32 or 35 + sid_len + 3 > len(body):
        raise TLSParseError("ServerHello session id length is inconsistent")
    session_id = body[35:35 + sid_len]
    pos = 35 + sid_len
    suite, compression = struct.unpack_from("!HB", body, pos)
    pos += 3
    extensions: dict[int, bytes] = {}
    if pos < len(body):
        if pos + 2 > len(body):
            raise TLSParseError("ServerHello extensions length truncated")
        ext_total = struct.unpack_from("!H", body, pos)[0]
        pos += 2
        if pos + ext_total != len(body):
            raise TLSParseError("ServerHello extensions length does not match the message")
        while pos < len(body):
            if pos + 4 > len(body):
                raise TLSParseError("ServerHello extension header truncated")
            etype, elen = struct.unpack_from("!HH", body, pos)
            pos += 4
            if pos + elen > len(body):
                raise TLSParseError("ServerHello extension body truncated")
            extensions[etype] = body[pos:pos + elen]
            pos += elen
    version = legacy_version
    if 43 in extensions:
        if len(extensions[43]) != 2:
            raise TLSParseError("ServerHello supported_versions is not one version")
        version = struct.unpack("!H", extensions[43])[0]
    if (legacy_version >> 8) != 3:
        raise TLSParseError(f"ServerHello version 0x{legacy_version:04X} is not SSL 3/TLS")
    return ServerHello(legacy_version, version, random, session_id, suite, compression, extensions,
                       random == HRR_RANDOM)


def parse_certificate_list(body: bytes) -> list[bytes]:
    """DER certificates from a TLS <= 1.2 Certificate message body (capped at MAX_CERTS)."""
    if len(body) < 3:
        raise TLSParseError("Certificate message too short")
    total = int.from_bytes(body[:3], "big")
    if total + 3 != len(body):
        raise TLSParseError("Certificate list length does not match the message")
    certs: list[bytes] = []
    pos = 3
    while pos < len(body):
        if pos + 3 > len(body):
            raise TLSParseError("certificate entry header truncated")
        n = int.from_bytes(body[pos:pos + 3], "big")
        pos += 3
        if n == 0 or pos + n > len(body):
            raise TLSParseError("certificate entry length is inconsistent")
        if len(certs) < MAX_CERTS:
            certs.append(body[pos:pos + n])
        pos += n
    return certs


def parse_tls13_certificate(body: bytes) -> list[bytes]:
    """DER certificates from a TLS 1.3 Certificate message (RFC 8446 4.4.2), capped at MAX_CERTS."""
    if len(body) < 4:
        raise TLSParseError("TLS 1.3 Certificate message too short")
    ctx_len = body[0]
    pos = 1 + ctx_len
    if pos + 3 > len(body):
        raise TLSParseError("TLS 1.3 Certificate request context is inconsistent")
    total = int.from_bytes(body[pos:pos + 3], "big")
    pos += 3
    if pos + total != len(body):
        raise TLSParseError("TLS 1.3 certificate list length does not match the message")
    certs: list[bytes] = []
    while pos < len(body):
        if pos + 3 > len(body):
            raise TLSParseError("certificate entry header truncated")
        n = int.from_bytes(body[pos:pos + 3], "big")
        pos += 3
        if n == 0 or pos + n + 2 > len(body):
            raise TLSParseError("certificate entry length is inconsistent")
        if len(certs) < MAX_CERTS:
            certs.append(body[pos:pos + n])
        pos += n
        ext_len = struct.unpack_from("!H", body, pos)[0]
        pos += 2 + ext_len
        if pos > len(body):
            raise TLSParseError("certificate entry extensions run past the message")
    return certs


@dataclass(frozen=True)
class KexInfo:
    """The ephemeral key exchange group a server chose in one handshake."""

    kind: str  # ECDHE | DHE (TLS <= 1.2 ServerKeyExchange) | TLS1.3 (key_share)
    group: str  # named group, "explicit curve", or "" for a DHE group sent as raw p
    bits: int
    code: int | None = None  # IANA named group, when there is one

    def describe(self) -> str:
        if self.kind == "DHE":
            return f"DHE {self.bits}-bit group"
        return f"{self.kind} {self.group or 'unnamed group'} ({self.bits} bits)"

    def to_json(self) -> dict:
        return {"kind": self.kind, "group": self.group or None, "bits": self.bits,
                "code": f"0x{self.code:04X}" if self.code is not None else None}


def named_kex(kind: str, code: int) -> KexInfo:
    g = named_groups().get(code)
    return KexInfo(kind, g.name if g else f"group_0x{code:04X}", g.bits if g else 0, code)


def parse_server_key_exchange(body: bytes, kind: str) -> KexInfo:
    """The group from a TLS <= 1.2 ServerKeyExchange (RFC 5246 7.4.3 DHE; RFC 8422 5.4 ECDHE)."""
    if kind == "DHE":
        if len(body) < 2:
            raise TLSParseError("ServerKeyExchange too short")
        plen = struct.unpack_from("!H", body, 0)[0]
        if plen == 0 or 2 + plen > len(body):
            raise TLSParseError("ServerKeyExchange DH prime length is inconsistent")
        p = int.from_bytes(body[2:2 + plen], "big")
        return KexInfo("DHE", "", p.bit_length())
    if kind == "ECDHE":
        if len(body) < 3:
            raise TLSParseError("ServerKeyExchange too short")
        if body[0] == 3:  # named_curve
            return named_kex("ECDHE", struct.unpack_from("!H", body, 1)[0])
        if body[0] in (1, 2):
            return KexInfo("ECDHE", "explicit curve", 0)
        raise TLSParseError(f"ServerKeyExchange curve type {body[0]} is unknown")
    raise TLSParseError(f"no ServerKeyExchange expected for a {kind} suite")


class RecordReader:
    """Reads TLS records from a socket with a byte cap, a deadline and record-size checks."""

    def __init__(self, sock: socket.socket, *, deadline: float, max_bytes: int) -> None:
        self.sock = sock
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.received = bytearray()

    def _read(self, n: int) -> bytes:
        if len(self.received) + n > self.max_bytes:
            raise TLSParseError(f"server sent more than {self.max_bytes} bytes in its first flight")
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ReadTimeout(b"", 0)
        try:
            data = read_exact(self.sock, n, total_timeout=remaining)
        except ReadTimeout as exc:
            self.received += exc.data
            raise
        self.received += data
        return data

    def record(self) -> tuple[int, int, bytes]:
        header = self._read(5)
        ctype, version, length = struct.unpack("!BHH", header)
        if ctype not in (CT_CHANGE_CIPHER_SPEC, CT_ALERT, CT_HANDSHAKE, CT_APPLICATION_DATA):
            raise TLSParseError(f"not a TLS record (first bytes {header.hex()})")
        if (version >> 8) != 3:
            raise TLSParseError(f"record version 0x{version:04X} is not SSL 3/TLS")
        if length == 0 and ctype != CT_APPLICATION_DATA:
            raise TLSParseError("empty TLS record")
        if length > MAX_RECORD:
            raise TLSParseError(f"record of {length} bytes exceeds the TLS maximum")
        return ctype, version, self._read(length)


class HandshakeStream:
    """Reassembles handshake messages that span or share records; stops at an alert."""

    def __init__(self, reader: RecordReader, max_message: int) -> None:
        self.reader = reader
        self.max_message = max_message
        self.buf = bytearray()
        self.alert: tuple[int, int] | None = None
        self.ccs_skipped = 0

    def next_message(self) -> tuple[int, bytes] | None:
        """The next handshake message, or None when the server sent an alert instead."""
        while True:
            if len(self.buf) >= 4:
                mtype = self.buf[0]
                mlen = int.from_bytes(self.buf[1:4], "big")
                if mlen > self.max_message:
                    raise TLSParseError(f"handshake message of {mlen} bytes exceeds our cap")
                if len(self.buf) >= 4 + mlen:
                    body = bytes(self.buf[4:4 + mlen])
                    del self.buf[:4 + mlen]
                    return mtype, body
            ctype, _, payload = self.reader.record()
            if ctype == CT_ALERT:
                if len(payload) < 2:
                    raise TLSParseError("truncated alert")
                self.alert = (payload[0], payload[1])
                return None
            if ctype == CT_CHANGE_CIPHER_SPEC and payload == b"\x01" and self.ccs_skipped < 2:
                self.ccs_skipped += 1  # TLS 1.3 middlebox compatibility (RFC 8446 D.4), e.g. after HRR
                continue
            if ctype != CT_HANDSHAKE:
                raise TLSParseError(f"unexpected record type {ctype} before the handshake completed")
            self.buf += payload


# -- one attempt ---------------------------------------------------------------------------------
ACCEPTED, REJECTED, ERROR = "accepted", "rejected", "error"
CONNECTIVITY, MISBEHAVED = "connectivity", "device-misbehaved"
MAX_FLIGHT_MESSAGES = 8  # handshake messages read after ServerHello at most
MAX_PROTECTED_RECORDS = 32

Connect = Callable[[], AbstractContextManager[socket.socket]]


@dataclass
class HelloAttempt:
    """What one connection taught us; `sent`/`received` are the raw bytes, kept as evidence."""

    offered_version: int
    offered_suites: list[int]
    outcome: str  # accepted | rejected | error
    server_hello: ServerHello | None = None
    alert: tuple[int, int] | None = None
    reason: str = ""
    reason_code: str | None = None  # connectivity | device-misbehaved, for outcome == error
    certificates: list[bytes] = field(default_factory=list)
    certificate_note: str = ""  # why certificates were wanted but not read
    kex: KexInfo | None = None  # the ephemeral group the server chose, when it showed one
    offered_groups: tuple[int, ...] = ()
    sent: bytes = b""
    received: bytes = b""
    flight_done: bool = False  # TLS <= 1.2: the server's first flight was read to its ServerHelloDone

    @property
    def alert_name(self) -> str | None:
        if self.alert is None:
            return None
        return ALERTS.get(self.alert[1], f"alert {self.alert[1]}")


def hello(connect: Connect, version: int, suites: list[int], *, timeout: float = 5.0,
          want_certificate: bool = False, want_kex: bool = False, max_bytes: int = 256 * 1024,
          groups: tuple[int, ...] | None = None, server_name: str | None = None,
          want_flight: bool = False) -> HelloAttempt:
    """Send one ClientHello on a fresh connection and classify the answer. Never raises for
    anything the peer does (only Cancelled from the context propagates).

    want_certificate: also read the certificate chain (TLS <= 1.2 in clear; TLS 1.3 by deriving
    the handshake keys, following one HelloRetryRequest). want_kex: also read the
    ServerKeyExchange of an ephemeral TLS <= 1.2 suite (TLS 1.3 always shows its group).
    want_flight: read a TLS <= 1.2 server's first flight to its ServerHelloDone (`flight_done`).
    """
    tls13 = version == VERSIONS["TLSv1.3"]
    shares: dict[int, tls13_keys.KeyShare] = {}
    if tls13:
        offered_groups = tuple(groups if groups is not None else TLS13_GROUPS)
        for g in TLS13_SHARES:
            share = tls13_keys.make_share(g) if g in offered_groups else None
            if share is not None:
                shares[g] = share
        record = build_tls13_hello(suites, key_shares=[(g, k.public) for g, k in shares.items()],
                                   server_name=server_name, groups=offered_groups)
    else:
        offered_groups = tuple(groups if groups is not None else GROUPS)
        record = build_client_hello(version, suites, server_name=server_name, groups=offered_groups)
    att = HelloAttempt(version, list(suites), ERROR, sent=record, offered_groups=offered_groups)
    try:
        cm = connect()
        sock = cm.__enter__()
    except OSError as exc:
        att.reason, att.reason_code = f"could not connect: {exc}", CONNECTIVITY
        return att
    reader = RecordReader(sock, deadline=time.monotonic() + timeout, max_bytes=max_bytes)
    try:
        try:
            sock.sendall(record)
            _exchange(att, sock, reader, want_certificate, want_kex, max_bytes, shares, server_name, want_flight)
        except TLSParseError as exc:
            if att.outcome == ACCEPTED:  # the version answer stands; only the later read failed
                att.certificate_note = att.certificate_note or f"reading the rest of the handshake failed: {exc}"
            else:
                att.outcome, att.reason, att.reason_code = ERROR, str(exc), MISBEHAVED
        except ReadTimeout:
            if att.server_hello is not None:
                att.certificate_note = att.certificate_note or "server stalled after ServerHello"
                att.reason = att.reason or "server stalled after ServerHello (certificate not read)"
            elif reader.received:
                att.outcome, att.reason, att.reason_code = ERROR, \
                    f"server stalled mid-answer after {len(reader.received)} bytes", MISBEHAVED
            else:
                att.outcome, att.reason, att.reason_code = ERROR, \
                    f"no answer to the ClientHello within {timeout:.1f}s", MISBEHAVED
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError) as exc:
            if att.server_hello is not None:
                att.certificate_note = att.certificate_note or "server closed the connection after ServerHello"
                att.reason = att.reason or "server closed the connection after ServerHello"
            elif reader.received:
                att.outcome, att.reason, att.reason_code = ERROR, \
                    f"connection closed mid-record after {len(reader.received)} bytes", MISBEHAVED
            else:
                # Many stacks reject an unsupported version or suite list by closing silently.
                att.outcome, att.reason = REJECTED, f"server closed the connection without answering ({exc})"
        except OSError as exc:
            att.outcome, att.reason, att.reason_code = ERROR, f"socket error: {exc}", CONNECTIVITY
    finally:
        att.received = bytes(reader.received)
        with contextlib.suppress(Exception):
            cm.__exit__(None, None, None)
    return att


def _hs_bytes(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def _exchange(att: HelloAttempt, sock: socket.socket, reader: RecordReader, want_certificate: bool,
              want_kex: bool, max_bytes: int, shares: dict[int, tls13_keys.KeyShare],
              server_name: str | None, want_flight: bool = False) -> None:
    stream = HandshakeStream(reader, max_message=max_bytes)
    msg = stream.next_message()
    if msg is None:
        assert stream.alert is not None
        att.alert = stream.alert
        att.outcome = REJECTED
        att.reason = f"server answered with alert {ALERTS.get(stream.alert[1], stream.alert[1])}"
        return
    mtype, body = msg
    if mtype != HS_SERVER_HELLO:
        raise TLSParseError(f"expected ServerHello, got handshake message type {mtype}")
    sh = parse_server_hello(body)
    att.server_hello = sh
    if sh.version != att.offered_version:
        att.outcome = REJECTED
        att.reason = f"server chose {sh.version_name} instead"
        if sh.version > att.offered_version:
            att.outcome, att.reason_code = ERROR, MISBEHAVED
            att.reason = f"server chose {sh.version_name}, higher than the {VERSION_NAMES[att.offered_version]} offered"
        return
    if sh.cipher_suite not in att.offered_suites:
        att.outcome, att.reason_code = ERROR, MISBEHAVED
        att.reason = f"server chose suite 0x{sh.cipher_suite:04X}, which was not offered"
        return
    att.outcome = ACCEPTED
    if sh.version == VERSIONS["TLSv1.3"]:
        _tls13_rest(att, sock, reader, stream, sh, body, want_certificate, max_bytes, shares, server_name)
        return
    kind = cipher_suites()[sh.cipher_suite].key_exchange if sh.cipher_suite in cipher_suites() else "static"
    if not want_certificate and not (want_kex and kind in ("DHE", "ECDHE")) and not want_flight:
        return
    for _ in range(MAX_FLIGHT_MESSAGES):  # Certificate, ServerKeyExchange, CertificateRequest, Done
        msg = stream.next_message()
        if msg is None:
            att.certificate_note = f"server sent alert {att.alert_name or ''} before the end of its first flight"
            return
        mtype, body = msg
        if mtype == HS_CERTIFICATE:
            att.certificates = parse_certificate_list(body)
            if not (want_kex and kind in ("DHE", "ECDHE")) and not want_flight:
                return
        elif mtype == HS_SERVER_KEY_EXCHANGE and kind in ("DHE", "ECDHE"):
            att.kex = parse_server_key_exchange(body, kind)
            if not want_flight:
                return
        elif mtype == HS_SERVER_HELLO_DONE:
            att.flight_done = True
            return


def _key_share_entry(sh: ServerHello) -> tuple[int, bytes]:
    ext = sh.extensions.get(EXT_KEY_SHARE)
    if ext is None:
        raise TLSParseError("TLS 1.3 ServerHello without a key_share")
    if sh.hello_retry:
        if len(ext) != 2:
            raise TLSParseError("HelloRetryRequest key_share is not one group")
        return struct.unpack("!H", ext)[0], b""
    if len(ext) < 4:
        raise TLSParseError("ServerHello key_share too short")
    group, n = struct.unpack_from("!HH", ext, 0)
    if 4 + n != len(ext):
        raise TLSParseError("ServerHello key_share length is inconsistent")
    return group, ext[4:]


def _tls13_rest(att: HelloAttempt, sock: socket.socket, reader: RecordReader, stream: HandshakeStream,
                sh: ServerHello, sh_body: bytes, want_certificate: bool, max_bytes: int,
                shares: dict[int, tls13_keys.KeyShare], server_name: str | None) -> None:
    """After a TLS 1.3 ServerHello or HelloRetryRequest: the group, and the chain when wanted."""
    group, peer = _key_share_entry(sh)
    att.kex = named_kex("TLS1.3", group)
    if not want_certificate:
        return
    ch1 = att.sent[5:]
    if sh.hello_retry:
        share = tls13_keys.make_share(group)
        if share is None:
            att.certificate_note = (f"the server asked for a {group_name(group)} key share, which probe does not "
                                    "compute: the encrypted certificate was not read")
            return
        cookie_ext = sh.extensions.get(EXT_COOKIE)
        cookie = cookie_ext[2:] if cookie_ext and len(cookie_ext) >= 2 else None
        random, sid = ch1[6:38], ch1[39:39 + ch1[38]]
        ch2_record = build_tls13_hello(att.offered_suites, key_shares=[(group, share.public)], random=random,
                                       session_id=sid, server_name=server_name, groups=att.offered_groups,
                                       cookie=cookie)
        sock.sendall(ch2_record)
        att.sent += ch2_record
        alg = tls13_keys.SUITES.get(sh.cipher_suite, ("sha256",))[0]
        transcript = tls13_keys.message_hash(alg, ch1) + _hs_bytes(HS_SERVER_HELLO, sh_body) + ch2_record[5:]
        msg = stream.next_message()
        if msg is None or msg[0] != HS_SERVER_HELLO:
            att.certificate_note = "the server did not answer the second ClientHello with a ServerHello"
            return
        sh2 = parse_server_hello(msg[1])
        if sh2.hello_retry or sh2.cipher_suite != sh.cipher_suite:
            raise TLSParseError("second ServerHello is inconsistent with the HelloRetryRequest")
        group2, peer = _key_share_entry(sh2)
        if group2 != group:
            raise TLSParseError("second ServerHello chose another group than the HelloRetryRequest")
        transcript += _hs_bytes(HS_SERVER_HELLO, msg[1])
        suite = sh2.cipher_suite
    else:
        share = shares.get(group)
        if share is None:
            raise TLSParseError(f"server chose key share group {group_name(group)}, which was not offered")
        transcript = ch1 + _hs_bytes(HS_SERVER_HELLO, sh_body)
        suite = sh.cipher_suite
    if stream.buf:
        raise TLSParseError("handshake bytes after ServerHello in the same plaintext record")
    try:
        decryptor = tls13_keys.HandshakeDecryptor(suite, share.shared_secret(peer), transcript)
    except ValueError as exc:
        att.certificate_note = str(exc)
        return
    buf = bytearray()
    for _ in range(MAX_PROTECTED_RECORDS):
        ctype, rversion, payload = reader.record()
        if ctype == CT_CHANGE_CIPHER_SPEC:
            continue  # middlebox compatibility (RFC 8446 D.4)
        if ctype == CT_ALERT:
            att.certificate_note = "server sent a plaintext alert instead of its encrypted flight"
            return
        if ctype != CT_APPLICATION_DATA:
            raise TLSParseError(f"unexpected record type {ctype} in the TLS 1.3 server flight")
        try:
            inner, content = decryptor.decrypt(struct.pack("!BHH", ctype, rversion, len(payload)), payload)
        except ValueError as exc:
            att.certificate_note = str(exc)
            return
        if inner == CT_ALERT:
            att.certificate_note = "server sent an encrypted alert before its certificate"
            return
        if inner != CT_HANDSHAKE:
            raise TLSParseError(f"protected record of type {inner} before the handshake completed")
        buf += content
        while len(buf) >= 4:
            mlen = int.from_bytes(buf[1:4], "big")
            if mlen > max_bytes:
                raise TLSParseError(f"handshake message of {mlen} bytes exceeds our cap")
            if len(buf) < 4 + mlen:
                break
            mtype, body = buf[0], bytes(buf[4:4 + mlen])
            del buf[:4 + mlen]
            if mtype == HS_CERTIFICATE:
                att.certificates = parse_tls13_certificate(body)
                return
            if mtype in (HS_CERTIFICATE_VERIFY, HS_FINISHED):
                att.certificate_note = "the server's flight has no Certificate message"
                return
            if mtype not in (HS_ENCRYPTED_EXTENSIONS, HS_CERTIFICATE_REQUEST):
                raise TLSParseError(f"unexpected TLS 1.3 handshake message type {mtype}")
    att.certificate_note = f"no Certificate message within {MAX_PROTECTED_RECORDS} protected records"


# -- whole-service scan --------------------------------------------------------------------------
@dataclass
class VersionResult:
    version: str
    accepted: bool | None  # None: could not be determined
    reason: str = ""
    reason_code: str | None = None
    suites: list[int] = field(default_factory=list)  # accepted suites in the order found
    suites_complete: bool = False  # enumeration reached the server's "no more" answer
    suites_note: str = ""
    key_exchange: list[tuple[int, KexInfo]] = field(default_factory=list)  # (suite, group) per handshake seen
    groups_probed: list[int] = field(default_factory=list)  # groups offered on their own (off-policy probe)
    groups_accepted: list[int] = field(default_factory=list)  # of those, the ones the server chose
    groups_complete: bool = False
    groups_note: str = ""

    def to_json(self) -> dict:
        return {"version": self.version, "accepted": self.accepted, "reason": self.reason,
                "reason_code": self.reason_code, "suites": [suite_name(s) for s in self.suites],
                "suite_codes": [f"0x{s:04X}" for s in self.suites], "suites_complete": self.suites_complete,
                "suites_note": self.suites_note,
                "key_exchange": [{"suite": suite_name(s), **k.to_json()} for s, k in self.key_exchange],
                "groups_probed": [group_name(g) for g in self.groups_probed],
                "groups_accepted": [group_name(g) for g in self.groups_accepted],
                "groups_complete": self.groups_complete if self.groups_probed else None,
                "groups_note": self.groups_note}


@dataclass
class TLSScan:
    versions: dict[str, VersionResult] = field(default_factory=dict)
    certificates: list[bytes] = field(default_factory=list)  # DER, leaf first, as the server sent them
    certificate_source: str = ""  # which handshake they came from
    attempts: list[HelloAttempt] = field(default_factory=list)
    connections: int = 0
    budget_exhausted: bool = False
    # a ServerHello above the version the hello offered (RFC 5246 E.1, RFC 8446 4.1.3 forbid it):
    # the server does not negotiate, so its ServerHello alone proves no version (see scan)
    version_violation: str = ""

    @property
    def accepted_versions(self) -> list[str]:
        return [v for v, r in self.versions.items() if r.accepted]

    @property
    def any_handshake(self) -> bool:
        return any(a.server_hello is not None for a in self.attempts)

    def to_json(self) -> dict:
        return {"versions": {k: v.to_json() for k, v in self.versions.items()},
                "connections": self.connections, "budget_exhausted": self.budget_exhausted,
                "certificate_source": self.certificate_source, "certificates": len(self.certificates),
                "version_violation": self.version_violation or None}


ORDER = ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3")


def _certificate_source(name: str) -> str:
    if name == "TLSv1.3":
        return ("TLSv1.3 handshake: probe derived the handshake keys and decrypted the server's Certificate "
                "message (the chain as sent)")
    return f"{name} handshake (parsed from the server's Certificate message, sent in clear)"


def scan(connect: Connect, *, max_connections: int = 60, timeout: float = 5.0,
         check_cancelled: Callable[[], None] = lambda: None, enumerate_suites: bool = True,
         max_bytes: int = 256 * 1024, server_name: str | None = None,
         probe_groups: Callable[[str], list[int]] | None = None) -> TLSScan:
    """Versions first (one connection each, newest first), then suites per accepted version
    (offer everything, remove the chosen suite, repeat) until the server refuses or the
    connection budget is spent; the group of every ephemeral handshake is recorded. Last, when
    `probe_groups(version)` names groups (the caller's off-policy list), those are offered on
    their own, removing each one the server picks, to learn which of them it accepts. The
    result says which lists are complete."""
    result = TLSScan()

    def attempt(version: int, suites: list[int], want_cert: bool,
                groups: tuple[int, ...] | None = None, want_flight: bool = False) -> HelloAttempt | None:
        if result.connections >= max_connections:
            result.budget_exhausted = True
            return None
        check_cancelled()
        result.connections += 1
        att = hello(connect, version, suites, timeout=timeout, want_certificate=want_cert, want_kex=True,
                    max_bytes=max_bytes, groups=groups, server_name=server_name, want_flight=want_flight)
        result.attempts.append(att)
        return att

    first_choice: dict[str, int] = {}
    by_version: dict[str, HelloAttempt] = {}
    for name in ORDER:
        v = VERSIONS[name]
        att = attempt(v, suites_for(v, include_anon=False), want_cert=not result.certificates, want_flight=True)
        if att is not None:
            by_version[name] = att
        if att is None:
            result.versions[name] = VersionResult(name, None, "connection budget exhausted", None)
            continue
        vr = VersionResult(name, None, att.reason, att.reason_code)
        if att.outcome == ACCEPTED:
            vr.accepted = True
            assert att.server_hello is not None
            first_choice[name] = att.server_hello.cipher_suite
            if att.kex is not None:
                vr.key_exchange.append((att.server_hello.cipher_suite, att.kex))
            if att.certificates and not result.certificates:
                result.certificates = att.certificates
                result.certificate_source = _certificate_source(name)
        elif att.outcome == REJECTED:
            vr.accepted = False
        result.versions[name] = vr

    _distrust_a_non_negotiating_server(result, by_version, first_choice)
    if not enumerate_suites:
        return result
    # Newest first: the versions a policy allows matter most for the suite list.
    for name in ORDER:
        vr = result.versions[name]
        if not vr.accepted:
            continue
        v = VERSIONS[name]
        remaining = suites_for(v, include_anon=True)
        found: list[int] = []
        for _ in range(len(remaining) + 1):
            if not remaining:
                vr.suites_complete = True
                break
            att = attempt(v, remaining, want_cert=False)
            if att is None:
                vr.suites_note = "connection budget exhausted before the suite list was complete"
                break
            if att.outcome == ACCEPTED and att.server_hello is not None:
                code = att.server_hello.cipher_suite
                found.append(code)
                remaining.remove(code)
                if att.kex is not None and all(k != att.kex for _, k in vr.key_exchange):
                    vr.key_exchange.append((code, att.kex))
                continue
            if att.outcome == REJECTED:
                vr.suites_complete = True
                break
            vr.suites_note = f"enumeration stopped: {att.reason}"
            break
        if not found and name in first_choice:
            found.append(first_choice[name])
        vr.suites = found
    if probe_groups is not None:
        for name in ORDER:
            _probe_groups(result, name, probe_groups(name), attempt)
    return result


def _distrust_a_non_negotiating_server(result: TLSScan, by_version: dict[str, HelloAttempt],
                                       first_choice: dict[str, int]) -> None:
    """A server that answers a hello with a version above the one offered is not negotiating: it
    sends the same ServerHello whatever it is asked. That answer is a protocol violation, never
    "accepted that version", and it also takes the weight from its other ServerHellos: a version
    then counts as accepted only when the server went on to complete its first flight for it
    (to ServerHelloDone). When none did, no version can be read, and the check says so."""
    higher = [a for a in by_version.values() if a.server_hello is not None
              and a.server_hello.version > a.offered_version]
    if not higher:
        return
    result.version_violation = "; ".join(
        f"answered a {VERSION_NAMES.get(a.offered_version, hex(a.offered_version))} hello with "
        f"{a.server_hello.version_name}" for a in higher if a.server_hello is not None)
    for name, att in by_version.items():
        vr = result.versions.get(name)
        if vr is None or not vr.accepted or name == "TLSv1.3" or att.flight_done:
            continue
        vr.accepted = None
        vr.reason_code = MISBEHAVED
        vr.reason = (f"ServerHello {name}, but this server also picks versions above what a hello offers (a "
                     "protocol violation) and did not complete its first flight here "
                     f"({att.certificate_note or att.reason or 'no ServerHelloDone'}): acceptance not proven")
        first_choice.pop(name, None)
        vr.key_exchange.clear()


def _probe_groups(result: TLSScan, name: str, groups: list[int],
                  attempt: Callable[..., HelloAttempt | None]) -> None:
    """Which of `groups` the server accepts in version `name` (bounded: one connection each at most)."""
    vr = result.versions.get(name)
    if vr is None or not vr.accepted or not groups:
        return
    v = VERSIONS[name]
    if name == "TLSv1.3":
        suites = list(vr.suites or TLS13_SUITES)
    else:
        if not any(k.kind == "ECDHE" for _, k in vr.key_exchange):
            return  # no ECDHE suite accepted: the named curve is never used in this version
        suites = [s for s in (vr.suites or suites_for(v)) if cipher_suites()[s].key_exchange == "ECDHE"]
    if not suites:
        return
    # In TLS <= 1.2 supported_groups also constrains an ECDSA certificate's curve (RFC 8422 5.1), so
    # a server with only ECDSA suites refuses a list without its own curve. Then the other groups
    # follow the probed ones, least preferred: a server choosing by the client's order (OpenSSL's
    # default) still picks a probed group when it accepts one.
    tail: tuple[int, ...] = ()
    if name != "TLSv1.3":
        rsa = [s for s in suites if "_ECDHE_ECDSA_" not in cipher_suites()[s].name]
        if rsa:
            suites = rsa
        else:
            tail = tuple(g for g in GROUPS if g not in groups and named_groups()[g].kind == "ec")
    remaining = list(groups)
    vr.groups_probed = list(groups)
    for _ in range(len(groups) + 1):
        if not remaining:
            vr.groups_complete = True
            return
        att = attempt(v, suites, False, tuple(remaining) + tail)
        if att is None:
            vr.groups_note = "connection budget exhausted before every group was tried"
            return
        if att.outcome == ACCEPTED and att.kex is not None and att.kex.code in remaining:
            vr.groups_accepted.append(att.kex.code)
            remaining.remove(att.kex.code)
            continue
        if att.outcome == REJECTED or (att.outcome == ACCEPTED and att.kex is not None):
            # refused, or answered with a group we did not offer (its own default): none of these taken
            vr.groups_complete = True
            if att.outcome == ACCEPTED and att.kex is not None:
                vr.groups_note = f"the server ignored the offered groups and used {att.kex.group}"
            return
        vr.groups_note = f"group probing stopped: {att.reason or att.certificate_note or att.outcome}"
        return


# -- the certificate chain alone (tls_certificate) -----------------------------------------------
@dataclass
class ChainRead:
    certificates: list[bytes]
    source: str  # how the chain was obtained, for the finding
    complete: bool  # False: only the leaf could be read
    attempts: list[HelloAttempt] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reason_code: str | None = None


def read_chain(connect: Connect, *, timeout: float = 5.0, max_bytes: int = 256 * 1024,
               server_name: str | None = None, check_cancelled: Callable[[], None] = lambda: None) -> ChainRead:
    """The served chain with as few connections as possible: probe's own TLS 1.3 handshake first
    (decrypted), then its TLS 1.2 .. SSL 3.0 hellos (Certificate in clear), and only if all of
    those fail the local TLS stack (which on Python < 3.13 yields the leaf alone)."""
    out = ChainRead([], "", False)
    for name in ORDER:
        check_cancelled()
        v = VERSIONS[name]
        att = hello(connect, v, suites_for(v, include_anon=False), timeout=timeout, want_certificate=True,
                    max_bytes=max_bytes, server_name=server_name)
        out.attempts.append(att)
        if att.outcome == ACCEPTED and att.certificates:
            out.certificates, out.source, out.complete = att.certificates, _certificate_source(name), True
            return out
        out.problems.append(f"{name}: {att.certificate_note or att.reason or att.outcome}")
        if att.outcome == ERROR:
            out.reason_code = att.reason_code or MISBEHAVED
            if att.reason_code == CONNECTIVITY:
                return out
    check_cancelled()
    fetched = fetch_certificates_with_ssl(connect, timeout=timeout, server_name=server_name)
    if fetched.certificates:
        out.certificates = fetched.certificates
        out.source = f"{fetched.version or 'TLS'} via Python's ssl module: {fetched.note}"
        out.complete = len(fetched.certificates) > 1 or "leaf" not in fetched.note
        return out
    out.problems.append(f"Python ssl: {fetched.error}")
    out.reason_code = fetched.reason_code or out.reason_code
    return out


# -- last resort: certificate through the local TLS stack ----------------------------------------
@dataclass
class SslFetch:
    certificates: list[bytes]
    note: str
    error: str = ""
    reason_code: str | None = None
    version: str = ""


def fetch_certificates_with_ssl(connect: Connect, *, timeout: float = 5.0,
                                server_name: str | None = None) -> SslFetch:
    """The peer certificate via Python's ssl with verification off and SECLEVEL 0.

    Only used when probe's own handshakes could not read a chain (e.g. a TLS 1.3 server that
    insists on an ffdhe key share). Python 3.13 offers the whole chain (`get_unverified_chain`);
    on 3.11/3.12 only the leaf is available, and the note says so.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ssl.SSLError):
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    try:
        with connect() as sock:
            sock.settimeout(timeout)
            with ctx.wrap_socket(sock, server_hostname=server_name or None, do_handshake_on_connect=False) as tls:
                tls.do_handshake()
                version = tls.version() or ""
                chain_fn = getattr(tls, "get_unverified_chain", None)
                if chain_fn is not None:
                    chain = chain_fn() or []
                    der = ssl.ENCODING_DER  # type: ignore[attr-defined]  # 3.13+, like get_unverified_chain
                    ders = [c.public_bytes(der) if hasattr(c, "public_bytes") else bytes(c) for c in chain]
                    return SslFetch(ders, "full chain as sent (ssl.get_unverified_chain)", version=version)
                leaf = tls.getpeercert(binary_form=True)
                if not leaf:
                    return SslFetch([], "", "server sent no certificate", MISBEHAVED, version)
                return SslFetch([leaf], "leaf certificate only: this Python has no get_unverified_chain "
                                        "(3.13+), so intermediates were not read",
                                version=version)
    except ssl.SSLError as exc:
        return SslFetch([], "", f"local TLS stack could not complete the handshake: {exc}", MISBEHAVED)
    except TimeoutError:
        return SslFetch([], "", "handshake timed out", MISBEHAVED)
    except OSError as exc:
        return SslFetch([], "", f"connection failed: {exc}", CONNECTIVITY)
