"""The one HTTP/1.1 implementation: build a request, read one bounded response, parse it, and the
client that does all three over a connection it is given.

Every HTTP user sits on `Client`: probe.services.web (memoised page reads for the update, UPnP,
security.txt and model checks, one stall guard per run) and the login code (protocols.http_auth,
services.logins and the checks that search for login pages: a transcript of every exchange, one
stall guard per client). Why not http.client: it reads without a total time limit (a device
dripping one byte per second holds it forever). Here one request goes over one connection with
`Connection: close`, every read is bounded in bytes and total time, and the raw bytes are kept
for the evidence.

For https the socket is wrapped without certificate verification and with old protocol versions
allowed, unless the caller passes a verifying context: these requests read content or test
logins, and an old device's TLS must not hide its pages; the TLS checks judge certificates and
versions. Each response records whether verification was on.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from probe import __version__
from probe.protocols.tlswrap import new_permissive_context
from probe.protocols.transcript import Transcript

MAX_HEADER = 64 * 1024  # a response head bigger than this is not an HTTP response we will read
MAX_CHUNKS = 10_000  # a chunked body split finer than this is cut (bounds the decode loop)
USER_AGENT = f"probe/{__version__} (compliance evidence collector)"
NO_RESPONSE = "no HTTP response"  # not one byte came back (clients count these as stalls)
# "try again in 30 seconds", "retry after 2 minutes": a pause a throttling page states in words
_PAUSE_IN_BODY = re.compile(r"(?i)(?:try again|retry|wait|locked)\D{0,40}?\b(\d{1,4})\s*(s\b|sec|second|min)")
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

    def retry_after(self, now: float | None = None) -> float | None:
        """Seconds the server asks the client to wait (RFC 9110 10.2.3: delta-seconds or an
        HTTP-date), else, on a 429/423/503, a pause stated in the body ("try again in 30 seconds");
        None when it says nothing usable."""
        value = (self.header("Retry-After") or "").strip()
        if value.isdigit():
            return float(min(int(value), 86400))
        if value:
            with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
                when = email.utils.parsedate_to_datetime(value).timestamp()
                return max(0.0, when - (time.time() if now is None else now))
        if self.status in (423, 429, 503):
            m = _PAUSE_IN_BODY.search(self.body[:4096].decode("utf-8", "replace"))
            if m:
                return float(m.group(1)) * (60 if m.group(2).lower().startswith("min") else 1)
        return None


@dataclass(frozen=True)
class RawRead:
    data: bytes
    timed_out: bool  # the read ended on the time limit (not on close, the declared end, or a cap)


@functools.cache
def content_tls_context() -> ssl.SSLContext:
    """The permissive context with HTTP/1.1 as ALPN, one per process and shared (see
    tlswrap.permissive_context: a context per request cost more CPU than the request): do not modify it."""
    c = new_permissive_context()
    c.set_alpn_protocols(["http/1.1"])
    return c


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


Connect = Callable[[], contextlib.AbstractContextManager[socket.socket]]
Where = tuple[str, int, bool]  # (host, port, tls)


class StallGuard:
    """The one stall policy: a (host, port, tls) that sent not one byte back to STALL_LIMIT
    requests in a row, each ending on its full read timeout, is stalled and not asked again.

    Each further request would cost a full timeout and answer nothing (a path list of 20 is 20
    timeouts). Thread-safe: probe.services.web shares one guard between every check of a run;
    a login client owns one, so one check's stalls never silence another check.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._silent: dict[Where, int] = {}

    def blocked(self, where: Where) -> str | None:
        """Why a request to `where` is not sent, or None."""
        with self._lock:
            n = self._silent.get(where, 0)
        if n >= STALL_LIMIT:
            return f"not sent: no response to the last {n} requests in a row (stalled)"
        return None

    def record(self, where: Where, got: RawRead) -> None:
        with self._lock:
            self._silent[where] = self._silent.get(where, 0) + 1 if not got.data and got.timed_out else 0


@dataclass(frozen=True)
class Exchange:
    """One request and what came of it; `error` says why there is no `response`."""

    request: bytes
    sent: bool  # False: refused by the stall guard, or the TLS handshake failed
    read: RawRead | None = None  # every byte read, verbatim (the evidence)
    response: Response | None = None
    error: str | None = None
    tls_verified: bool | None = None  # only with a verifying context: True, or False when validation failed
    peer_cert: bytes | None = None  # DER, https only
    handshake_error: ssl.SSLError | None = None


@dataclass
class Client:
    """One request per connection to host:port through `connect` (which bounds the connect and
    the TLS handshake with its socket's timeout); `timeout` bounds each response read.

    With a `transcript`, every request and the head plus the first `body_in_transcript` body
    bytes of every answer are recorded. Cookies the server sets are sent back (form logins need
    their session). `verify`: a context that validates the chain and the IP address; a failure
    is an observation (`Exchange.tls_verified` False), not an exception.
    """

    connect: Connect
    host: str
    port: int
    tls: bool
    transcript: Transcript | None = None
    timeout: float = 5.0
    max_bytes: int = 256 * 1024
    verify: ssl.SSLContext | None = None
    check_cancelled: Callable[[], None] | None = None
    stalls: StallGuard = field(default_factory=StallGuard)
    body_in_transcript: int = 4096
    cookies: dict[str, str] = field(default_factory=dict)
    requests: int = 0

    def _note(self, text: str) -> None:
        if self.transcript is not None:
            self.transcript.note(text)

    def exchange(self, method: str, path: str, headers: dict[str, str] | None = None,
                 body: bytes = b"") -> Exchange:
        """Send one request and read one bounded response. Raises only what connecting and
        sending raise (OSError; the caller's cancellation); everything after is in the Exchange."""
        if self.check_cancelled is not None:
            self.check_cancelled()
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body:
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        raw = build_request(method, self.host, self.port, path, hdrs, body, default_port=443 if self.tls else 80)
        where = (self.host, self.port, self.tls)
        if (stalled := self.stalls.blocked(where)) is not None:
            self._note(f"{method} {path} {stalled}")
            return Exchange(raw, False, error=stalled)
        self.requests += 1
        if self.transcript is not None:
            self.transcript.sent(raw)
        verified: bool | None = None
        peer: bytes | None = None
        with self.connect() as sock:
            conn = sock
            if self.tls:
                tctx = self.verify or content_tls_context()
                try:
                    conn = tctx.wrap_socket(sock, server_hostname=self.host if self.verify else None)
                except ssl.SSLCertVerificationError as exc:
                    return Exchange(raw, False, error=f"certificate not valid: {exc.verify_message}",
                                    tls_verified=False, handshake_error=exc)
                except ssl.SSLError as exc:
                    return Exchange(raw, False, error=f"TLS handshake failed: {exc.reason or exc}",
                                    tls_verified=False if self.verify else None, handshake_error=exc)
                verified = True if self.verify is not None else None
                peer = conn.getpeercert(binary_form=True)
            try:
                conn.sendall(raw)
                got = read_response(conn, method=method, timeout=self.timeout, max_bytes=self.max_bytes,
                                    check_cancelled=self.check_cancelled)
            finally:
                if conn is not sock:
                    with contextlib.suppress(OSError):
                        conn.close()
        self.stalls.record(where, got)
        try:
            resp = parse_response(got.data, method, self.max_bytes, tls=self.tls, cut=got.timed_out)
        except ValueError as exc:
            if got.data and self.transcript is not None:
                self.transcript.received(self._shown(got.data))
            return Exchange(raw, True, got, error=str(exc), tls_verified=verified, peer_cert=peer)
        if verified:
            resp.tls_verified = True
        if self.transcript is not None:
            head, _, rest = resp.raw.partition(b"\r\n\r\n")
            self.transcript.received(head + b"\r\n\r\n" + self._shown(rest))
        for sc in resp.headers_all("Set-Cookie"):
            name, _, value = sc.split(";", 1)[0].partition("=")
            if name.strip():
                self.cookies[name.strip()] = value.strip()
        return Exchange(raw, True, got, resp, tls_verified=verified, peer_cert=peer)

    def _shown(self, data: bytes) -> bytes:
        shown = data[: self.body_in_transcript]
        more = len(data) - len(shown)
        return shown + (f"...[{more} more bytes]".encode() if more > 0 else b"")

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes = b"") -> Response:
        """The response, or raise: OSError / ssl.SSLError (connection, handshake), ValueError
        (not sent because stalled, no response, not HTTP) with the reason."""
        ex = self.exchange(method, path, headers, body)
        if ex.handshake_error is not None:
            raise ex.handshake_error
        if ex.response is None:
            raise ValueError(ex.error)
        return ex.response
