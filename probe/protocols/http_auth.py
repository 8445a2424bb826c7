"""HTTP login surfaces (Basic, Digest, HTML forms) and proven login attempts.

A login counts as successful only when it is *proven*: the same resource answered 401/403 (or
showed a login form) without credentials, and answers 2xx/3xx with a different body with them,
while a deliberately wrong password on the same surface still fails. A page that answers 200
without any credentials is not a default-login success; it is unauthenticated access, which a
different check reports.

Digest is implemented here (RFC 7616, also RFC 2617's MD5 without qop) because urllib's handler
hides the exchange and reads without a total time limit.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from probe.protocols import http
from probe.protocols.transcript import Transcript

Connect = Callable[[], contextlib.AbstractContextManager[Any]]
AUTH_FAIL_STATUSES = (401, 403, 407)
_ITEM_RE = re.compile(r'\s*,?\s*([A-Za-z0-9][\w!#$%&\'*+.^`|~-]*)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*))?')


def parse_challenges(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """WWW-Authenticate values -> [(scheme lower-case, params)]; several challenges per value allowed."""
    out: list[tuple[str, dict[str, str]]] = []
    for value in values:
        pos = 0
        current: tuple[str, dict[str, str]] | None = None
        for _ in range(256):
            m = _ITEM_RE.match(value, pos)
            if not m or m.end() == pos:
                break
            pos = m.end()
            name, val = m.group(1), m.group(2)
            if val is None:  # a bare token starts a new challenge
                current = (name.lower(), {})
                out.append(current)
            elif current is not None:
                current[1][name.lower()] = val[1:-1].replace('\\"', '"') if val.startswith('"') else val
    return out


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def digest_header(challenge: dict[str, str], username: str, password: str, method: str, uri: str,
                  *, cnonce: str | None = None, nc: int = 1) -> str:
    """Authorization header for a Digest challenge (RFC 7616; RFC 2617 MD5 when no qop)."""
    algorithm = challenge.get("algorithm", "MD5")
    base = algorithm.upper().removesuffix("-SESS")
    hashes = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256, "SHA-512-256": None}
    fn = hashes.get(base)
    if fn is None:
        raise ValueError(f"unsupported digest algorithm {algorithm}")

    def h(s: str) -> str:
        return fn(s.encode("utf-8")).hexdigest()

    realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")
    cnonce = cnonce or secrets.token_hex(8)
    ha1 = h(f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    fields = {"username": username, "realm": realm, "nonce": nonce, "uri": uri, "algorithm": algorithm}
    if "auth" in qops:
        ncs = f"{nc:08x}"
        fields["response"] = h(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
        extra = f', qop=auth, nc={ncs}, cnonce="{cnonce}"'
    elif qops:
        raise ValueError(f"unsupported digest qop {challenge.get('qop')}")
    else:
        fields["response"] = h(f"{ha1}:{nonce}:{ha2}")
        extra = ""
    if "opaque" in challenge:
        fields["opaque"] = challenge["opaque"]
    quoted = ", ".join(f'{k}="{v}"' if k != "algorithm" else f"{k}={v}" for k, v in fields.items())
    return f"Digest {quoted}{extra}"


@dataclass
class Form:
    action: str
    method: str
    user_field: str | None
    password_field: str
    fields: dict[str, str]  # other inputs (hidden tokens etc.) with their values


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self._cur: dict[str, Any] | None = None
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "script":
            self.scripts += 1
        if tag == "form":
            self._cur = {"action": a.get("action", ""), "method": a.get("method", "get").upper(), "inputs": []}
            self.forms.append(self._cur)
        elif tag == "input":
            target = self._cur if self._cur is not None else None
            if target is None:  # inputs outside a <form>: a script-driven login
                self.forms.append({"action": "", "method": "POST", "inputs": [], "orphan": True})
                target = self._cur = self.forms[-1]
            target["inputs"].append((a.get("type", "text").lower(), a.get("name", ""), a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._cur = None


def find_forms(html: bytes) -> tuple[list[Form], bool, int]:
    """Login forms in a page -> (forms, a password input outside any form was seen, script count)."""
    p = _FormParser()
    with contextlib.suppress(Exception):
        p.feed(html[:512 * 1024].decode("utf-8", "replace"))
    forms, orphan = [], False
    for f in p.forms:
        pw = [n for t, n, _ in f["inputs"] if t == "password" and n]
        if not pw and not any(t == "password" for t, _, _ in f["inputs"]):
            continue
        if f.get("orphan") or not pw:
            orphan = True
            continue
        texts = [n for t, n, _ in f["inputs"] if t in ("text", "email", "") and n]
        user = next((n for n in texts if re.search(r"(?i)user|login|name|mail|account|id", n)), None)
        user = user or (texts[0] if texts else None)
        others = {n: v for t, n, v in f["inputs"]
                  if n and n not in (pw[0], user) and t in ("hidden", "submit", "checkbox")}
        forms.append(Form(f["action"], f["method"], user, pw[0], others))
    return forms, orphan, p.scripts


def has_password_input(body: bytes) -> bool:
    return bool(re.search(rb"(?i)<input[^>]+type\s*=\s*[\"']?password", body))


@dataclass
class HttpClient:
    """One-request-per-connection client that writes every exchange into a transcript."""

    connect: Connect
    host: str
    port: int
    tls: bool
    transcript: Transcript
    timeout: float = 5.0
    max_bytes: int = 256 * 1024
    cookies: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    check_cancelled: Callable[[], None] | None = None
    body_in_transcript: int = 4096
    silent: int = 0  # requests in a row that got not one byte back within the timeout

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes = b"") -> http.Response:
        if self.check_cancelled:
            self.check_cancelled()
        if self.silent >= http.STALL_LIMIT:
            # A port that said nothing to STALL_LIMIT requests in a row is stalled: asking it the
            # rest of a path list would cost a full timeout per path and answer nothing.
            self.transcript.note(f"{method} {path} not sent: no response to the last {self.silent} requests")
            raise ValueError(f"not sent: the server gave no response to {self.silent} requests in a row (stalled)")
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body:
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        raw = http.build_request(method, self.host, self.port, path, hdrs, body,
                                 default_port=443 if self.tls else 80)
        self.requests += 1
        self.transcript.sent(raw)
        started = time.monotonic()
        with self.connect() as sock:
            s = http.wrap(sock, self.tls, self.timeout)
            try:
                resp = http.send(s, raw, method=method, timeout=self.timeout, max_bytes=self.max_bytes,
                                 tls=self.tls)
            except ValueError as exc:
                if str(exc) == http.NO_RESPONSE and time.monotonic() - started >= self.timeout * 0.9:
                    self.silent += 1
                raise
            finally:
                if s is not sock:
                    with contextlib.suppress(OSError):
                        s.close()
        self.silent = 0
        head, _, rest = resp.raw.partition(b"\r\n\r\n")
        shown = rest[: self.body_in_transcript]
        more = len(rest) - len(shown)
        cut = f"...[{more} more body bytes]".encode() if more > 0 else b""
        self.transcript.received(head + b"\r\n\r\n" + shown + cut)
        for sc in resp.headers_all("Set-Cookie"):
            name, _, value = sc.split(";", 1)[0].partition("=")
            if name.strip():
                self.cookies[name.strip()] = value.strip()
        return resp


@dataclass
class Surface:
    """A place where the device asks for HTTP credentials."""

    kind: str  # basic | digest | form
    path: str
    baseline: http.Response  # the unauthenticated answer (401 / the login page)
    challenge: dict[str, str] = field(default_factory=dict)
    form: Form | None = None
    page_path: str | None = None  # where the form was found

    def describe(self) -> str:
        realm = f' realm "{self.challenge.get("realm")}"' if self.challenge.get("realm") else ""
        return f"HTTP {self.kind}{realm} at {self.path}"


def surface_from_response(path: str, resp: http.Response) -> Surface | None:
    if resp.status == 401:
        challenges = parse_challenges(resp.headers_all("WWW-Authenticate"))
        schemes = {s: p for s, p in challenges}
        if "digest" in schemes:
            return Surface("digest", path, resp, schemes["digest"])
        if "basic" in schemes:
            return Surface("basic", path, resp, schemes["basic"])
        return None
    if resp.status == 200:
        forms, _orphan, _ = find_forms(resp.body)
        if forms:
            return Surface("form", path, resp, form=forms[0], page_path=path)
    return None


@dataclass
class Attempt:
    username: str
    password: str
    success: bool
    status: int | None
    detail: str
    latency: float
    response: http.Response | None = None


def _auth_request(client: HttpClient, surface: Surface, username: str, password: str) -> http.Response:
    if surface.kind == "basic":
        return client.request("GET", surface.path, {"Authorization": basic_header(username, password)})
    if surface.kind == "digest":
        for _ in range(2):  # a stale nonce is refreshed once
            hdr = digest_header(surface.challenge, username, password, "GET", surface.path)
            resp = client.request("GET", surface.path, {"Authorization": hdr})
            fresh = dict(parse_challenges(resp.headers_all("WWW-Authenticate"))).get("digest")
            if fresh:
                surface.challenge = fresh
            if not (resp.status == 401 and fresh and fresh.get("stale", "").lower() == "true"):
                return resp
        return resp
    assert surface.form is not None
    client.cookies.clear()
    page = client.request("GET", surface.page_path or surface.path)  # fresh tokens and session
    forms, _, _ = find_forms(page.body)
    form = forms[0] if forms else surface.form
    data = dict(form.fields)
    if form.user_field:
        data[form.user_field] = username
    data[form.password_field] = password
    target = urlsplit(urljoin(surface.page_path or "/", form.action or surface.page_path or "/"))
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    body = urlencode(data).encode()
    if form.method == "GET":
        resp = client.request("GET", path + ("&" if "?" in path else "?") + body.decode())
    else:
        resp = client.request("POST", path, body=body)
    for _ in range(2):  # follow same-host redirects after the login, carrying cookies
        loc = resp.header("Location")
        if resp.status not in (301, 302, 303, 307, 308) or not loc:
            break
        nxt = urlsplit(urljoin(path, loc))
        if nxt.netloc and nxt.hostname not in (client.host,):
            break
        path = (nxt.path or "/") + (f"?{nxt.query}" if nxt.query else "")
        resp = client.request("GET", path)
    return resp


def _signature(resp: http.Response) -> tuple[int, bool, str]:
    return resp.status, has_password_input(resp.body), hashlib.sha256(resp.body).hexdigest()


def attempt(client: HttpClient, surface: Surface, username: str, password: str,
            control: Attempt | None) -> Attempt:
    """One login; success only when proven against the unauthenticated baseline and the control."""
    t0 = time.monotonic()
    resp = _auth_request(client, surface, username, password)
    latency = time.monotonic() - t0
    if surface.kind in ("basic", "digest"):
        if resp.status in AUTH_FAIL_STATUSES:
            return Attempt(username, password, False, resp.status, f"{resp.status}: rejected", latency, resp)
        if resp.status >= 400:
            return Attempt(username, password, False, resp.status, f"{resp.status}: error, not a login", latency,
                           resp)
        differs = resp.body != surface.baseline.body
        ok = differs and (control is None or not control.success)
        detail = (f"{surface.baseline.status} without credentials -> {resp.status} with them; body "
                  f"{'differs' if differs else 'is identical'}")
        return Attempt(username, password, ok, resp.status, detail, latency, resp)
    sig = _signature(resp)
    if resp.status >= 400:
        return Attempt(username, password, False, resp.status, f"{resp.status} after the form login", latency, resp)
    if sig[1]:
        return Attempt(username, password, False, resp.status, "the login form came back", latency, resp)
    if control is not None and control.response is not None and _signature(control.response) == sig:
        return Attempt(username, password, False, resp.status, "same answer as a wrong password", latency, resp)
    return Attempt(username, password, control is not None and not control.success, resp.status,
                   "no login form after the login and an answer different from a wrong password's", latency, resp)


def random_password() -> str:
    return "probe-wrong-" + secrets.token_hex(6)


def random_path() -> str:
    return "/probe-" + os.urandom(6).hex()
