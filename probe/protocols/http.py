"""The one HTTP/1.1 wire implementation: build a request, read one bounded response, parse it.

Both HTTP users sit on top of it: probe.services.web (memoised page reads for the update, UPnP and model
checks) and protocols.http_auth (login trials with transcripts). Why not http.client: it reads
without a total time limit (a device dripping one byte per second holds it forever). Here one
request goes over one connection with `Connection: close`, every read is bounded in bytes and
total time, and the raw bytes are kept for the evidence.

For https the socket is wrapped without certificate verification and with old protocol versions
allowed: these requests read content or test logins, and an old device's TLS must not hide its
pages; the TLS checks judge certificates and versions. Each response records verification off.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from probe import __version__
from probe.protocols.tlswrap import permissive_context

MAX_HEADER = 64 * 1024  # a response head bigger than this is not an HTTP response we will read
MAX_CHUNKS = 10_000  # a chunked body split finer than this is cut (bounds the decode loop)
USER_AGENT = f"probe/{__version__} (compliance evidence collector)"
NO_RESPONSE = "no HTTP response"  # not one byte came back (clients count these as stalls)
STALL_LIMIT = 2  # silent read timeouts in a row after which a port is not asked again


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    truncated: bool = False  # the body was cut: byte cap, time limit, or a chunked body that never ended
    tls_verified: bool | None = None  # None on plain http; False: https without verification

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass(frozen=True)
class RawRead:
    data: bytes
    timed_out: bool  # the read ended on the time limit (not on close, the declared end, or a cap)


def content_tls_context() -> ssl.SSLContext:
    c = permissive_context()
    c.set_alpn_protocols(["http/1.1"])
    return c


def wrap(sock: socket.socket, tls: bool, timeout: float) -> socket.socket:
    if not tls:
        return sock
    sock.settimeout(timeout)
    return content_tls_context().wrap_socket(sock)  # IP targets: no SNI


def build_request(method: str, host: str, port: int, path: str, headers: dict[str, str] | None = None,
                  body: bytes = b"", default_port: int = 80) -> bytes:
    hostport = host if port == default_port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        hostport = f"[{host}]" if port == default_port else f"[{host}]:{port}"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {hostport}", f"User-Agent: {USER_AGENT}",
             "Accept: */*", "Connection: close"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_head(head: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            headers.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
    return int(parts[1]), (parts[2].decode("latin-1") if len(parts) > 2 else ""), headers


def dechunk(data: bytes, cap: int | None = None) -> tuple[bytes, bool]:
    """(body, complete): complete only when the terminating zero-size chunk was seen."""
    out = bytearray()
    pos = 0
    for _ in range(MAX_CHUNKS):
        end = data.find(b"\r\n", pos)
        if end < 0:
            break
        try:
            size = int(data[pos:end].split(b";")[0].strip() or b"x", 16)
        except ValueError:
            break
        if size == 0:
            return bytes(out if cap is None else out[:cap]), True
        start = end + 2
        out += data[start:start + size]
        if start + size > len(data) or (cap is not None and len(out) >= cap):
            break
        pos = start + size + 2
    return bytes(out if cap is None else out[:cap]), False


def _no_body(method: str, status: int) -> bool:
    return method == "HEAD" or status in (204, 304) or 100 <= status < 200


def read_response(sock: socket.socket, *, method: str, timeout: float, max_bytes: int,
                  check_cancelled: Callable[[], None] | None = None) -> RawRead:
    """Read one response until the peer closes, the declared end arrives (Content-Length, the last
    chunk, or no body for HEAD/204/304), or a cap is hit: `timeout` seconds in total, the head
    past MAX_HEADER, the body past max_bytes. Never raises on those: the caller judges the bytes."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    body_at: int | None = None  # offset of the body once the head is complete
    want: int | None = None  # total bytes when a Content-Length was declared
    chunked = no_body = False
    while True:
        if check_cancelled is not None:
            check_cancelled()
        left = deadline - time.monotonic()
        if left <= 0:
            return RawRead(bytes(buf), True)
        if body_at is None:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                body_at = end + 4
                try:
                    status, _, headers = parse_head(bytes(buf[:end]))
                except ValueError:
                    return RawRead(bytes(buf), False)  # not HTTP: the parser says so
                fields = {k.lower(): v for k, v in headers}
                chunked = "chunked" in fields.get("transfer-encoding", "").lower()
                length = fields.get("content-length", "")
                want = body_at + int(length) if length.isdigit() and not chunked else None
                no_body = _no_body(method, status)
            elif len(buf) > MAX_HEADER:
                return RawRead(bytes(buf), False)
        if body_at is not None:
            body = len(buf) - body_at
            if no_body or (want is not None and len(buf) >= want) or body >= max_bytes:
                return RawRead(bytes(buf), False)
            # a chunked body ends with CRLF CRLF; decode only then (decoding every read is quadratic)
            if chunked and buf.endswith(b"\r\n\r\n") and dechunk(bytes(buf[body_at:]))[1]:
                return RawRead(bytes(buf), False)
        sock.settimeout(min(left, 1.0) if check_cancelled is not None else left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue  # the deadline above decides; short waits only to notice cancellation
        except (ssl.SSLError, OSError):
            return RawRead(bytes(buf), False)
        if not chunk:
            return RawRead(bytes(buf), False)
        buf += chunk


def parse_response(raw: bytes, method: str, max_bytes: int, *, tls: bool = False, cut: bool = False) -> Response:
    """The Response in raw; ValueError when raw holds no complete HTTP head. cut: the read ended on
    its time limit, so a body delimited by the connection's close is incomplete."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no complete HTTP response head" if raw else NO_RESPONSE)
    status, reason, headers = parse_head(head)
    fields = {k.lower(): v for k, v in headers}
    if _no_body(method, status):
        return Response(status, reason, headers, b"", head + sep, False, False if tls else None)
    length = fields.get("content-length", "")
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body, complete = dechunk(rest, max_bytes)
        truncated = not complete
    elif length.isdigit():
        body = rest[: int(length)]
        truncated = len(body) < int(length)
    else:
        body, truncated = rest, cut  # delimited by close: complete only if the close came
    truncated = truncated or len(body) >= max_bytes
    return Response(status, reason, headers, body[:max_bytes], head + sep + rest[:max_bytes], truncated,
                    False if tls else None)


def send(sock: socket.socket, request: bytes, *, method: str = "GET", timeout: float = 5.0,
         max_bytes: int = 256 * 1024, tls: bool = False) -> Response:
    """Send one request and read one bounded response (the connection is not reused)."""
    sock.sendall(request)
    got = read_response(sock, method=method, timeout=timeout, max_bytes=max_bytes)
    return parse_response(got.data, method, max_bytes, tls=tls, cut=got.timed_out)
