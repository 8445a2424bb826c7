"""Bounded socket I/O for talking to devices that may be broken or hostile.

Every read here has three limits: bytes, per-read timeout and total time. A device that never
stops sending, or sends one byte a second forever, cannot hold a worker or grow memory.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 64 * 1024


class ReadLimitExceeded(Exception):
    """The peer sent more than we agreed to read; the data so far is attached."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(f"peer sent more than {limit} bytes")
        self.data = data


class ReadTimeout(Exception):
    """The peer stalled; the data so far is attached."""

    def __init__(self, data: bytes, seconds: float) -> None:
        super().__init__(f"peer stalled (no complete answer within {seconds:.1f}s)")
        self.data = data


@dataclass
class ReadResult:
    data: bytes
    closed: bool  # the peer closed the connection
    timed_out: bool  # we stopped waiting
    truncated: bool  # we stopped at max_bytes


def read_some(
    sock: socket.socket,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    total_timeout: float = DEFAULT_TIMEOUT,
    idle_timeout: float = 0.5,
    until: bytes | tuple[bytes, ...] | None = None,
    complete: Callable[[bytes], bool] | None = None,
) -> ReadResult:
    """Read what the peer sends until `until` appears, it goes idle, closes, or a limit is hit.

    Used for banners: many services send a greeting and then wait, so "idle" is the normal end.
    `complete(data)`, when given, ends the read as soon as what arrived is a whole answer (a
    keep-alive server sends nothing more, so waiting out the idle timeout would only cost time).
    Never raises on timeout or size: the caller judges what partial data means.
    """
    deadline = time.monotonic() + total_timeout
    buf = bytearray()
    markers = (until,) if isinstance(until, bytes) else (until or ())
    closed = timed_out = truncated = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        sock.settimeout(min(idle_timeout if buf else remaining, remaining))
        try:
            chunk = sock.recv(min(4096, max_bytes - len(buf)))
        except TimeoutError:
            timed_out = not buf or time.monotonic() >= deadline
            break
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
        if len(buf) >= max_bytes:
            truncated = True
            break
        if markers and any(m in buf for m in markers):
            break
        if complete is not None and complete(bytes(buf)):
            break
    return ReadResult(bytes(buf), closed, timed_out, truncated)


def read_until(
    sock: socket.socket,
    markers: bytes | tuple[bytes, ...],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    total_timeout: float = DEFAULT_TIMEOUT,
) -> bytes:
    """Read until a marker appears; raise with the partial data if the peer stalls or floods."""
    deadline = time.monotonic() + total_timeout
    buf = bytearray()
    wanted = (markers,) if isinstance(markers, bytes) else markers
    while not any(m in buf for m in wanted):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReadTimeout(bytes(buf), total_timeout)
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            raise ReadTimeout(bytes(buf), total_timeout) from None
        if not chunk:
            raise ConnectionResetError("peer closed the connection")
        buf += chunk
        if len(buf) > max_bytes:
            raise ReadLimitExceeded(bytes(buf[:max_bytes]), max_bytes)
    return bytes(buf)


def read_exact(sock: socket.socket, n: int, *, total_timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Read exactly n bytes (n is bounded by the caller's protocol parser)."""
    deadline = time.monotonic() + total_timeout
    buf = bytearray()
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReadTimeout(bytes(buf), total_timeout)
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(n - len(buf))
        except TimeoutError:
            raise ReadTimeout(bytes(buf), total_timeout) from None
        if not chunk:
            raise ConnectionResetError("peer closed the connection")
        buf += chunk
    return bytes(buf)


def printable(data: bytes, limit: int = 200) -> str:
    """A terminal-safe one-line rendering of device bytes (no escape sequences survive)."""
    text = data[:limit].decode("utf-8", "replace")
    out = "".join(ch if ch.isprintable() and ch not in "\x1b\x9b" else f"\\x{ord(ch):02x}" if ord(ch) < 256 else "?"
                  for ch in text)
    return out + ("…" if len(data) > limit else "")
