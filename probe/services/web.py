"""A small, bounded HTTP(S) client for talking to the device under test, and to nothing else.

Why not urllib/requests: those follow redirects to any host, resolve names, and read without a
total time cap. Here every request goes through one of the device's connection slots
(`ctx.connection`), every read is capped in bytes and time, redirects are never followed
automatically, and the raw response bytes are kept verbatim for the evidence.

GET results are memoised per target (`TargetSession.once`) so that several checks reading the same
admin page cost the device one request, and all of them cite the same artefact. The wire format
itself (request, bounded read, parse) is protocols.http, shared with the login trials.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from probe.context import CheckContext
from probe.models import Service
from probe.protocols import http

DEFAULT_BODY_CAP = 128 * 1024
USER_AGENT = http.USER_AGENT


@dataclass(frozen=True)
class HttpResult:
    """One request/response. `error` is set when no usable response came back."""

    url: str
    method: str
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""
    truncated: bool = False
    error: str | None = None
    artefact: str | None = None
    tls_verified: bool | None = None  # only for requests made with a verifying context
    peer_cert_artefact: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def text(self) -> str:
        charset = "utf-8"
        ctype = self.headers.get("content-type", "")
        if "charset=" in ctype:
            charset = ctype.split("charset=", 1)[1].split(";")[0].strip().strip('"') or "utf-8"
        try:
            return self.body.decode(charset, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")


def base_url(host: str, port: int, tls: bool) -> str:
    h = f"[{host}]" if ":" in host else host
    scheme = "https" if tls else "http"
    default = 443 if tls else 80
    return f"{scheme}://{h}" + ("" if port == default else f":{port}")


def service_url(svc: Service, path: str = "/") -> str:
    return base_url(svc.host, svc.port, is_tls(svc)) + path


def is_tls(svc: Service) -> bool:
    return svc.tls or svc.protocol == "https"


def same_host(url: str, host: str) -> bool:
    """True only when the URL's host is the target's own IP literal (names are never resolved)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    try:
        return ipaddress.ip_address(parts.hostname) == ipaddress.ip_address(host)
    except ValueError:
        return False


def split_target_url(url: str) -> tuple[str, int, bool, str]:
    """(host, port, tls, path?query) of an http(s) URL."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname or "", port, tls, path


class _StallCounter:
    """Silent timeouts in a row per (host, port, tls), shared by every check of one run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.silent: dict[tuple[str, int, bool], int] = {}

    def get(self, where: tuple[str, int, bool]) -> int:
        with self.lock:
            return self.silent.get(where, 0)

    def record(self, where: tuple[str, int, bool], silent: bool) -> None:
        with self.lock:
            self.silent[where] = self.silent.get(where, 0) + 1 if silent else 0


def get(ctx: CheckContext, port: int, path: str, *, tls: bool, max_bytes: int = DEFAULT_BODY_CAP) -> HttpResult:
    """A GET on the device (unverified TLS: for reading content only), asked once per target: every
    check that reads the same page costs the device one request and cites the same artefact."""
    return ctx.once(("web-get", ctx.host, port, tls, path),
                          lambda: request(ctx, port, path, tls=tls, max_bytes=max_bytes))


def request(ctx: CheckContext, port: int, path: str, *, tls: bool, method: str = "GET", body: bytes = b"",
            headers: dict[str, str] | None = None, max_bytes: int = DEFAULT_BODY_CAP,
            verify: ssl.SSLContext | None = None, record: bool = True) -> HttpResult:
    """One HTTP/1.1 request to the target itself, `Connection: close`, bounded in bytes and time.

    With `verify`, the TLS handshake validates the chain and the IP SAN; a validation failure is
    returned as `error` with `tls_verified=False` (not raised), because it is an observation.
    """
    url = base_url(ctx.host, port, tls) + path
    req = http.build_request(method, ctx.host, port, path, headers, body, default_port=443 if tls else 80)
    stalls: _StallCounter = ctx.once("web-stalls", _StallCounter)
    where = (ctx.host, port, tls)
    if (silent := stalls.get(where)) >= http.STALL_LIMIT:
        # Shared by every check of the run: a port that sent nothing to STALL_LIMIT requests in a
        # row is stalled, and each further request would cost a full read timeout for nothing.
        return HttpResult(url, method, error=f"not sent: the port gave no response to {silent} requests "
                                             "in a row (stalled)")
    got = http.RawRead(b"", False)
    verified: bool | None = None
    cert_art: str | None = None
    error: str | None = None
    try:
        with ctx.connection(port) as sock:
            conn: socket.socket = sock
            if tls:
                tctx = verify or http.content_tls_context()
                try:
                    conn = tctx.wrap_socket(sock, server_hostname=ctx.host if verify else None)
                except ssl.SSLCertVerificationError as exc:
                    return HttpResult(url, method, error=f"certificate not valid: {exc.verify_message}",
                                      tls_verified=False)
                except ssl.SSLError as exc:
                    return HttpResult(url, method, error=f"TLS handshake failed: {exc.reason or exc}",
                                      tls_verified=False if verify else None)
                if verify is not None:
                    verified = True
                der = conn.getpeercert(binary_form=True)
                if der and record:
                    cert_art = ctx.artefact("certificate", f"{url} peer certificate (DER)", der,
                                            media_type="application/pkix-cert", port=port)
            conn.sendall(req)
            got = http.read_response(conn, method=method, max_bytes=max_bytes,
                                     timeout=ctx.remaining(max(ctx.options.safety.timeout * 2, 5.0)),
                                     check_cancelled=ctx.check_cancelled)
    except (OSError, ssl.SSLError) as exc:
        error = f"connection failed: {exc.__class__.__name__}: {exc}"
    stalls.record(where, not got.data and got.timed_out)
    if not got.data:
        return HttpResult(url, method, error=error or "no response", tls_verified=verified,
                          peer_cert_artefact=cert_art)
    art = ctx.artefact("http-response", f"{method} {url}", got.data, port=port) if record else None
    try:
        r = http.parse_response(got.data, method, max_bytes, cut=got.timed_out)
    except ValueError as exc:
        return HttpResult(url, method, error=error or str(exc), artefact=art, tls_verified=verified,
                          peer_cert_artefact=cert_art)
    return HttpResult(url, method, r.status, r.reason, {k.lower(): v for k, v in r.headers}, r.body,
                      r.truncated, None, art, verified, cert_art)


class PageParser(HTMLParser):
    """Title, headings, meta tags, links (with their text) and forms of one HTML page; never executes anything."""

    MAX_ITEMS = 500

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.headings: list[str] = []  # h1 / h2 text: what the page says it is about
        self.meta: list[tuple[str, str]] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.file_inputs = 0  # <input type="file">: an upload form (firmware upload on an update page)
        self._in_title = False
        self._heading: list[str] | None = None
        self._link: list[Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag in ("h1", "h2") and len(self.headings) < self.MAX_ITEMS:
            self._heading = []
        elif tag == "input" and a.get("type", "").lower() == "file":
            self.file_inputs += 1
        elif tag == "meta" and len(self.meta) < self.MAX_ITEMS:
            name = a.get("name") or a.get("property") or a.get("http-equiv") or ""
            if name:
                self.meta.append((name.lower(), a.get("content", "")))
        elif tag == "a" and a.get("href") and len(self.links) < self.MAX_ITEMS:
            self._link = [a["href"], ""]
        elif tag in ("frame", "iframe") and a.get("src") and len(self.links) < self.MAX_ITEMS:
            self.links.append((a["src"], ""))
        elif tag == "form" and a.get("action") and len(self.links) < self.MAX_ITEMS:
            self.links.append((a["action"], "form"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in ("h1", "h2") and self._heading is not None:
            self.headings.append(" ".join("".join(self._heading).split())[:200])
            self._heading = None
        elif tag == "a" and self._link is not None:
            self.links.append((self._link[0], self._link[1].strip()[:200]))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._in_title and len(self.title) < 500:
            self.title += data
        if self._heading is not None and sum(map(len, self._heading)) < 400:
            self._heading.append(data)
        if self._link is not None and len(self._link[1]) < 400:
            self._link[1] += data


def parse_page(body: str) -> PageParser:
    p = PageParser()
    try:
        p.feed(body[:DEFAULT_BODY_CAP])
        p.close()
    except Exception:  # HTMLParser is lenient; a hostile page must still not break a check
        pass
    p.title = " ".join(p.title.split())
    return p


def resolve_link(page_url: str, href: str) -> str | None:
    """An absolute http(s) URL for a link, or None for javascript:, mailto:, fragments..."""
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
        return None
    try:
        url = urljoin(page_url, href)
    except ValueError:
        return None
    url = url.split("#", 1)[0]
    return url if url.startswith(("http://", "https://")) else None

