"""What probe reads from the device's web services, through the check context, and nothing else.

Why not urllib/requests: those follow redirects to any host, resolve names, and read without a
total time cap. Here every request goes through one of the device's connection slots
(`ctx.connection`), every read is capped in bytes and time, redirects are never followed
automatically, and the raw response bytes are kept verbatim for the evidence.

GET results are memoised per target (`TargetSession.once`) so that several checks reading the same
admin page cost the device one request, and all of them cite the same artefact; a port that
stalls is not asked again in the run. The wire client (request, bounded read, parse, TLS, the
stall policy) is protocols.http, shared with the login trials; this module adds only what needs
the check context: slots, time budget, artefacts and the per-run memo and stall guard.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin, urlsplit

from probe.context import CheckContext
from probe.models import Service
from probe.protocols import http
from probe.protocols.transcript import Transcript

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


def stall_guard(ctx: CheckContext) -> http.StallGuard:
    """The target's stall guard for page reads: shared by every check, so a port that stalled for one
    check is not asked again by the next (protocols.http.StallGuard is the policy)."""
    guard: http.StallGuard = ctx.once("web-stalls", http.StallGuard)
    return guard


def client(ctx: CheckContext, svc: Service, transcript: Transcript) -> http.Client:
    """A client for one web service that records every exchange in `transcript` (the login-page
    search and login trials). It has its own stall guard: one check's stalls never skip another's."""
    return http.Client(lambda: ctx.connection(svc.port), ctx.host, svc.port, is_tls(svc), transcript,
                       timeout=ctx.remaining(), check_cancelled=ctx.check_cancelled)


def get(ctx: CheckContext, port: int, path: str, *, tls: bool, max_bytes: int = DEFAULT_BODY_CAP) -> HttpResult:
    """A GET on the device (unverified TLS: for reading content only), asked once per target: every
    check that reads the same page costs the device one request and cites the same artefact.

    Checks read the same page with different byte caps (a UPnP description, a leak scan, a model
    search), in whatever order their threads run. So that what a check sees never depends on which
    check asked first, every caller gets exactly the first `max_bytes` of the page: a read that was
    cut below this caller's cap is not reused but read again with the larger cap (that read then
    serves later callers), and a longer read is cut to the caller's cap (`truncated` set when it was).
    """
    key = ("web-get", ctx.host, port, tls, path)

    def read(cap: int) -> tuple[int, HttpResult]:
        return cap, request(ctx, port, path, tls=tls, max_bytes=cap)

    cap, res = ctx.once(key, lambda: read(max_bytes))
    if res.truncated and cap < max_bytes:  # cut below what this caller reads: read it again, once per cap
        cap, res = ctx.once((*key, max_bytes), lambda: read(max_bytes))
    if len(res.body) > max_bytes:
        res = replace(res, body=res.body[:max_bytes], truncated=True)
    return res


def request(ctx: CheckContext, port: int, path: str, *, tls: bool, method: str = "GET", body: bytes = b"",
            headers: dict[str, str] | None = None, max_bytes: int = DEFAULT_BODY_CAP,
            verify: ssl.SSLContext | None = None, record: bool = True) -> HttpResult:
    """One HTTP/1.1 request to the target itself, `Connection: close`, bounded in bytes and time,
    the raw answer kept as an artefact (with `record`).

    With `verify`, the TLS handshake validates the chain and the IP SAN; a validation failure is
    returned as `error` with `tls_verified=False` (not raised), because it is an observation.
    """
    url = base_url(ctx.host, port, tls) + path
    c = http.Client(lambda: ctx.connection(port), ctx.host, port, tls,
                    timeout=ctx.remaining(max(ctx.options.safety.timeout * 2, 5.0)), max_bytes=max_bytes,
                    verify=verify, check_cancelled=ctx.check_cancelled, stalls=stall_guard(ctx))
    try:
        ex = c.exchange(method, path, headers, body)
    except (OSError, ssl.SSLError) as exc:
        return HttpResult(url, method, error=f"connection failed: {exc.__class__.__name__}: {exc}")
    cert_art = None
    if ex.peer_cert and record:
        cert_art = ctx.artefact("certificate", f"{url} peer certificate (DER)", ex.peer_cert,
                                media_type="application/pkix-cert", port=port)
    if ex.read is None or not ex.read.data:  # not sent, TLS handshake failed, or not one byte came back
        return HttpResult(url, method, error=ex.error, tls_verified=ex.tls_verified, peer_cert_artefact=cert_art)
    art = ctx.artefact("http-response", f"{method} {url}", ex.read.data, port=port) if record else None
    r = ex.response
    if r is None:
        return HttpResult(url, method, error=ex.error, artefact=art, tls_verified=ex.tls_verified,
                          peer_cert_artefact=cert_art)
    return HttpResult(url, method, r.status, r.reason, {k.lower(): v for k, v in r.headers}, r.body,
                      r.truncated, None, art, ex.tls_verified, cert_art)


# paths that name an action, not a page: a script's `location.href = "/cgi-bin/reboot.cgi"` in a
# button handler, a "Log out" link. On a careless device a GET of them acts, so no survey asks them.
_ACTION_PATH = re.compile(r"(?i)reboot|restart|factory|log_?out|log_?off|sign_?out|shutdown|power_?off|delete|remove|"
                          r"erase|wipe|(?<![a-z])(?:reset|format|restore|apply|commit|save)(?![a-z])")


def names_an_action(url_or_path: str) -> bool:
    """Whether a link's path (or query) names an action a GET might perform on a careless device
    (reboot, factory reset, log out, delete...): such links are never followed by any survey."""
    return bool(_ACTION_PATH.search(url_or_path))


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

