"""DNS and mDNS messages: build one question, parse the answer (RFC 1035; mDNS is the same format).

The one DNS implementation: discovery asks `version.bind` CH TXT over UDP and TCP and
`_services._dns-sd._udp.local` PTR by unicast mDNS, and every answer is parsed here. Hand-written
rather than scapy's DNS layer: probe needs one question and a bounded answer reader, and scapy
costs ~0.5 s and ~40 MB at import for it (measured in bench/parsers_bench.py, numbers in the
README's dependency table).

Device bytes are hostile input: every loop is bounded (questions, answers, labels, compression
pointers), and a truncated or malformed answer section keeps what was read before the fault.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

# Record types and classes probe asks for or reads
A, NS, CNAME, PTR, TXT = 1, 2, 5, 12, 16
IN, CH = 1, 3

VERSION_BIND = "version.bind"  # BIND, dnsmasq, Unbound, ... answer CH TXT with their product/version
MDNS_SERVICES = "_services._dns-sd._udp.local"  # DNS-SD service enumeration (RFC 6763 §9)

MAX_QUESTIONS = 8
MAX_ANSWERS = 32
_MAX_LABELS = 128  # labels skipped in one name
_MAX_HOPS = 64  # labels + compression pointers followed when reading one name: a pointer loop cannot hang us


@dataclass(frozen=True)
class Answer:
    rtype: int
    text: str  # TXT strings joined by spaces; a name for PTR/NS/CNAME; hex for anything else


@dataclass(frozen=True)
class Response:
    """A DNS response to one of our queries (the QR bit set and, when asked, our ID)."""

    qid: int
    rcode: int
    answers: tuple[Answer, ...]

    def first(self, rtype: int) -> str | None:
        """The text of the first answer of this type, or None."""
        return next((a.text for a in self.answers if a.rtype == rtype), None)

    def all(self, rtype: int) -> list[str]:
        return [a.text for a in self.answers if a.rtype == rtype]


def random_id() -> int:
    return int.from_bytes(os.urandom(2), "big")


def encode_name(name: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in name.strip(".").split(".") if label) + b"\0"


def query(qid: int, name: str, qtype: int, qclass: int = IN, *, rd: bool = False) -> bytes:
    """One question, no recursion unless `rd` (probe asks the device itself, never a resolver chain)."""
    return (struct.pack("!HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0) + encode_name(name)
            + struct.pack("!HH", qtype, qclass))


def tcp_frame(message: bytes) -> bytes:
    """DNS over TCP: the message behind its two-byte length (RFC 1035 §4.2.2)."""
    return struct.pack("!H", len(message)) + message


def _skip_name(data: bytes, pos: int) -> int:
    for _ in range(_MAX_LABELS):
        if pos >= len(data):
            raise ValueError("truncated name")
        n = data[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + n
    raise ValueError("name too long")


def _read_name(data: bytes, pos: int) -> str:
    labels: list[str] = []
    for _ in range(_MAX_HOPS):
        if pos >= len(data):
            raise ValueError("truncated name")
        n = data[pos]
        if n == 0:
            break
        if n & 0xC0 == 0xC0:
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            continue
        labels.append(data[pos + 1:pos + 1 + n].decode("latin-1"))
        pos += 1 + n
    return ".".join(labels)


def _txt(rdata: bytes) -> str:
    texts, p = [], 0
    while p < len(rdata):
        texts.append(rdata[p + 1:p + 1 + rdata[p]].decode("latin-1"))
        p += 1 + rdata[p]
    return " ".join(texts)


def parse_response(data: bytes, qid: int | None = None) -> Response | None:
    """The response in `data`, or None when it is no DNS response (or not to query `qid`)."""
    if len(data) < 12:
        return None
    rid, flags, qd, an, _ns, _ar = struct.unpack_from("!HHHHHH", data)
    if not flags & 0x8000 or (qid is not None and rid != qid):
        return None
    answers: list[Answer] = []
    try:
        pos = 12
        for _ in range(min(qd, MAX_QUESTIONS)):
            pos = _skip_name(data, pos) + 4
        for _ in range(min(an, MAX_ANSWERS)):
            pos = _skip_name(data, pos)
            rtype, _rclass, _ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
            pos += 10
            rdata = data[pos:pos + rdlen]
            if rtype == TXT:
                answers.append(Answer(rtype, _txt(rdata)))
            elif rtype in (PTR, NS, CNAME):
                answers.append(Answer(rtype, _read_name(data, pos)))
            else:
                answers.append(Answer(rtype, rdata.hex()))
            pos += rdlen
    except (ValueError, struct.error, IndexError):
        pass  # a malformed record ends the answer section; what came before it stands
    return Response(rid, flags & 0x000F, tuple(answers))


def parse_tcp_response(data: bytes, qid: int | None = None) -> Response | None:
    """A DNS-over-TCP answer (length-prefixed), or None when the bytes are not one."""
    if len(data) < 14:
        return None
    length = struct.unpack_from("!H", data)[0]
    return parse_response(data[2:2 + length], qid)
