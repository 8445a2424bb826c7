"""TFTP (RFC 1350): the read request, and a strict parser for what a server answers.

TFTP has no authentication at all: any file the server will hand out, it hands to anyone. probe
only ever sends read requests (RRQ, opcode 1), never a write request, and reads at most the first
DATA block of a file, then ends the transfer with an ERROR packet (RFC 1350 section 7: "an error
packet ... terminates the transfer"), so the server is left with nothing open.

A server answers from a new port of its own (its transfer identifier, RFC 1350 section 4), so a
client cannot use a socket connected to port 69: `read_first_block` sends from an unconnected
socket and accepts only datagrams from the target's address; IP_RECVERR (Linux) still reports
the ICMP port unreachable of a closed port, so a closed port is told from a silent one.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import time
from dataclasses import dataclass

PORT = 69
RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6
BLOCK = 512
ERRORS = {0: "Not defined", 1: "File not found", 2: "Access violation", 3: "Disk full", 4: "Illegal operation",
          5: "Unknown transfer ID", 6: "File already exists", 7: "No such user", 8: "Option refused"}


class TftpError(ValueError):
    """The bytes are not a TFTP answer to a read request."""


def read_request(filename: str, mode: str = "octet") -> bytes:
    """RRQ: opcode 1, the file name and the transfer mode, each NUL-terminated."""
    name = filename.encode("ascii")
    if b"\x00" in name or not name or len(name) > 255:
        raise ValueError(f"not a TFTP file name: {filename!r}")
    return struct.pack("!H", RRQ) + name + b"\x00" + mode.encode("ascii") + b"\x00"


def error_packet(code: int, message: str) -> bytes:
    """ERROR: ends a transfer (sent after the first block, so nothing more is read)."""
    return struct.pack("!HH", ERROR, code) + message.encode("ascii")[:100] + b"\x00"


@dataclass(frozen=True)
class Answer:
    opcode: int
    block: int = 0  # DATA
    data: bytes = b""  # DATA payload
    error_code: int | None = None  # ERROR
    error_message: str = ""

    @property
    def is_data(self) -> bool:
        return self.opcode == DATA

    def describe(self) -> str:
        if self.opcode == DATA:
            return f"DATA block {self.block}, {len(self.data)} bytes"
        if self.opcode == ERROR:
            name = ERRORS.get(self.error_code or 0, "error")
            return f"ERROR {self.error_code} ({name}) {self.error_message!r}"
        return "OACK (options acknowledged)"


def parse(data: bytes) -> Answer:
    """A server's answer to a read request: DATA, ERROR or OACK; anything else raises TftpError."""
    if len(data) < 4:
        raise TftpError(f"{len(data)} bytes is not a TFTP packet")
    (opcode,) = struct.unpack_from("!H", data, 0)
    if opcode == DATA:
        if len(data) > 4 + 65464:
            raise TftpError("DATA longer than any block size")
        return Answer(DATA, block=struct.unpack_from("!H", data, 2)[0], data=data[4:])
    if opcode == ERROR:
        code = struct.unpack_from("!H", data, 2)[0]
        text = data[4:].split(b"\x00", 1)[0][:200].decode("latin-1")
        if code > 8 or (len(data) > 4 and not data.endswith(b"\x00") and b"\x00" not in data[4:]):
            raise TftpError(f"ERROR code {code} without a terminated message")
        return Answer(ERROR, error_code=code, error_message=text)
    if opcode == OACK:
        return Answer(OACK)
    raise TftpError(f"opcode {opcode} is not an answer to a read request")


@dataclass
class Exchange:
    request: bytes
    reply: bytes | None = None
    answer: Answer | None = None
    server_port: int | None = None  # the server's transfer port
    error: str | None = None
    refused: bool = False  # ICMP port unreachable: nothing listens on the port


def read_first_block(host: str, filename: str, *, port: int = PORT, timeout: float = 1.0,
                     attempts: int = 2) -> Exchange:
    """Ask for `filename`, take the first answer from `host` (any port: the server's transfer ID),
    and end a started transfer with an ERROR packet. At most `attempts` requests, each waited for
    `timeout` seconds."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    ex = Exchange(read_request(filename))
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        recverr = (socket.IPPROTO_IPV6, 25) if family == socket.AF_INET6 else (socket.IPPROTO_IP, 11)  # *_RECVERR
        with contextlib.suppress(OSError):
            s.setsockopt(*recverr, 1)  # ICMP errors of an unconnected socket surface as ECONNREFUSED
        for _ in range(max(1, attempts)):
            try:
                s.sendto(ex.request, (host, port))
            except OSError as exc:
                ex.error = str(exc)
                return ex
            end = time.monotonic() + timeout
            while (left := end - time.monotonic()) > 0:
                ready, _, _ = select.select([s], [], [], left)
                if not ready:
                    break
                try:
                    data, addr = s.recvfrom(65535)
                except ConnectionRefusedError:  # only the target was sent anything
                    ex.refused = True
                    return ex
                except OSError:
                    break
                if addr[0] != host:
                    continue  # only the target's answers count
                try:
                    ans = parse(data)
                except TftpError:
                    continue
                ex.reply, ex.answer, ex.server_port = data, ans, addr[1]
                if ans.opcode in (DATA, OACK):
                    try:  # end the transfer: we read nothing more
                        s.sendto(error_packet(0, "probe: transfer not wanted"), addr)
                    except OSError:
                        pass
                return ex
    return ex
