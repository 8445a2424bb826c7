"""Identify what runs on one open TCP port, with at most four short connections.

Order: listen for a greeting (SSH, FTP, telnet speak first); if silent, send a TLS ClientHello;
if not TLS, an HTTP request; if still nothing, an MQTT CONNECT. Every answer read is kept as an
artefact so the identification itself is evidence.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from ..netio import ReadResult, read_some
from ..protocols.tlswrap import permissive_context
from . import identify


@dataclass
class Fingerprint:
    protocol: str
    tls: bool
    product: str | None
    version: str | None
    confidence: str  # banner | handshake | port
    banner: bytes  # first bytes the service sent (greeting or probe answer)
    banner_kind: str  # greeting | tls-probe | http-probe | mqtt-probe | none


def _client_hello() -> bytes:
    """A TLS 1.2-style ClientHello that TLS 1.0-1.3 servers all answer (ServerHello or alert)."""
    ciphers = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
               0x009C, 0x009D, 0x002F, 0x0035, 0x000A, 0x0005]
    ext = b""
    groups = struct.pack("!HHHH", 6, 0x001D, 0x0017, 0x0018)
    ext += struct.pack("!HH", 0x000A, len(groups)) + groups
    ext += struct.pack("!HHB", 0x000B, 2, 1) + b"\x00"
    sigs = struct.pack("!H", 16) + struct.pack("!8H", 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0201, 0x0203)
    ext += struct.pack("!HH", 0x000D, len(sigs)) + sigs
    versions = struct.pack("!B4H", 8, 0x0304, 0x0303, 0x0302, 0x0301)
    ext += struct.pack("!HH", 0x002B, len(versions)) + versions
    ks = struct.pack("!HH", 0x001D, 32) + os.urandom(32)
    ext += struct.pack("!HHH", 0x0033, len(ks) + 2, len(ks)) + ks
    body = (b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32)
            + struct.pack("!H", len(ciphers) * 2) + struct.pack(f"!{len(ciphers)}H", *ciphers)
            + b"\x01\x00" + struct.pack("!H", len(ext)) + ext)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


_MQTT_CONNECT = (b"\x10\x16\x00\x04MQTT\x04\x02\x00\x0a\x00\x0aprobe-disc")  # clean session, no auth


Track = Callable[[socket.socket], AbstractContextManager[socket.socket]]


@contextlib.contextmanager
def _no_tracking(sock: socket.socket) -> Iterator[socket.socket]:
    yield sock


class _Budget:
    """Clips every timeout to the run's deadline and stops between steps after an interrupt."""

    def __init__(self, timeout: float, deadline: float | None, cancel: threading.Event | None,
                 track: Track | None) -> None:
        self.timeout, self.deadline, self.cancel = timeout, deadline, cancel
        self.track = track or _no_tracking

    def stopped(self) -> bool:
        return bool(self.cancel and self.cancel.is_set()) or (
            self.deadline is not None and time.monotonic() > self.deadline)

    def clip(self, wanted: float) -> float:
        if self.deadline is None:
            return wanted
        return max(0.05, min(wanted, self.deadline - time.monotonic()))

    @contextlib.contextmanager
    def connect(self, host: str, port: int) -> Iterator[socket.socket]:
        sock = socket.create_connection((host, port), timeout=self.clip(self.timeout))
        try:
            sock.settimeout(self.clip(self.timeout))
            with self.track(sock):
                yield sock
        finally:
            with contextlib.suppress(OSError):
                sock.close()


def fingerprint(host: str, port: int, *, timeout: float = 3.0, greeting_wait: float = 1.2,
                max_bytes: int = 16384, deadline: float | None = None, cancel: threading.Event | None = None,
                track: Track | None = None) -> Fingerprint:
    """Identify the service; raises OSError only if the port cannot be connected at all.

    `deadline`/`cancel` bound the whole identification (a stalling port would otherwise cost four
    full timeouts); when they cut it short, the port number's guess is returned. `track` registers
    each socket (DeviceLimiter.tracked) so an interrupt can shut it down.
    """
    b = _Budget(timeout, deadline, cancel, track)
    # 1. greeting
    with b.connect(host, port) as s:
        r = read_some(s, max_bytes=max_bytes, total_timeout=b.clip(greeting_wait), idle_timeout=0.3)
    if r.data:
        proto, product, version = identify.from_banner(r.data)
        if proto:
            return Fingerprint(proto, False, product, version, "banner", r.data, "greeting")
    greeting = r.data
    if b.stopped():
        return _port_guess(port, greeting, None)
    # 2. TLS
    try:
        with b.connect(host, port) as s:
            s.sendall(_client_hello())
            tr = read_some(s, max_bytes=max_bytes, total_timeout=b.clip(timeout), idle_timeout=0.5)
    except OSError:
        tr = None
    if tr and identify.looks_like_tls_server_reply(tr.data):
        proto = identify.TLS_PROTOCOL_FOR_PORT.get(port)
        product = None
        if proto is None:
            proto, product = ("tls", None) if b.stopped() else _http_over_tls(host, port, b, max_bytes)
        return Fingerprint(proto, True, product, None, "handshake", tr.data, "tls-probe")
    if b.stopped():
        return _port_guess(port, greeting, None)
    # 3. HTTP (also RTSP servers answer an HTTP-style request with an RTSP status line)
    try:
        with b.connect(host, port) as s:
            s.sendall(b"GET / HTTP/1.0\r\nUser-Agent: probe\r\n\r\n")
            hr = read_some(s, max_bytes=max_bytes, total_timeout=b.clip(timeout), idle_timeout=0.5)
    except OSError:
        hr = None
    if hr and hr.data:
        proto, server = identify.from_http_response(hr.data)
        if proto:
            if proto == "http" and (port in (1900, 5000, 49152) or b"upnp" in hr.data[:2000].lower()):
                proto = "upnp" if port != 80 else "http"
            return Fingerprint(proto, False, server, None, "handshake", hr.data, "http-probe")
    if b.stopped():
        return _port_guess(port, greeting, hr)
    # 4. MQTT
    try:
        with b.connect(host, port) as s:
            s.sendall(_MQTT_CONNECT)
            mr = read_some(s, max_bytes=64, total_timeout=b.clip(timeout), idle_timeout=0.5)
            if identify.looks_like_mqtt_connack(mr.data):
                s.sendall(b"\xe0\x00")  # DISCONNECT, so no session is left behind
                return Fingerprint("mqtt", False, None, None, "handshake", mr.data, "mqtt-probe")
    except OSError:
        pass
    return _port_guess(port, greeting, hr)


def _port_guess(port: int, greeting: bytes, hr: ReadResult | None) -> Fingerprint:
    guess = identify.PORT_GUESS.get(port, "unknown")
    data = greeting or (hr.data if hr else b"")
    return Fingerprint(guess, False, None, None, "port", data, "greeting" if greeting else "none")


def _http_over_tls(host: str, port: int, b: _Budget, max_bytes: int) -> tuple[str, str | None]:
    ctx = permissive_context()
    try:
        with b.connect(host, port) as raw, ctx.wrap_socket(raw) as s:
            s.sendall(b"GET / HTTP/1.0\r\nUser-Agent: probe\r\n\r\n")
            r = read_some(s, max_bytes=max_bytes, total_timeout=b.clip(b.timeout), idle_timeout=0.5)
    except (OSError, ssl.SSLError):
        return "tls", None
    proto, server = identify.from_http_response(r.data)
    return ("https" if proto == "http" else "tls"), server
