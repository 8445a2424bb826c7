"""SNMP v1/v2c GET and SET, and SNMPv3 engine discovery, with hand-built BER (RFC 1157 / RFC 3416
PDUs, RFC 3412/3414 messages).

A few dozen lines of BER beat pulling scapy's layer into a check: we need GetRequest and
SetRequest with one varbind, an SNMPv3 GET without credentials, and a strict, bounded decoder for
the Response and the Report. The write test never changes the device: it sets a read-only object
(sysDescr.0) to the value just read, and reads the community's rights from the error-status
(RFC 3416 4.2.5: noAccess when the object is outside the community's write view, notWritable when
it is inside but cannot be changed).

SNMPv3 engine discovery (RFC 3414 section 4) is how an agent is found that answers no community:
v1/v2c agents drop a request with a wrong community without a word, but every USM agent answers
a GET with an empty engine ID and user name with a Report (usmStatsUnknownEngineIDs) carrying its
engine ID, boots and time, the same request nmap's UDP payload for port 161 sends.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

from probe.protocols.transcript import Transcript

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_CONTACT = "1.3.6.1.2.1.1.4.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_LOCATION = "1.3.6.1.2.1.1.6.0"
USM_STATS = "1.3.6.1.6.3.15.1.1"  # usmStats counters: the OIDs a USM Report names
USM_REPORTS = {"1.3.6.1.6.3.15.1.1.1.0": "usmStatsUnsupportedSecLevels", "1.3.6.1.6.3.15.1.1.2.0":
               "usmStatsNotInTimeWindows", "1.3.6.1.6.3.15.1.1.3.0": "usmStatsUnknownUserNames",
               "1.3.6.1.6.3.15.1.1.4.0": "usmStatsUnknownEngineIDs", "1.3.6.1.6.3.15.1.1.5.0":
               "usmStatsWrongDigests", "1.3.6.1.6.3.15.1.1.6.0": "usmStatsDecryptionErrors"}

V1, V2C, V3 = 0, 1, 3
GET, GETNEXT, RESPONSE, SET, REPORT = 0xA0, 0xA1, 0xA2, 0xA3, 0xA8
ERRORS = {0: "noError", 1: "tooBig", 2: "noSuchName", 3: "badValue", 4: "readOnly", 5: "genErr",
          6: "noAccess", 7: "wrongType", 8: "wrongLength", 9: "wrongEncoding", 10: "wrongValue",
          11: "noCreation", 12: "inconsistentValue", 13: "resourceUnavailable", 14: "commitFailed",
          15: "undoFailed", 16: "authorizationError", 17: "notWritable", 18: "inconsistentName"}
EXCEPTIONS = {0x80: "noSuchObject", 0x81: "noSuchInstance", 0x82: "endOfMibView"}


class BERError(ValueError):
    """The bytes are not the BER we expect."""


def enc_len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + enc_len(len(value)) + value


def enc_int(n: int) -> bytes:
    return tlv(0x02, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def enc_oid(oid: str) -> bytes:
    parts = [int(p) for p in oid.strip(".").split(".")]
    if len(parts) < 2:
        raise ValueError(f"OID too short: {oid}")
    out = bytearray((parts[0] * 40 + parts[1],))
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def dec_tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, next position); strict about lengths running past the buffer."""
    if pos + 2 > len(data):
        raise BERError("truncated TLV")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise BERError("bad long-form length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    else:
        length = first
    if pos + length > len(data):
        raise BERError("length runs past the end of the packet")
    return tag, data[pos:pos + length], pos + length


def dec_oid(value: bytes) -> str:
    if not value:
        raise BERError("empty OID")
    parts = [value[0] // 40, value[0] % 40] if value[0] < 80 else [2, value[0] - 80]
    n = 0
    for b in value[1:]:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(n)
            n = 0
    return ".".join(str(p) for p in parts)


def dec_value(tag: int, value: bytes) -> tuple[str, Any]:
    """(type name, python value) for the SMI types a Response carries."""
    if tag == 0x02:
        return "INTEGER", int.from_bytes(value, "big", signed=True)
    if tag == 0x04:
        return "OCTET STRING", value
    if tag == 0x05:
        return "NULL", None
    if tag == 0x06:
        return "OBJECT IDENTIFIER", dec_oid(value)
    if tag == 0x40:
        return "IpAddress", ".".join(str(b) for b in value)
    if tag in (0x41, 0x42, 0x43, 0x46):
        return {0x41: "Counter32", 0x42: "Gauge32", 0x43: "TimeTicks", 0x46: "Counter64"}[tag], \
            int.from_bytes(value, "big")
    if tag in EXCEPTIONS:
        return EXCEPTIONS[tag], None
    return f"tag-0x{tag:02x}", value


def enc_value(type_name: str, value: Any) -> bytes:
    """Re-encode a value read from the device, for the write-back test."""
    if type_name == "OCTET STRING":
        return tlv(0x04, bytes(value))
    if type_name == "INTEGER":
        return enc_int(int(value))
    if type_name == "OBJECT IDENTIFIER":
        return enc_oid(str(value))
    raise ValueError(f"will not write back a {type_name}")


def message(version: int, community: bytes, pdu_type: int, request_id: int, oid: str,
            value: bytes = b"\x05\x00") -> bytes:
    varbind = tlv(0x30, enc_oid(oid) + value)
    pdu = tlv(pdu_type, enc_int(request_id) + enc_int(0) + enc_int(0) + tlv(0x30, varbind))
    return tlv(0x30, enc_int(version) + tlv(0x04, community) + pdu)


@dataclass(frozen=True)
class Reply:
    version: int
    community: bytes
    pdu_type: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: tuple[tuple[str, str, Any], ...]  # (oid, type name, value)

    @property
    def error(self) -> str:
        return ERRORS.get(self.error_status, f"error {self.error_status}")


def parse_message(data: bytes) -> Reply:
    tag, body, end = dec_tlv(data)
    if tag != 0x30:
        raise BERError("not an SNMP message (no outer SEQUENCE)")
    t, v, p = dec_tlv(body)
    if t != 0x02:
        raise BERError("no version INTEGER")
    version = int.from_bytes(v, "big", signed=True)
    t, community, p = dec_tlv(body, p)
    if t != 0x04:
        raise BERError("no community OCTET STRING")
    pdu_type, pdu, _ = dec_tlv(body, p)
    fields = []
    q = 0
    for _ in range(3):
        t, v, q = dec_tlv(pdu, q)
        if t != 0x02:
            raise BERError("bad PDU header")
        fields.append(int.from_bytes(v, "big", signed=True))
    t, vbl, _ = dec_tlv(pdu, q)
    if t != 0x30:
        raise BERError("no varbind list")
    varbinds: list[tuple[str, str, Any]] = []
    r = 0
    while r < len(vbl) and len(varbinds) < 64:
        t, vb, r = dec_tlv(vbl, r)
        ot, ov, s = dec_tlv(vb)
        if ot != 0x06:
            raise BERError("varbind without an OID")
        vt, vv, _ = dec_tlv(vb, s)
        name, val = dec_value(vt, vv)
        varbinds.append((dec_oid(ov), name, val))
    return Reply(version, community, pdu_type, fields[0], fields[1], fields[2], tuple(varbinds))


@dataclass
class Client:
    """UDP request/response with retries; replies with a different request id are ignored."""

    host: str
    port: int
    t: Transcript
    timeout: float = 2.0
    retries: int = 1

    def request(self, version: int, community: bytes, pdu_type: int, oid: str,
                value: bytes = b"\x05\x00") -> Reply | None:
        request_id = secrets.randbelow(2**31 - 1)
        return self._exchange([request_id], [message(version, community, pdu_type, request_id, oid, value)])[0]

    def request_each(self, asks: list[tuple[int, bytes, int, str]]) -> list[Reply | None]:
        """Several (version, community, pdu type, oid) requests at once, each with its own request
        id: every round sends the unanswered ones and waits one timeout for all of them, so
        learning that N communities are silent costs one wait, not N."""
        ids = [secrets.randbelow(2**31 - 1) for _ in asks]
        msgs = [message(v, c, pdu, rid, oid) for (v, c, pdu, oid), rid in zip(asks, ids, strict=True)]
        return self._exchange(ids, msgs)

    def _exchange(self, ids: list[int], msgs: list[bytes]) -> list[Reply | None]:
        """Send `msgs` (request ids `ids`), collect the replies by request id; resend the unanswered
        ones `retries` times. Each round waits at most `timeout` and reads a bounded number of
        datagrams; an ICMP error ends the exchange (nothing listens)."""
        out: list[Reply | None] = [None] * len(msgs)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            for attempt in range(self.retries + 1):
                waiting = [i for i, r in enumerate(out) if r is None]
                if not waiting:
                    break
                for i in waiting:
                    self.t.sent(msgs[i])
                    s.sendto(msgs[i], (self.host, self.port))
                end = time.monotonic() + self.timeout
                for _ in range(8 * len(msgs)):  # bounded: the answers plus a few stray datagrams
                    left = end - time.monotonic()
                    if left <= 0 or all(r is not None for r in out):
                        break
                    s.settimeout(left)
                    try:
                        data, _addr = s.recvfrom(65535)
                    except TimeoutError:
                        break
                    except OSError as exc:  # ICMP port unreachable
                        self.t.note(f"no answer: {exc}")
                        return out
                    self.t.received(data)
                    try:
                        reply = parse_message(data)
                    except BERError as exc:
                        self.t.note(f"undecodable reply: {exc}")
                        continue
                    if reply.request_id in ids:
                        out[ids.index(reply.request_id)] = reply
                unanswered = sum(1 for r in out if r is None)
                if unanswered:
                    self.t.note(f"{unanswered} of {len(msgs)} requests unanswered within {self.timeout:.1f}s "
                                f"(try {attempt + 1})")
        return out


def v3_discovery_message(msg_id: int) -> bytes:
    """An SNMPv3 GET with empty USM parameters (RFC 3414 4.): a live agent answers with a Report.

    Used to tell "the agent is there but refused every community" (silence to v1/v2c) apart
    from "nothing answers at all".
    """
    global_data = tlv(0x30, enc_int(msg_id) + enc_int(65507) + tlv(0x04, b"\x04") + enc_int(3))
    usm = tlv(0x30, tlv(0x04, b"") + enc_int(0) + enc_int(0) + tlv(0x04, b"") + tlv(0x04, b"") + tlv(0x04, b""))
    pdu = tlv(GET, enc_int(msg_id) + enc_int(0) + enc_int(0) + tlv(0x30, b""))
    scoped = tlv(0x30, tlv(0x04, b"") + tlv(0x04, b"") + pdu)
    return tlv(0x30, enc_int(3) + global_data + tlv(0x04, usm) + scoped)


@dataclass(frozen=True)
class EngineReport:
    """What an SNMPv3 agent says about itself in answer to engine discovery (RFC 3414 4.)."""

    msg_id: int
    engine_id: bytes  # snmpEngineID (RFC 3411 5.): 4 bytes of enterprise number (high bit set) + format + data
    boots: int
    time: int
    pdu_type: int  # REPORT expected
    report: str  # the usmStats counter the Report names, e.g. usmStatsUnknownEngineIDs

    @property
    def enterprise(self) -> int | None:
        """The IANA enterprise number in an RFC 3411 engine ID (8072 is net-snmp), else None."""
        if len(self.engine_id) >= 5 and self.engine_id[0] & 0x80:
            return int.from_bytes(self.engine_id[:4], "big") & 0x7FFFFFFF
        return None

    def describe(self) -> str:
        ent = f", enterprise {self.enterprise}" if self.enterprise is not None else ""
        return (f"engine ID {self.engine_id.hex() or '(empty)'}{ent}, boots {self.boots}, time {self.time} s"
                f"{', ' + self.report if self.report else ''}")


def _int(value: bytes) -> int:
    if not value or len(value) > 9:
        raise BERError("bad INTEGER")
    return int.from_bytes(value, "big", signed=True)


def parse_v3_message(data: bytes) -> EngineReport:
    """An SNMPv3 message without privacy (a discovery Report): msgID, the USM engine parameters and
    what the PDU reports. Strict about structure and lengths; raises BERError otherwise."""
    tag, body, _ = dec_tlv(data)
    if tag != 0x30:
        raise BERError("not an SNMP message (no outer SEQUENCE)")
    t, v, p = dec_tlv(body)
    if t != 0x02 or _int(v) != V3:
        raise BERError("not an SNMPv3 message")
    t, header, p = dec_tlv(body, p)
    if t != 0x30:
        raise BERError("no msgGlobalData")
    t, v, _ = dec_tlv(header)
    if t != 0x02:
        raise BERError("no msgID")
    msg_id = _int(v)
    t, usm_raw, p = dec_tlv(body, p)
    if t != 0x04:
        raise BERError("no msgSecurityParameters")
    t, usm, _ = dec_tlv(usm_raw)
    if t != 0x30:
        raise BERError("USM parameters are not a SEQUENCE")
    t, engine_id, q = dec_tlv(usm)
    if t != 0x04 or len(engine_id) > 32:
        raise BERError("bad msgAuthoritativeEngineID")
    t, boots, q = dec_tlv(usm, q)
    t2, etime, q = dec_tlv(usm, q)
    if t != 0x02 or t2 != 0x02:
        raise BERError("bad engine boots/time")
    t, scoped, _ = dec_tlv(body, p)
    if t != 0x30:
        raise BERError("scopedPDU is encrypted or missing")
    _t, _ctx_engine, r = dec_tlv(scoped)
    _t, _ctx_name, r = dec_tlv(scoped, r)
    pdu_type, pdu, _ = dec_tlv(scoped, r)
    report = ""
    with contextlib.suppress(BERError, IndexError):
        q = 0
        for _ in range(3):
            _t, _v, q = dec_tlv(pdu, q)
        _t, vbl, _ = dec_tlv(pdu, q)
        _t, vb, _ = dec_tlv(vbl)
        ot, ov, _ = dec_tlv(vb)
        if ot == 0x06:
            oid = dec_oid(ov)
            report = USM_REPORTS.get(oid, oid)
    return EngineReport(msg_id, engine_id, _int(boots), _int(etime), pdu_type, report)


def discover_engine(host: str, port: int, t: Transcript, timeout: float = 2.0) -> EngineReport | None:
    """SNMPv3 engine discovery: the agent's Report, or None when nothing (or nothing SNMPv3) answered.

    The exchange is in the transcript: a Report proves an SNMP agent is listening, whatever it
    does with communities.
    """
    msg_id = secrets.randbelow(2**31 - 1)
    msg = v3_discovery_message(msg_id)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        t.note("SNMPv3 engine discovery (a GET with no engine ID and no user: any SNMPv3 agent answers "
               "with a Report) to see whether an agent is listening")
        t.sent(msg)
        try:
            s.connect((host, port))
            s.send(msg)
        except OSError as exc:
            t.note(f"could not send: {exc}")
            return None
        for _ in range(4):  # a few stray datagrams at most
            try:
                data = s.recv(65535)
            except (TimeoutError, OSError):
                t.note("no SNMPv3 answer")
                return None
            t.received(data)
            try:
                report = parse_v3_message(data)
            except BERError as exc:
                t.note(f"not an SNMPv3 answer: {exc}")
                continue
            if report.msg_id == msg_id:
                t.note(f"SNMPv3 Report: {report.describe()}")
                return report
        return None


def agent_answers_v3(host: str, port: int, t: Transcript, timeout: float = 2.0) -> bool:
    """True when an SNMPv3 engine-discovery request gets an SNMPv3 answer (see discover_engine)."""
    return discover_engine(host, port, t, timeout) is not None
