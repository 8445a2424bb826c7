"""Just enough MQTT 3.1.1 (OASIS standard) to test who may connect, subscribe and publish.

Hand-built rather than paho-mqtt: the four packets needed are a few bytes each, paho runs its
own network loop and threads that would bypass the connection slots and bounded reads, and its
transcript would be invisible. Nothing retained is ever published, and only topics under a
random probe-owned prefix are touched.
"""

from __future__ import annotations

import secrets
import socket
import struct
from dataclasses import dataclass

from probe.protocols.netio import ReadTimeout, read_exact
from probe.protocols.transcript import Transcript

CONNACK_CODES = {
    0: "connection accepted",
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
MAX_PACKET = 64 * 1024


def _str(s: str | bytes) -> bytes:
    raw = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("!H", len(raw)) + raw


def encode_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + encode_length(len(body)) + body


def connect_packet(client_id: str, username: str | None = None, password: str | None = None,
                   keepalive: int = 30) -> bytes:
    flags = 0x02  # clean session: nothing is stored for us on the broker
    payload = _str(client_id)
    if username is not None:
        flags |= 0x80
        payload += _str(username)
        if password is not None:
            flags |= 0x40
            payload += _str(password)
    return packet(0x10, _str("MQTT") + bytes((4, flags)) + struct.pack("!H", keepalive) + payload)


def subscribe_packet(packet_id: int, topic: str, qos: int = 0) -> bytes:
    return packet(0x82, struct.pack("!H", packet_id) + _str(topic) + bytes((qos,)))


def publish_packet(topic: str, payload: bytes) -> bytes:
    return packet(0x30, _str(topic) + payload)  # QoS 0, retain off


DISCONNECT = b"\xe0\x00"


def read_packet(sock: socket.socket, timeout: float) -> tuple[int, bytes]:
    """One packet -> (first byte, body); the remaining length is capped at MAX_PACKET."""
    first = read_exact(sock, 1, total_timeout=timeout)[0]
    length, mult = 0, 1
    for _ in range(4):
        b = read_exact(sock, 1, total_timeout=timeout)[0]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    else:
        raise ValueError("malformed MQTT remaining length")
    if length > MAX_PACKET:
        raise ValueError(f"MQTT packet of {length} bytes exceeds our {MAX_PACKET} cap")
    return first, read_exact(sock, length, total_timeout=timeout) if length else b""


@dataclass
class Session:
    sock: socket.socket
    t: Transcript
    timeout: float = 5.0

    def _send(self, data: bytes, what: str) -> None:
        self.t.note(what)
        self.t.sent(data)
        self.sock.sendall(data)

    def _recv(self) -> tuple[int, bytes]:
        first, body = read_packet(self.sock, self.timeout)
        self.t.received(packet(first, body))
        return first, body

    def connect(self, username: str | None = None, password: str | None = None) -> int:
        """CONNECT and return the CONNACK return code (0 = accepted)."""
        who = "anonymously" if username is None else f"as {username!r}"
        self._send(connect_packet("probe-" + secrets.token_hex(4), username, password), f"CONNECT {who}")
        first, body = self._recv()
        if first >> 4 != 2 or len(body) < 2:
            raise ValueError(f"expected CONNACK, got packet type {first >> 4}")
        self.t.note(f"CONNACK return code {body[1]}: {CONNACK_CODES.get(body[1], 'unknown')}")
        return body[1]

    def subscribe(self, topic: str, packet_id: int = 1) -> list[int]:
        """SUBSCRIBE one topic; the SUBACK return codes (0-2 granted QoS, 0x80 failure)."""
        self._send(subscribe_packet(packet_id, topic), f"SUBSCRIBE {topic}")
        for _ in range(50):  # skip retained messages or other traffic, boundedly
            first, body = self._recv()
            if first >> 4 == 9 and len(body) >= 3 and struct.unpack("!H", body[:2])[0] == packet_id:
                codes = list(body[2:])
                self.t.note(f"SUBACK return codes {codes}")
                return codes
        raise ValueError("no SUBACK among the first 50 packets")

    def publish_echo(self, topic: str, payload: bytes) -> bool:
        """PUBLISH (QoS 0, not retained) to a topic we are subscribed to; True when it comes back."""
        self._send(publish_packet(topic, payload), f"PUBLISH {len(payload)} bytes to {topic} (QoS 0, not retained)")
        for _ in range(50):
            try:
                first, body = self._recv()
            except (ReadTimeout, OSError, ValueError):
                return False
            if first >> 4 == 3 and payload in body:
                return True
        return False

    def disconnect(self) -> None:
        try:
            self._send(DISCONNECT, "DISCONNECT")
        except OSError:
            pass


def probe_topic() -> str:
    return f"probe/{secrets.token_hex(6)}/check"
