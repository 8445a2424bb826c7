"""A minimal HTTP/1.1 client over a socket the caller got from `ctx.connection()`.

http.client reads without a total time limit (a device dripping one byte per second holds it
forever); this client does one request per connection with `Connection: close`, bounded by bytes
and total time through probe.netio, and keeps the raw bytes for the evidence. For https the
socket is wrapped without certificate verification: devices carry self-signed certificates and
this is an authentication test, not a certificate audit (the TLS checks judge certificates);
each response records that verification was off.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass

from ..netio import read_some

MAX_HEADER = 64 * 1024


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    truncated: bool = False
    tls_verified: bool | None = None  # None on plain http; False: https without verification

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def unverified_tls_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def wrap(sock: socket.socket, tls: bool, timeout: float) -> socket.socket:
    if not tls:
        return sock
    sock.settimeout(timeout)
    return unverified_tls_context().wrap_socket(sock)  # IP targets: no SNI


def build_request(method: str, host: str, port: int, path: str, headers: dict[str, str] | None = None,
                  body: bytes = b"", default_port: int = 80) -> bytes:
    hostport = host if port == default_port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        hostport = f"[{host}]" if port == default_port else f"[{host}]:{port}"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {hostport}", "User-Agent: probe-iot/0.1",
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


def dechunk(data: bytes) -> tuple[bytes, bool]:
    """Decode a chunked body; returns (body, complete)."""
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return bytes(out), False
        try:
            size = int(data[pos:end].split(b";")[0].strip() or b"x", 16)
        except ValueError:
            return bytes(out), False
        if size == 0:
            return bytes(out), True
        start = end + 2
        out += data[start:start + size]
        if start + size > len(data):
            return bytes(out), False
        pos = start + size + 2


def send(sock: socket.socket, request: bytes, *, method: str = "GET", timeout: float = 5.0,
         max_bytes: int = 256 * 1024, tls: bool = False) -> Response:
    """Send one request and read one bounded response (the connection is not reused)."""
    deadline = time.monotonic() + timeout
    sock.sendall(request)
    buf = bytearray()
    closed = False
    while b"\r\n\r\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or closed or len(buf) > MAX_HEADER:
            raise ValueError("no complete HTTP response head" if buf else "no HTTP response")
        res = read_some(sock, max_bytes=8192, total_timeout=remaining, idle_timeout=remaining,
                        until=b"\r\n\r\n")
        buf += res.data
        closed = res.closed
    head, rest = bytes(buf).split(b"\r\n\r\n", 1)
    status, reason, headers = parse_head(head)
    resp_headers = {k.lower(): v for k, v in headers}
    body = bytearray(rest)
    truncated = False
    no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
    length = resp_headers.get("content-length")
    chunked = "chunked" in resp_headers.get("transfer-encoding", "").lower()
    want = int(length) if length and length.isdigit() and not chunked else None
    while not no_body and not closed:
        if want is not None and len(body) >= want:
            break
        if chunked and dechunk(bytes(body))[1]:
            break
        if len(body) >= max_bytes:
            truncated = True
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            truncated = True
            break
        res = read_some(sock, max_bytes=min(65536, max_bytes - len(body) + 1), total_timeout=remaining,
                        idle_timeout=remaining)
        body += res.data
        closed = res.closed
    raw = head + b"\r\n\r\n" + bytes(body)
    if no_body:
        content = b""
    elif chunked:
        content = dechunk(bytes(body))[0]
    else:
        content = bytes(body[:want]) if want is not None else bytes(body)
    return Response(status, reason, headers, content[:max_bytes], raw[: max_bytes + len(head) + 4], truncated,
                    (False if tls else None))
