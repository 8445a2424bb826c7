"""ADB (Android Debug Bridge) wire code: the connect handshake and one `echo`, nothing else.

Android-based devices (TV boxes, smart displays, cameras, hubs) ship with adbd listening on TCP
(5555 usually). Without authentication it gives a shell to anyone; with it, the device answers
the connect with an AUTH token that only a host holding an authorised RSA key can sign.

A message is a 24-byte little-endian header (command, arg0, arg1, payload length, payload
checksum, magic = command ^ 0xffffffff) followed by the payload. probe sends exactly:
- CNXN (version 0x01000001, max payload, `host::\\0`): the device answers CNXN with its banner
  (`device::ro.product.name=..;ro.product.model=..;features=..`) when no key is asked for, or
  AUTH type 1 (a token to sign) when it wants a key. AUTH is never answered: probe holds no key.
- on CNXN only: OPEN of one stream `shell:echo <a>''<b>` (the console probe's proof, the ADB way:
  the joined token appears in the output only if a shell evaluated the line), OKAY for each WRTE
  (ADB's flow control: the device sends no more output until the host acknowledges), until the
  device's CLSE. No other service (sync, install, reboot, root, tcpip, a bare `shell:`) is ever
  opened. Every read is bounded in bytes, packets and time.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field
from enum import StrEnum

from probe.protocols.console import echo_line
from probe.protocols.transcript import Transcript


def _cmd(name: bytes) -> int:
    return int(struct.unpack("<I", name)[0])


CNXN, AUTH, OPEN, OKAY, CLSE, WRTE, STLS = (_cmd(n) for n in (b"CNXN", b"AUTH", b"OPEN", b"OKAY", b"CLSE",
                                                             b"WRTE", b"STLS"))
COMMANDS = {CNXN: "CNXN", AUTH: "AUTH", OPEN: "OPEN", OKAY: "OKAY", CLSE: "CLSE", WRTE: "WRTE", STLS: "STLS"}
VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024  # what probe says it accepts (arg1 of CNXN)
READ_LIMIT = 64 * 1024  # the largest payload probe reads; a longer one is not ADB as probe knows it
HEADER = struct.Struct("<6I")
AUTH_TOKEN = 1  # AUTH arg0: the device sends a token to sign
MAX_PACKETS = 64  # packets read for one echo stream
MAX_OUTPUT = 16 * 1024  # shell output kept
LOCAL_ID = 1  # the one stream probe opens


class AdbError(ValueError):
    """Bytes that are not an ADB message (bad magic, unknown command, oversized payload, short read)."""


@dataclass
class Message:
    command: int
    arg0: int
    arg1: int
    payload: bytes

    @property
    def name(self) -> str:
        return COMMANDS.get(self.command, f"0x{self.command:08x}")


def checksum(payload: bytes) -> int:
    return sum(payload) & 0xFFFFFFFF


def build(command: int, arg0: int, arg1: int, payload: bytes = b"") -> bytes:
    """One message: header (with checksum and magic) and payload."""
    return HEADER.pack(command, arg0, arg1, len(payload), checksum(payload), command ^ 0xFFFFFFFF) + payload


def connect_message() -> bytes:
    """The host's CNXN: protocol version, the largest payload it accepts, banner `host::`."""
    return build(CNXN, VERSION, MAX_PAYLOAD, b"host::\x00")


def parse_header(data: bytes) -> tuple[int, int, int, int, int]:
    """(command, arg0, arg1, length, check) of a 24-byte header; AdbError when it is not ADB."""
    if len(data) < HEADER.size:
        raise AdbError(f"short header ({len(data)} of {HEADER.size} bytes)")
    command, arg0, arg1, length, check, magic = HEADER.unpack_from(data)
    if command not in COMMANDS:
        raise AdbError(f"unknown command 0x{command:08x}")
    if magic != command ^ 0xFFFFFFFF:
        raise AdbError("magic is not the command's complement")
    if length > READ_LIMIT:
        raise AdbError(f"payload of {length} bytes exceeds the {READ_LIMIT}-byte limit")
    return command, arg0, arg1, length, check


def parse(data: bytes) -> tuple[Message, bytes]:
    """One whole message from the start of `data` and the bytes after it; AdbError if not ADB or short.

    A checksum of 0 is accepted (adbd since protocol 0x01000001 only fills it on CNXN and AUTH);
    any other value must match the payload.
    """
    command, arg0, arg1, length, check = parse_header(data)
    end = HEADER.size + length
    if len(data) < end:
        raise AdbError(f"short payload ({len(data) - HEADER.size} of {length} bytes)")
    payload = data[HEADER.size:end]
    if check and check != checksum(payload):
        raise AdbError("payload checksum does not match")
    return Message(command, arg0, arg1, payload), data[end:]


def banner_fields(banner: bytes) -> dict[str, str]:
    """The `key=value;` properties of a device banner (`device::ro.product.model=X;features=..`)."""
    text = banner.rstrip(b"\x00").decode("utf-8", "replace")
    _, _, props = text.partition("::")
    out: dict[str, str] = {}
    for item in props.split(";")[:64]:
        key, eq, value = item.partition("=")
        if eq and key.strip():
            out[key.strip()[:64]] = value.strip()[:256]
    return out


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    buf = b""
    while len(buf) < n:  # bounded: n <= 24 + READ_LIMIT and the deadline
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out reading an ADB message")
        sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def read_message(sock: socket.socket, deadline: float, raw: list[bytes] | None = None) -> Message:
    """One message, header checked before the payload is read (so a length never makes probe wait
    for or hold more than READ_LIMIT). `raw` collects the bytes read, for the evidence."""
    head = _recv_exact(sock, HEADER.size, deadline)
    if raw is not None:
        raw.append(head)
    length = parse_header(head)[3]
    body = _recv_exact(sock, length, deadline) if length else b""
    if raw is not None and body:
        raw.append(body)
    msg, _ = parse(head + body)
    return msg


class Outcome(StrEnum):
    EXECUTES = "executes"  # CNXN without a key, and the echo was evaluated by a shell
    CONNECTED = "connected"  # CNXN without a key, but the echo stream gave no proof
    AUTH = "auth"  # the device asks for an RSA key (AUTH token)
    NOT_ADB = "not-adb"  # silence, garbage, or another ADB message than CNXN/AUTH


@dataclass
class AdbResult:
    outcome: Outcome
    detail: str
    banner: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    output: str | None = None


def handshake(sock: socket.socket, t: Transcript, timeout: float) -> tuple[Message | None, str]:
    """Send CNXN, read the one answer: (message, why-not) with message None when it is not ADB."""
    t.note("sending ADB CNXN (version 0x01000001, banner host::)")
    sock.sendall(connect_message())
    t.sent(connect_message())
    raw: list[bytes] = []
    try:
        msg = read_message(sock, time.monotonic() + timeout, raw)
    except AdbError as exc:
        t.received(b"".join(raw))
        return None, f"the answer is not an ADB message: {exc}"
    except TimeoutError:
        t.received(b"".join(raw))
        return None, f"no ADB answer within {timeout:.1f}s"
    except (ConnectionError, OSError) as exc:
        t.received(b"".join(raw))
        return None, f"no ADB answer: {exc}"
    t.received(b"".join(raw))
    return msg, ""


def probe(sock: socket.socket, t: Transcript, timeout: float) -> AdbResult:
    """CNXN; on CNXN one `shell:echo` stream read to its CLSE; on AUTH nothing more."""
    msg, why = handshake(sock, t, timeout)
    if msg is None:
        return AdbResult(Outcome.NOT_ADB, why)
    if msg.command == AUTH and msg.arg0 == AUTH_TOKEN:
        t.note("AUTH token received: the device wants an RSA key; not answered (probe holds no key)")
        return AdbResult(Outcome.AUTH, "the device answered CNXN with an AUTH token: it requires an RSA key")
    if msg.command != CNXN:
        return AdbResult(Outcome.NOT_ADB, f"answered CNXN with {msg.name} (arg0 {msg.arg0}), not CNXN or AUTH token")
    banner = msg.payload.rstrip(b"\x00").decode("utf-8", "replace")
    props = banner_fields(msg.payload)
    t.note(f"CNXN without a key: device banner {banner!r}")
    line, token = echo_line()
    service = f"shell:{line}".encode()
    t.note(f"opening one stream {service.decode()!r} (split token: only a shell joins it); nothing else is opened")
    out, why = _echo_stream(sock, t, service, timeout)
    lines = [ln.strip() for ln in out.replace(b"\r", b"\n").split(b"\n")]
    text = out.decode("utf-8", "replace")
    if token.encode() in lines:
        return AdbResult(Outcome.EXECUTES, f"ADB accepted a host without a key and its shell evaluated `{line}` to "
                         f"{token}", banner, props, token, text)
    return AdbResult(Outcome.CONNECTED, f"ADB accepted a host without a key, but the echo gave no proof ({why})",
                     banner, props, token, text)


def _echo_stream(sock: socket.socket, t: Transcript, service: bytes, timeout: float) -> tuple[bytes, str]:
    """Open the one stream and read its output until CLSE: bounded in packets, bytes and time."""
    opened = build(OPEN, LOCAL_ID, 0, service + b"\x00")
    sock.sendall(opened)
    t.sent(opened)
    deadline = time.monotonic() + timeout
    out = b""
    remote = 0
    for _ in range(MAX_PACKETS):
        raw: list[bytes] = []
        try:
            msg = read_message(sock, deadline, raw)
        except AdbError as exc:
            t.received(b"".join(raw))
            return out, f"not an ADB message: {exc}"
        except TimeoutError:
            t.received(b"".join(raw))
            return out, "no CLSE before the timeout"
        except (ConnectionError, OSError) as exc:
            t.received(b"".join(raw))
            return out, f"connection ended: {exc}"
        t.received(b"".join(raw))
        if msg.command == OKAY:
            remote = msg.arg0
        elif msg.command == WRTE:
            remote = msg.arg0
            out = (out + msg.payload)[:MAX_OUTPUT]
            ack = build(OKAY, LOCAL_ID, remote)
            sock.sendall(ack)  # flow control: without it the device sends no more output
            t.sent(ack)
        elif msg.command == CLSE:
            return out, "stream closed" if remote else "the device refused the shell stream"
    return out, f"no CLSE within {MAX_PACKETS} messages"
