"""HTTP login surfaces (Basic, Digest, HTML forms, script logins) and proven login attempts.

A login counts as successful only when it is *proven*: the same resource answered 401/403 (or
showed a login form) without credentials, and answers 2xx/3xx with a different body with them,
while a deliberately wrong password on the same surface still fails. A script login (the login
page's JavaScript posts JSON or a form to an API path: probe.protocols.script_login) is proven the
same way: the answer is not an error, carries no login form, and differs from the answer to a
wrong password in what it says (not merely in a session id or a time stamp). A page that answers 200
without any credentials is not a default-login success; it is unauthenticated access, which a
different check reports.

Digest is implemented here (RFC 7616, also RFC 2617's MD5 without qop) because urllib's handler
hides the exchange and reads without a total time limit.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

from probe.protocols import html, http, script_login

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


def find_forms(body: bytes) -> tuple[list[Form], bool, int]:
    """Login forms in a page -> (forms, a password input outside any form was seen, script count)."""
    page = html.parse(body[:512 * 1024].decode("utf-8", "replace"), limit=512 * 1024)
    forms, orphan = [], False
    for f in page.forms:
        inputs = [(i.type, i.name, i.value) for i in f.inputs]
        pw = [n for t, n, _ in inputs if t == "password" and n]
        if not pw and not any(t == "password" for t, _, _ in inputs):
            continue
        if f.orphan or not pw:
            orphan = True
            continue
        texts = [n for t, n, _ in inputs if t in ("text", "email", "") and n]
        user = next((n for n in texts if re.search(r"(?i)user|login|name|mail|account|id", n)), None)
        user = user or (texts[0] if texts else None)
        others = {n: v for t, n, v in inputs
                  if n and n not in (pw[0], user) and t in ("hidden", "submit", "checkbox")}
        forms.append(Form(f.action, f.method, user, pw[0], others))
    return forms, orphan, page.scripts


@dataclass
class Surface:
    """A place where the device asks for HTTP credentials."""

    kind: str  # basic | digest | form | script
    path: str  # where credentials go (for a script login: the API path its script posts to)
    baseline: http.Response  # the unauthenticated answer (401 / the login page)
    challenge: dict[str, str] = field(default_factory=dict)
    form: Form | None = None
    page_path: str | None = None  # where the form (or the login page whose script logs in) was found
    script: script_login.ScriptLogin | None = None

    def describe(self) -> str:
        if self.kind == "script" and self.script is not None:
            return f"HTTP script login ({self.script.describe()}) on the page {self.page_path}"
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
    refused: bool = False  # the device refused to evaluate it (a lock-out or a wait, said in the answer)


def script_tokens(login: script_login.ScriptLogin, page: http.Response,
                  cookies: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Values for a script login's token fields, from the login page just fetched (a hidden input
    or a meta tag of that name, else a meta tag naming a csrf token) or a cookie of that name:
    (values, names not found)."""
    if not login.tokens:
        return {}, []
    doc = html.parse(page.body[:512 * 1024].decode("utf-8", "replace"), limit=512 * 1024)
    inputs = {i.name: i.value for f in doc.forms for i in f.inputs if i.name}
    metas = dict(doc.meta)
    csrf_meta = next((v for k, v in doc.meta if "csrf" in k or "xsrf" in k or k.endswith("token")), None)
    values, missing = {}, []
    for name in login.tokens:
        value = inputs.get(name) or metas.get(name.lower()) or cookies.get(name) or csrf_meta
        if value:
            values[name] = value
        else:
            missing.append(name)
    return values, missing


def _follow(client: http.Client, path: str, resp: http.Response) -> http.Response:
    """Follow up to two same-host redirects after a login, carrying its cookies (GETs only)."""
    for _ in range(2):
        loc = resp.header("Location")
        if resp.status not in (301, 302, 303, 307, 308) or not loc:
            break
        nxt = urlsplit(urljoin(path, loc))
        if nxt.netloc and nxt.hostname not in (client.host,):
            break
        path = (nxt.path or "/") + (f"?{nxt.query}" if nxt.query else "")
        resp = client.request("GET", path)
    return resp


def _script_request(client: http.Client, surface: Surface, username: str, password: str) -> http.Response:
    """The request the login page's script sends, after a fresh GET of the page (its cookies and tokens)."""
    login = surface.script
    assert login is not None
    client.cookies.clear()
    page = client.request("GET", surface.page_path or "/")
    tokens, missing = script_tokens(login, page, client.cookies)
    if missing:
        raise ValueError(f"the login page no longer carries the token field(s) {', '.join(missing)}")
    body, headers = script_login.body(login, username, password, tokens)
    headers.setdefault("Referer", f"{'https' if client.tls else 'http'}://{client.host}:{client.port}"
                       f"{surface.page_path or '/'}")
    if login.method == "GET":
        sep = "&" if "?" in surface.path else "?"
        return _follow(client, surface.path, client.request("GET", surface.path + sep + body.decode(), headers))
    return _follow(client, surface.path, client.request("POST", surface.path, headers, body))


def _auth_request(client: http.Client, surface: Surface, username: str, password: str) -> http.Response:
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
    if surface.kind == "script":
        return _script_request(client, surface, username, password)
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
    return _follow(client, path, resp)  # same-host redirects after the login, carrying cookies


def _signature(resp: http.Response) -> tuple[int, bool, str]:
    """What a form login's answer says: a page that differs from a wrong password's only in a
    session id, a fresh token or a time stamp is the same answer."""
    return resp.status, html.has_password_markup(resp.body), script_login.signature(resp.status, resp.body)


def attempt(client: http.Client, surface: Surface, username: str, password: str,
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
    if surface.kind == "script":
        return _judge_script(surface, resp, control, username, password, latency)
    sig = _signature(resp)
    if resp.status >= 400:
        return Attempt(username, password, False, resp.status, f"{resp.status} after the form login", latency, resp)
    if sig[1]:
        return Attempt(username, password, False, resp.status, "the login form came back", latency, resp)
    if control is not None and control.response is not None and _signature(control.response) == sig:
        return Attempt(username, password, False, resp.status, "same answer as a wrong password", latency, resp)
    return Attempt(username, password, control is not None and not control.success, resp.status,
                   "no login form after the login and an answer different from a wrong password's", latency, resp)


def same_answer(a: http.Response, b: http.Response) -> bool:
    """Do two answers to a form or script login say the same (session ids, nonces and times aside)?"""
    return _signature(a) == _signature(b)


def _judge_script(surface: Surface, resp: http.Response, control: Attempt | None, username: str, password: str,
                  latency: float) -> Attempt:
    """A script login's answer: proven only against a wrong password's answer, and only when probe
    sent exactly what the page's script would (no `problem`)."""
    def no(detail: str, refused: bool = False) -> Attempt:
        return Attempt(username, password, False, resp.status, detail, latency, resp, refused)

    if resp.status >= 400:
        return no(f"{resp.status} after the script login")
    if html.has_password_markup(resp.body):
        return no("the login form came back")
    base = control.response if control is not None else None
    if script_login.says_locked(resp.body) and not (base is not None and script_login.says_locked(base.body)):
        return no("the answer speaks of a lock-out or a wait, not of a login", refused=True)
    if base is not None and same_answer(resp, base):
        return no("same answer as a wrong password")
    proven = control is not None and base is not None and not control.success and \
        (surface.script is None or surface.script.problem is None)
    return Attempt(username, password, proven, resp.status,
                   f"{resp.status}, no login form, and an answer that differs from a wrong password's "
                   "(beyond session ids and time stamps)", latency, resp)


def random_password() -> str:
    return "probe-wrong-" + secrets.token_hex(6)


def random_path() -> str:
    return "/probe-" + os.urandom(6).hex()
