"""CoAP (RFC 7252): a confirmable GET, and the resource directory a server lists at /.well-known/core.

A CoAP server lists the resources it offers in CoRE Link Format (RFC 6690) at
`/.well-known/core`: discovery asks exactly that, with GET, which reads and changes nothing. A
listing handed out without any security (plain CoAP on 5683 has no authentication; CoAPS on 5684
is DTLS) is an open device API. Only the first block of a long answer is read (RFC 7959 Block2:
we never ask for the next block).
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field

from probe.protocols import udpio

PORT = 5683
CON, NON, ACK, RST = 0, 1, 2, 3
GET = 0x01
URI_PATH, CONTENT_FORMAT, BLOCK2 = 11, 12, 23
CLASSES = {2: "Success", 4: "Client Error", 5: "Server Error"}
NAMES = {0x45: "2.05 Content", 0x81: "4.01 Unauthorized", 0x83: "4.03 Forbidden", 0x84: "4.04 Not Found",
         0x85: "4.05 Method Not Allowed", 0xA0: "5.00 Internal Server Error"}
_LINK = re.compile(r"<([^>]{0,300})>((?:;[^,<]{0,300})*)")


class CoapError(ValueError):
    """The bytes are not a CoAP message."""


def code_text(code: int) -> str:
    return NAMES.get(code, f"{code >> 5}.{code & 0x1F:02d}")


def _option(delta: int, value: bytes) -> bytes:
    def nib(n: int) -> tuple[int, bytes]:
        if n < 13:
            return n, b""
        if n < 269:
            return 13, bytes([n - 13])
        return 14, struct.pack("!H", n - 269)
    d, dx = nib(delta)
    ln, lx = nib(len(value))
    return bytes([(d << 4) | ln]) + dx + lx + value


def get_request(path: str, message_id: int | None = None, token: bytes | None = None) -> tuple[bytes, int, bytes]:
    """(a confirmable GET for `path`, its message ID, its token)."""
    mid = int.from_bytes(os.urandom(2), "big") if message_id is None else message_id
    tok = os.urandom(4) if token is None else token
    out = bytes([(1 << 6) | (CON << 4) | len(tok), GET]) + struct.pack("!H", mid) + tok
    last = 0
    for segment in (s for s in path.split("/") if s):
        out += _option(URI_PATH - last, segment.encode("utf-8"))
        last = URI_PATH
    return out, mid, tok


def empty_ack(message_id: int) -> bytes:
    """The empty ACK that confirms a separate (CON) response, so the server stops resending it."""
    return bytes([(1 << 6) | (ACK << 4), 0]) + struct.pack("!H", message_id)


@dataclass(frozen=True)
class Message:
    type: int
    code: int
    message_id: int
    token: bytes
    options: list[tuple[int, bytes]] = field(default_factory=list)
    payload: bytes = b""

    @property
    def code_text(self) -> str:
        return code_text(self.code)

    def option(self, number: int) -> bytes | None:
        return next((v for n, v in self.options if n == number), None)

    @property
    def more_blocks(self) -> bool:
        block = self.option(BLOCK2)
        return bool(block) and bool(block[-1] & 0x08)  # type: ignore[index]


def parse(data: bytes) -> Message:
    if len(data) < 4 or data[0] >> 6 != 1:
        raise CoapError("not a CoAP version-1 message")
    tkl = data[0] & 0x0F
    if tkl > 8 or len(data) < 4 + tkl:
        raise CoapError("bad token length")
    mtype, code, mid = (data[0] >> 4) & 3, data[1], struct.unpack_from("!H", data, 2)[0]
    token, i, number, options = data[4:4 + tkl], 4 + tkl, 0, []
    while i < len(data) and data[i] != 0xFF:
        delta, length = data[i] >> 4, data[i] & 0x0F
        i += 1
        ext = []
        for n in (delta, length):
            if n == 13:
                if i >= len(data):
                    raise CoapError("truncated option")
                ext.append(data[i] + 13)
                i += 1
            elif n == 14:
                if i + 2 > len(data):
                    raise CoapError("truncated option")
                ext.append(struct.unpack_from("!H", data, i)[0] + 269)
                i += 2
            elif n == 15:
                raise CoapError("reserved option nibble")
            else:
                ext.append(n)
        number += ext[0]
        if i + ext[1] > len(data):
            raise CoapError("option longer than the message")
        options.append((number, data[i:i + ext[1]]))
        i += ext[1]
        if len(options) > 64:
            raise CoapError("too many options")
    payload = data[i + 1:] if i < len(data) else b""
    return Message(mtype, code, mid, token, options, payload)


def answer_to(data: bytes, message_id: int, token: bytes) -> Message | None:
    """The response to our request (piggybacked ACK or a separate response with our token), a
    bare ACK of it (code 0: the response follows), or None for anything else."""
    try:
        m = parse(data)
    except CoapError:
        return None
    if m.type == ACK and m.message_id == message_id and (m.code == 0 or m.token == token):
        return m
    if m.type in (CON, NON) and m.token == token and m.code >= 0x40:
        return m
    if m.type == RST and m.message_id == message_id:
        return m
    return None


@dataclass(frozen=True)
class Link:
    target: str
    attributes: dict[str, str]


def links(payload: bytes) -> list[Link]:
    """CoRE Link Format entries (`</sensors/temp>;rt="temperature";if="sensor"`), at most 100."""
    out: list[Link] = []
    for m in _LINK.finditer(payload[:16384].decode("utf-8", "replace")):
        attrs: dict[str, str] = {}
        for part in m.group(2).split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip():
                attrs[key.strip()] = value.strip().strip('"')
        out.append(Link(m.group(1), attrs))
        if len(out) >= 100:
            break
    return out


@dataclass
class Exchange:
    request: bytes
    state: str  # open | closed | unreachable | no-answer (probe.protocols.udpio)
    replies: list[bytes] = field(default_factory=list)
    response: Message | None = None  # the response (not a bare ACK), when one came


def get(host: str, port: int, path: str, *, timeout: float, attempts: int = 2) -> Exchange:
    """A confirmable GET of `path` (read-only). A separate response (bare ACK first, then a CON
    with our token) is confirmed with an empty ACK, so the server stops resending it."""
    request, mid, token = get_request(path)

    def whole(replies: list[bytes]) -> bool:
        return any((m := answer_to(r, mid, token)) is not None and (m.code != 0 or m.type == RST) for r in replies)
    state, replies = udpio.ask(host, port, request, lambda d: answer_to(d, mid, token) is not None,
                               timeout=timeout, attempts=attempts, done=whole)
    ex = Exchange(request, state, replies)
    for r in replies:
        m = answer_to(r, mid, token)
        if m is None:
            continue
        if m.code != 0 or m.type == RST:
            ex.response = m
        if m.type == CON:
            udpio.ask(host, port, empty_ack(m.message_id), lambda _d: False, timeout=0.01)
    return ex
