"""NTP (RFC 5905) client request and NTP control messages (RFC 9327, "mode 6"): build and parse.

Two read-only questions, both answered by a stock ntpd/ntpsec unless its configuration says
`noquery` for the asker:
- mode 3 (client): the ordinary time request every NTP client sends; the answer (mode 4) carries
  stratum, reference ID and our own transmit timestamp echoed as its origin, which proves the
  answer is to us;
- mode 6 READVAR (opcode 2) with association 0: the server's system variables (`ntpq -c rv`):
  version string, operating system, processor, reference clock, leap state. It reads and changes
  nothing; the risk it shows is that anyone can query the control interface (information
  disclosure, and the reflection that open mode 6 gives).

Mode 7 (ntpd's private "monlist", CVE-2013-5211) is not sent: it was removed from ntpd 4.2.7 and
never existed in ntpsec (Debian's NTP server), so no daemon here could prove a parser for it, and
its answer (up to 100 datagrams to one 8-byte request) is the amplification attack itself.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from probe.protocols import udpio

PORT = 123
CLIENT, SERVER, CONTROL = 3, 4, 6
READVAR = 2
_DAEMON = re.compile(r"(?i)\b(ntpsec|ntpd|chronyd|openntpd)[ -]+(?:ntpsec-)?v?([0-9][\w.+~-]{0,30})")
_VARS = re.compile(r'\s*([A-Za-z_][\w.]{0,40})=("(?:[^"]{0,400})"|[^,]{0,200})\s*(?:,|$)')


def client_request() -> tuple[bytes, bytes]:
    """(a mode-3 request, its transmit timestamp): version 4, everything zero but a random
    transmit timestamp, which the server must echo as the origin timestamp of its answer."""
    xmt = os.urandom(8)
    return bytes([(4 << 3) | CLIENT]) + bytes(39) + xmt, xmt


@dataclass(frozen=True)
class ServerAnswer:
    version: int
    stratum: int
    refid: str
    leap: int

    def describe(self) -> str:
        return f"NTPv{self.version} server, stratum {self.stratum}, reference {self.refid}, leap {self.leap}"


def parse_server(data: bytes, xmt: bytes) -> ServerAnswer | None:
    """A mode-4 answer whose origin timestamp is our transmit timestamp, else None."""
    if len(data) < 48:
        return None
    li_vn_mode, stratum = data[0], data[1]
    if li_vn_mode & 7 != SERVER or data[24:32] != xmt:
        return None
    ref = data[12:16]
    refid = ref.decode("ascii", "replace").strip("\x00") if stratum <= 1 else ".".join(str(b) for b in ref)
    return ServerAnswer((li_vn_mode >> 3) & 7, stratum, refid or "-", li_vn_mode >> 6)


def readvar_request(sequence: int) -> bytes:
    """Mode-6 READVAR for association 0 (the system variables): 12 bytes, no data."""
    return struct.pack("!BBHHHHH", (2 << 3) | CONTROL, READVAR, sequence & 0xFFFF, 0, 0, 0, 0)


@dataclass(frozen=True)
class ControlFragment:
    sequence: int
    error: bool
    more: bool
    offset: int
    data: bytes


def parse_control(data: bytes, sequence: int) -> ControlFragment | None:
    """One fragment of the answer to our READVAR (response bit set, same sequence), else None."""
    if len(data) < 12 or data[0] & 7 != CONTROL:
        return None
    rem_op = data[1]
    seq, _status, _assoc, offset, count = struct.unpack_from("!HHHHH", data, 2)
    if not rem_op & 0x80 or rem_op & 0x1F != READVAR or seq != sequence & 0xFFFF or 12 + count > len(data):
        return None
    return ControlFragment(seq, bool(rem_op & 0x40), bool(rem_op & 0x20), offset, data[12:12 + count])


def assemble(fragments: list[ControlFragment]) -> tuple[bytes, bool]:
    """(the answer's data in offset order, whether every fragment up to the last arrived)."""
    parts = sorted({f.offset: f for f in fragments}.values(), key=lambda f: f.offset)
    data, complete = b"", bool(parts) and not parts[-1].more
    for f in parts:
        if f.offset != len(data):
            complete = False
            break
        data += f.data
    return data, complete


def variables(text: str) -> dict[str, str]:
    """`name=value, name="quoted, value"` pairs of a READVAR answer (bounded)."""
    out: dict[str, str] = {}
    for m in _VARS.finditer(text.replace("\r\n", " ")[:8192]):
        out.setdefault(m.group(1), m.group(2).strip().strip('"'))
        if len(out) >= 64:
            break
    return out


def product_version(version_var: str) -> tuple[str | None, str | None]:
    """(product, version) of a READVAR `version` value: "ntpd ntpsec-1.2.2" -> ("ntpsec", "1.2.2"),
    "ntpd 4.2.8p15@1.3728-o ..." -> ("ntpd", "4.2.8p15@1.3728-o")."""
    if "ntpsec" in version_var.lower():
        m = re.search(r"(?i)ntpsec-([0-9][\w.+~-]{0,30})", version_var)
        return "ntpsec", (m.group(1) if m else None)
    m = _DAEMON.search(version_var)
    return (m.group(1), m.group(2)) if m else (None, None)


@dataclass
class ReadvarExchange:
    request: bytes
    state: str  # open | closed | unreachable | no-answer (probe.protocols.udpio)
    replies: list[bytes]
    error: bool = False  # the server answered with the error bit (e.g. a refused opcode)
    complete: bool = False
    variables: dict[str, str] | None = None


def readvar_done(sequence: int) -> Callable[[list[bytes]], bool]:
    """Whether the fragments received so far make the whole READVAR answer (or an error answer)."""
    def whole(replies: list[bytes]) -> bool:
        frags = [f for f in (parse_control(r, sequence) for r in replies) if f]
        return bool(frags) and (any(f.error for f in frags) or assemble(frags)[1])
    return whole


def readvar(host: str, port: int = PORT, *, timeout: float, attempts: int = 2) -> ReadvarExchange:
    """Ask the system variables (mode 6 READVAR, association 0) and assemble the fragments."""
    seq = int.from_bytes(os.urandom(2), "big")
    request = readvar_request(seq)
    state, replies = udpio.ask(host, port, request, lambda d: parse_control(d, seq) is not None, timeout=timeout,
                               attempts=attempts, done=readvar_done(seq))
    ex = ReadvarExchange(request, state, replies)
    frags = [f for f in (parse_control(r, seq) for r in replies) if f]
    if frags:
        ex.error = any(f.error for f in frags)
        if not ex.error:
            data, ex.complete = assemble(frags)
            ex.variables = variables(data.decode("latin-1"))
    return ex
