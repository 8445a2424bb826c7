"""TLS auditing with ClientHellos we write ourselves.

Why not the local OpenSSL: OpenSSL 3 refuses TLS 1.0/1.1, SSL 3.0, SHA-1 signatures and small
keys by default, and lacks RC4/3DES/export suites entirely, so a scanner built on it reports
"not offered" for exactly the weaknesses a compliance scan must find. We only need the server's
*first flight* (ServerHello, and for TLS <= 1.2 the Certificate message that follows it in clear),
so we build the ClientHello with `struct` and parse the answer ourselves.

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

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from probe.protocols.netio import ReadTimeout, read_exact

# -- constants from RFC 5246 / RFC 8446 ----------------------------------------------------------
VERSIONS: dict[str, int] = {"SSLv3": 0x0300, "TLSv1.0": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303,
                            "TLSv1.3": 0x0304}
VERSION_NAMES = {v: k for k, v in VERSIONS.items()}
CT_CHANGE_CIPHER_SPEC, CT_ALERT, CT_HANDSHAKE, CT_APPLICATION_DATA = 20, 21, 22, 23
HS_CLIENT_HELLO, HS_SERVER_HELLO, HS_CERTIFICATE, HS_SERVER_HELLO_DONE = 1, 2, 11, 14
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

# Groups we claim to support: broad, so that a server with only old curves still answers.
# x25519, secp256r1/384r1/521r1, x448, ffdhe2048..8192, and the legacy sect/secp curves.
GROUPS = (29, 23, 24, 25, 30, 256, 257, 258, 259, 260, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
          14, 15, 16, 17, 18, 19, 20, 21, 22, 26, 27, 28)
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


def build_client_hello(version: int, suites: list[int], *, random: bytes | None = None,
                       x25519_public: bytes | None = None) -> bytes:
    """One TLS record holding a ClientHello whose highest version is `version`.

    For TLS 1.3 the legacy version is 1.2 and the real one is in supported_versions, with an
    x25519 key share (a server preferring another group answers HelloRetryRequest, which still
    tells us it accepted TLS 1.3 and which suite it chose). SSL 3.0 hellos carry no extensions.
    """
    random = random if random is not None else os.urandom(32)
    tls13 = version == VERSIONS["TLSv1.3"]
    legacy_version = VERSIONS["TLSv1.2"] if tls13 else version
    offered = list(suites)
    if not tls13:
        offered.append(SCSV_RENEGOTIATION)
    body = struct.pack("!H", legacy_version) + random
    session_id = os.urandom(32) if tls13 else b""  # middlebox-compatibility mode for 1.3
    body += bytes([len(session_id)]) + session_id
    body += _u16_list(offered)
    body += b"\x01\x00"  # compression: null only
    if version >= VERSIONS["TLSv1.0"]:
        exts = b""
        exts += _ext(10, _u16_list(GROUPS))  # supported_groups
        exts += _ext(11, b"\x01\x00")  # ec_point_formats: uncompressed
        exts += _ext(23, b"")  # extended_master_secret
        if version >= VERSIONS["TLSv1.2"]:
            exts += _ext(13, _u16_list(TLS13_SIGALGS if tls13 else SIGALGS))  # signature_algorithms
        if tls13:
            exts += _ext(43, b"\x02\x03\x04")  # supported_versions: TLS 1.3 only
            exts += _ext(45, b"\x01\x01")  # psk_key_exchange_modes: psk_dhe_ke (harmless, expected)
            pub = x25519_public or X25519PrivateKey.generate().public_key().public_bytes(
                Encoding.Raw, PublicFormat.Raw)
            share = struct.pack("!HH", 29, len(pub)) + pub
            exts += _ext(51, struct.pack("!H", len(share)) + share)  # key_share
        body += struct.pack("!H", len(exts)) + exts
    hs = bytes([HS_CLIENT_HELLO]) + struct.pack("!I", len(body))[1:] + body
    record_version = VERSIONS["SSLv3"] if version == VERSIONS["SSLv3"] else VERSIONS["TLSv1.0"]
    return struct.pack("!BHH", CT_HANDSHAKE, record_version, len(hs)) + hs


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
            if ctype != CT_HANDSHAKE:
                raise TLSParseError(f"unexpected record type {ctype} before the handshake completed")
            self.buf += payload


# -- one attempt ---------------------------------------------------------------------------------
ACCEPTED, REJECTED, ERROR = "accepted", "rejected", "error"
CONNECTIVITY, MISBEHAVED = "connectivity", "device-misbehaved"

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
    sent: bytes = b""
    received: bytes = b""

    @property
    def alert_name(self) -> str | None:
        if self.alert is None:
            return None
        return ALERTS.get(self.alert[1], f"alert {self.alert[1]}")


def hello(connect: Connect, version: int, suites: list[int], *, timeout: float = 5.0,
          want_certificate: bool = False, max_bytes: int = 256 * 1024) -> HelloAttempt:
    """Send one ClientHello on a fresh connection and classify the answer. Never raises for
    anything the peer does (only Cancelled from the context propagates)."""
    record = build_client_hello(version, suites)
    att = HelloAttempt(version, list(suites), ERROR, sent=record)
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
            _exchange(att, reader, want_certificate and version < VERSIONS["TLSv1.3"], max_bytes)
        except TLSParseError as exc:
            att.outcome, att.reason, att.reason_code = ERROR, str(exc), MISBEHAVED
        except ReadTimeout:
            if att.server_hello is not None:
                att.reason = "server stalled after ServerHello (certificate not read)"
            elif reader.received:
                att.outcome, att.reason, att.reason_code = ERROR, \
                    f"server stalled mid-answer after {len(reader.received)} bytes", MISBEHAVED
            else:
                att.outcome, att.reason, att.reason_code = ERROR, \
                    f"no answer to the ClientHello within {timeout:.1f}s", MISBEHAVED
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError) as exc:
            if att.server_hello is not None:
                att.reason = "server closed the connection after ServerHello"
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


def _exchange(att: HelloAttempt, reader: RecordReader, want_certificate: bool, max_bytes: int) -> None:
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
    if not want_certificate:
        return
    for _ in range(8):  # ServerHello is followed by at most a few messages before Certificate
        msg = stream.next_message()
        if msg is None:
            att.reason = f"server sent alert {att.alert_name or ''} before its certificate"
            return
        mtype, body = msg
        if mtype == HS_CERTIFICATE:
            att.certificates = parse_certificate_list(body)
            return
        if mtype == HS_SERVER_HELLO_DONE:
            return  # anonymous suite or PSK: no certificate


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

    def to_json(self) -> dict:
        return {"version": self.version, "accepted": self.accepted, "reason": self.reason,
                "reason_code": self.reason_code, "suites": [suite_name(s) for s in self.suites],
                "suite_codes": [f"0x{s:04X}" for s in self.suites], "suites_complete": self.suites_complete,
                "suites_note": self.suites_note}


@dataclass
class TLSScan:
    versions: dict[str, VersionResult] = field(default_factory=dict)
    certificates: list[bytes] = field(default_factory=list)  # DER, leaf first, as the server sent them
    certificate_source: str = ""  # which handshake they came from
    attempts: list[HelloAttempt] = field(default_factory=list)
    connections: int = 0
    budget_exhausted: bool = False

    @property
    def accepted_versions(self) -> list[str]:
        return [v for v, r in self.versions.items() if r.accepted]

    @property
    def any_handshake(self) -> bool:
        return any(a.server_hello is not None for a in self.attempts)

    def to_json(self) -> dict:
        return {"versions": {k: v.to_json() for k, v in self.versions.items()},
                "connections": self.connections, "budget_exhausted": self.budget_exhausted,
                "certificate_source": self.certificate_source, "certificates": len(self.certificates)}


def scan(connect: Connect, *, max_connections: int = 60, timeout: float = 5.0,
         check_cancelled: Callable[[], None] = lambda: None, enumerate_suites: bool = True,
         max_bytes: int = 256 * 1024) -> TLSScan:
    """Versions first (one connection each, newest first), then suites per accepted version
    (offer everything, remove the chosen suite, repeat) until the server refuses or the
    connection budget is spent. The result says which lists are complete."""
    result = TLSScan()

    def attempt(version: int, suites: list[int], want_cert: bool) -> HelloAttempt | None:
        if result.connections >= max_connections:
            result.budget_exhausted = True
            return None
        check_cancelled()
        result.connections += 1
        att = hello(connect, version, suites, timeout=timeout, want_certificate=want_cert, max_bytes=max_bytes)
        result.attempts.append(att)
        return att

    first_choice: dict[str, int] = {}
    for name in ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3"):
        v = VERSIONS[name]
        att = attempt(v, suites_for(v, include_anon=False), want_cert=not result.certificates)
        if att is None:
            result.versions[name] = VersionResult(name, None, "connection budget exhausted", None)
            continue
        vr = VersionResult(name, None, att.reason, att.reason_code)
        if att.outcome == ACCEPTED:
            vr.accepted = True
            assert att.server_hello is not None
            first_choice[name] = att.server_hello.cipher_suite
            if att.certificates and not result.certificates:
                result.certificates = att.certificates
                result.certificate_source = f"{name} handshake (parsed from the server's Certificate message)"
        elif att.outcome == REJECTED:
            vr.accepted = False
        result.versions[name] = vr

    if not enumerate_suites:
        return result
    # Newest first: the versions a policy allows matter most for the suite list.
    for name in ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3"):
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
                continue
            if att.outcome == REJECTED:
                vr.suites_complete = True
                break
            vr.suites_note = f"enumeration stopped: {att.reason}"
            break
        if not found and name in first_choice:
            found.append(first_choice[name])
        vr.suites = found
    return result


# -- TLS 1.3-only servers: certificate through the local TLS stack -------------------------------
@dataclass
class SslFetch:
    certificates: list[bytes]
    note: str
    error: str = ""
    reason_code: str | None = None
    version: str = ""


def fetch_certificates_with_ssl(connect: Connect, *, timeout: float = 5.0) -> SslFetch:
    """The peer certificate via Python's ssl with verification off and SECLEVEL 0.

    Needed when the server speaks only TLS 1.3, whose Certificate message is encrypted. Python
    3.13 offers the whole chain (`get_unverified_chain`); on 3.11/3.12 only the leaf is available,
    and the note says so.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ssl.SSLError):
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    try:
        with connect() as sock:
            sock.settimeout(timeout)
            with ctx.wrap_socket(sock, server_hostname=None, do_handshake_on_connect=False) as tls:
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
                                        "(3.13+), so intermediates of a TLS 1.3-only server are not read",
                                version=version)
    except ssl.SSLError as exc:
        return SslFetch([], "", f"local TLS stack could not complete the handshake: {exc}", MISBEHAVED)
    except TimeoutError:
        return SslFetch([], "", "handshake timed out", MISBEHAVED)
    except OSError as exc:
        return SslFetch([], "", f"connection failed: {exc}", CONNECTIVITY)
