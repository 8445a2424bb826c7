"""One login attempt per call, for every login protocol, with a uniform result.

default_credentials and brute_force_protection both need "try this username and password on
this service once, time it, keep the transcript, and say what happened in one vocabulary";
this module is that layer between the protocol clients (probe.protocols) and the checks.
Connections always go through the check context, so the per-device cap and the timeouts hold.
"""

from __future__ import annotations

import importlib.resources
import re
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from probe.context import CheckContext
from probe.models import Service
from probe.protocols import ftp, html, http, http_auth, mqtt, script_login, snmp, ssh_auth, ssh_kexinit, telnet, tlswrap
from probe.protocols.transcript import Transcript
from probe.services import web
from probe.services.credentials import Credential

LOGIN_PROTOCOLS = ("ssh", "telnet", "ftp", "http", "https", "mqtt", "snmp")
MAX_LINKED_PAGES = 8  # extra pages followed from the device's own links when looking for a login
MAX_REDIRECT_PAGES = 6  # pages reached through a redirect, a meta refresh, a script's location or a frame
MAX_SCRIPT_FILES = 6  # script files read per login search, looking for a script login
SCRIPT_BYTES = 256 * 1024  # characters of one script file read
WEB_BODY_CAP = 256 * 1024
_LOGIN_WORDS = (b"login", b"log in", b"logon", b"sign in", b"signin", b"password")
# public front-end libraries: never a device's login code, and large (skipped to keep the budget for the app's own)
_LIBRARY = re.compile(r"(?i)^(?:jquery|bootstrap|vue|react|angular|lodash|underscore|polyfill|moment|d3|echarts|"
                      r"chart|zepto|require|axios|crypto-?js|md5|sha\d*|base64)\b[\w.-]*\.js$")
SNMP_MAX_WAIT = 2.0  # seconds a community burst waits when the agent's speed is not known
SNMP_MIN_WAIT = 1.0  # ... and at least, whatever its speed
SNMP_WAIT_RTTS = 20  # ... otherwise this many times its SNMPv3 discovery round trip


@dataclass
class LoginPages:
    """Where a web service asks for credentials, from unauthenticated GETs only."""

    surface: http_auth.Surface | None  # first Basic/Digest challenge, if any
    forms: list[http_auth.Surface]  # form or script logins seen (the first one is used when no challenge)
    pages: dict[str, object]  # path -> response
    redirected_to_https: list[str]  # paths answered with a redirect to https://
    fetched: int
    throttled: list[str] = field(default_factory=list)  # paths answered 429/503: the device refused to tell
    scripts_read: list[str] = field(default_factory=list)  # script files read to find a script login

    def throttle_reason(self) -> str | None:
        """Why "no login found" would not be trustworthy, or None."""
        if self.surface or self.forms or not self.throttled:
            return None
        shown = ", ".join(self.throttled[:5]) + (" ..." if len(self.throttled) > 5 else "")
        return (f"the device answered 429/503 (throttling or lock-out) on {len(self.throttled)} page(s) "
                f"({shown}), so whether they ask for a login could not be seen")


def _same_host_path(svc: Service, page_path: str, href: str) -> str | None:
    """`href` on the page at `page_path` as a path on this same service, or None (elsewhere, or not
    a page: javascript:, mailto:...). Names are never resolved: another host is never asked."""
    here = urlsplit(web.service_url(svc, page_path))
    url = web.resolve_link(here.geturl(), href)
    if url is None:
        return None
    there = urlsplit(url)
    try:
        if (there.scheme, there.hostname, there.port) != (here.scheme, here.hostname, here.port):
            return None
    except ValueError:  # a malformed port in the href
        return None
    return (there.path or "/") + (f"?{there.query}" if there.query else "")


def _page_to_ask(svc: Service, page_path: str, href: str) -> str | None:
    """A same-service page the login search may GET: not elsewhere, and not a path naming an action."""
    target = _same_host_path(svc, page_path, href)
    return None if target is None or web.names_an_action(target) else target


def _get(client: http.Client, path: str) -> http.Response | None:
    """GET a page of the login search; a failure is noted in the transcript and the search goes on."""
    try:
        return client.request("GET", path)
    except (OSError, ValueError) as exc:
        if client.transcript is not None:
            client.transcript.note(f"GET {path} failed: {exc}")
        return None


def _looks_like_login(body: bytes, page: html.Page) -> bool:
    """A page whose scripts may log in: it has scripts, and a password box or the words of a login."""
    if not (page.scripts or page.script_srcs):
        return False
    low = body[:WEB_BODY_CAP].lower()
    return html.has_password_markup(body) or any(w in low for w in _LOGIN_WORDS)


def _script_surface(ctx: CheckContext, svc: Service, client: http.Client, path: str, resp: http.Response,
                    page: html.Page, found: LoginPages, read: set[str]) -> tuple[http_auth.Surface | None, list[str]]:
    """A script login on this page (its inline script first, then up to MAX_SCRIPT_FILES same-host
    script files per search, libraries skipped), and the pages those scripts redirect to."""
    texts = [page.inline_script]
    redirects: list[str] = []
    for src in page.script_srcs:
        target = _same_host_path(svc, path, src)
        if target is None or target in read or _LIBRARY.search(target.split("?")[0].rsplit("/", 1)[-1]):
            continue
        if len(found.scripts_read) >= MAX_SCRIPT_FILES:
            if client.transcript is not None:
                client.transcript.note(f"script {target} not read: {MAX_SCRIPT_FILES} script files already read")
            break
        read.add(target)
        ctx.check_cancelled()
        got = _get(client, target)
        if got is None:
            continue
        found.scripts_read.append(target)
        if 200 <= got.status < 300:
            text = got.body[:SCRIPT_BYTES].decode("utf-8", "replace")
            texts.append(text)
            redirects += html.script_redirects(text)
    for text in texts:
        for login in script_login.find(text):
            api = _same_host_path(svc, path, login.path)
            if api is None:
                continue
            login = replace(login, path=api)
            if login.problem is None and login.tokens:
                _, missing = http_auth.script_tokens(login, resp, client.cookies)
                if missing:
                    login = replace(login, problem=(
                        f"the page's script fills the field(s) {', '.join(missing)} from something probe cannot "
                        "see on the login page"))
            return http_auth.Surface("script", api, resp, page_path=path, script=login), redirects
    return None, redirects


def script_login_on_page(ctx: CheckContext, svc: Service, client: http.Client, path: str,
                         resp: http.Response) -> http_auth.Surface | None:
    """The script login one page runs, if it looks like a login page and its inline script or one
    of its same-host script files sends credentials (the login search's own reading, for one page).

    Why: a router's login page often has no <form> (its script posts the login) and shows the
    words a management page shows ("Firmware version", "Wireless settings"); unauthenticated_access
    must not take it for a management page served without a login."""
    page = html.parse(resp.body[:WEB_BODY_CAP].decode("utf-8", "replace"))
    if not _looks_like_login(resp.body, page):
        return None
    surface, _ = _script_surface(ctx, svc, client, path, resp, page, LoginPages(None, [], {}, [], 0), set())
    return surface


def find_login_pages(ctx: CheckContext, svc: Service, client: http.Client, paths: list[str]) -> LoginPages:
    """The fixed path list first, then pages the device itself leads to: where a page sends the
    browser (an HTTP redirect, a meta refresh, a script setting `window.location`, a frame: these
    come next, MAX_REDIRECT_PAGES of them), then pages it links to (a camera's "Live view", a
    router's "Settings"; MAX_LINKED_PAGES). Login pages are found where a user would find them;
    a path that names an action (reboot, reset, logout, delete...) is never asked.
    A page that looks like a login but has no form is searched for a script login
    (probe.protocols.script_login) in its inline script and its script files. Stops at the first
    Basic/Digest challenge. Only GETs are sent."""
    found = LoginPages(None, [], {}, [], 0)
    queue = list(dict.fromkeys(paths or ["/"]))
    seen = set(queue)
    linked = hops = 0
    scripts: set[str] = set()

    def lead_to(targets: list[str], where: str) -> None:
        nonlocal hops
        for target in targets:
            nxt = _page_to_ask(svc, where, target)
            if nxt is None or nxt in seen:
                continue
            if hops >= MAX_REDIRECT_PAGES:
                if client.transcript is not None:
                    client.transcript.note(f"{nxt} not fetched: {MAX_REDIRECT_PAGES} redirect/frame pages already")
                return
            seen.add(nxt)
            queue.insert(0, nxt)
            hops += 1

    while queue:
        path = queue.pop(0)
        ctx.check_cancelled()
        resp = _get(client, path)
        if resp is None:
            continue
        found.fetched += 1
        found.pages[path] = resp
        loc = resp.header("Location") or ""
        if resp.status in (301, 302, 303, 307, 308) and loc.lower().startswith("https://"):
            found.redirected_to_https.append(path)
            continue
        if resp.status in (429, 503):
            found.throttled.append(path)
            continue
        s = http_auth.surface_from_response(path, resp)
        if s and s.kind in ("basic", "digest"):
            found.surface = s
            break
        if s and not found.forms:
            found.forms.append(s)
        if resp.status in (301, 302, 303, 307, 308) and loc:
            lead_to([loc], path)
            continue
        if not (200 <= resp.status < 300):
            continue
        page = html.parse(resp.body[:WEB_BODY_CAP].decode("utf-8", "replace"))
        leads = list(page.redirects) + list(page.frames)
        if not found.forms and _looks_like_login(resp.body, page):
            scripted, more = _script_surface(ctx, svc, client, path, resp, page, found, scripts)
            if scripted is not None:
                found.forms.append(scripted)
            leads += more
        lead_to(list(reversed(leads)), path)  # inserted at the front: the first lead is asked first
        for href, _text in page.links:
            if linked >= MAX_LINKED_PAGES:
                break
            link = _page_to_ask(svc, path, href)
            if link is not None and link not in seen:
                seen.add(link)
                queue.append(link)
                linked += 1
    return found


class Result(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"  # the device asked for credentials and rejected these
    NO_AUTH = "no-auth"  # the device did not ask for credentials at all
    LOCKED = "locked"  # the device said it locked the account / client, or refused to talk
    UNSUPPORTED = "unsupported"  # our client cannot speak this device's variant
    NO_PASSWORD = "no-password-login"  # key- or certificate-only: no password is ever read
    CONNECTIVITY = "connectivity"  # could not connect, reset, timeout before a verdict
    UNKNOWN = "unknown"  # the device answered something we cannot classify


# what one login trial found: result, detail, a login prompt was seen, answer latency, extra details
TryResult = tuple["Result", str, bool, float | None, dict[str, Any]]


@dataclass
class Attempt:
    credential: Credential
    result: Result
    detail: str
    prompt_seen: bool
    elapsed: float  # connect to verdict
    answer_latency: float | None  # credential sent to verdict
    transcript: Transcript
    extra: dict[str, object] = field(default_factory=dict)

    def row(self) -> dict[str, object]:
        return {"username": self.credential.username,
                "password": "<redacted>" if self.credential.secret else self.credential.password,
                "source": "operator file" if self.credential.secret else self.credential.source,
                "result": str(self.result), "detail": self.detail, "elapsed_s": round(self.elapsed, 3),
                "answer_latency_s": None if self.answer_latency is None else round(self.answer_latency, 3),
                **({"user_only": True} if self.extra.get("user_only") else {})}

    def shown(self) -> str:
        """The pair as a finding names it: a login by the user name alone says so (no password was sent)."""
        if self.extra.get("user_only"):
            return f"{self.credential.username or '(none)'} with no password (the user name alone logged in)"
        return self.credential.label()


def admin_paths() -> list[str]:
    """The built-in list of admin/config/firmware paths (probe/data/admin_paths.txt)."""
    text = (importlib.resources.files("probe") / "data" / "admin_paths.txt").read_text("utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _transcript(ctx: CheckContext, svc: Service, cred: Credential) -> Transcript:
    secrets = (cred.password.encode(),) if cred.secret and cred.password else ()
    t = Transcript(svc.protocol, ctx.host, svc.port, secrets=secrets)
    t.note(f"attempt: {cred.label()} (source: {'operator file' if cred.secret else cred.source})")
    return t


class ServiceLogin:
    """Login attempts on one service; `prepare()` once, then `attempt()` per credential."""

    def __init__(self, ctx: CheckContext, service: Service) -> None:
        self.ctx = ctx
        self.svc = service
        self.preflight = Transcript(service.protocol, ctx.host, service.port)
        self.requires_auth: bool | None = None  # None: not known before the first attempt
        self.unsupported: str | None = None
        self.no_password: str | None = None  # why no password login exists (key/cert only)
        self.throttled: str | None = None  # HTTP: the login search met 429/503 and found nothing
        self.ssh_methods: list[str] | None = None  # SSH: the methods the server allows (first answer listing them)
        self.surface: http_auth.Surface | None = None
        self.control: http_auth.Attempt | None = None
        self.description = f"{service.protocol} login"
        self.pages: dict[str, object] = {}  # HTTP: path -> unauthenticated response seen in prepare()
        # SNMP: the agent's answer to SNMPv3 engine discovery, the proof that it is listening even
        # when every community goes unanswered (v1/v2c agents drop a wrong community silently)
        self.snmp_engine: snmp.EngineReport | None = None
        self.snmp_rtt: float | None = None  # how long that answer took (bounds the community wait)

    # -- preparation ---------------------------------------------------------------------
    def prepare(self, paths: list[str] | None = None) -> None:
        """Find out whether and where the service asks for credentials (HTTP, MQTT, SNMP)."""
        p = self.svc.protocol
        if p in ("http", "https"):
            self._prepare_http(paths or ["/"])
        elif p in ("mqtt", "mqtts"):
            self._prepare_mqtt()
        elif p == "snmp":
            with self.ctx.slot():
                sent = time.monotonic()
                self.snmp_engine = snmp.discover_engine(self.ctx.host, self.svc.port, self.preflight,
                                                        self.ctx.remaining(2.0))
                self.snmp_rtt = time.monotonic() - sent if self.snmp_engine else None
            self.requires_auth = True if self.snmp_engine else None
            self.description = "SNMP community"

    def _client(self, t: Transcript) -> http.Client:
        return web.client(self.ctx, self.svc, t)

    def _prepare_http(self, paths: list[str]) -> None:
        client = self._client(self.preflight)
        if client.tls:
            self.preflight.note("https: certificate not verified (devices use self-signed certificates)")
        found = find_login_pages(self.ctx, self.svc, client, paths)
        self.throttled = found.throttle_reason()
        self.pages.update(found.pages)
        self.surface = found.surface
        forms = found.forms
        if self.surface is None and forms:
            self.surface = forms[0]
        if self.surface is None:
            self.requires_auth = False
            return
        self.requires_auth = True
        self.description = self.surface.describe()
        script = self.surface.script
        if script is not None:
            self.preflight.note(f"script login read from the page's script: {script.describe()}; "
                                f"excerpt: {script.excerpt}")
            if script.problem:  # nothing is sent: an attempt probe cannot reproduce proves nothing
                self.unsupported = script.problem
                self.preflight.note(f"not tried: {script.problem}")
                return
        # A control attempt with a random password: what "rejected" looks like on this surface.
        self.control = self._control()
        if script is not None and self.control is not None and self.control.response is not None:
            # a script login's answer is JSON or text of the device's own making: a second wrong
            # password must get the same answer, or no answer can be told apart from a rejection
            again = self._control()
            if again is not None and again.response is not None and \
                    not http_auth.same_answer(self.control.response, again.response):
                self.unsupported = ("two wrong passwords got different answers from the script login "
                                    f"({self.control.status} and {again.status}, different content), so a "
                                    "successful login could not be told apart from a rejection")
                self.preflight.note(f"not tried: {self.unsupported}")
        if script is not None and (self.control is None or self.control.response is None):
            self.unsupported = "the wrong-password control attempt got no answer, so no login could be proven"
        elif script is not None and self.control is not None and self.control.status in (404, 405, 501):
            # the path the script names does not take this request: every "rejection" would be that
            # same error, and a PASS on it would hide a login that is elsewhere
            self.unsupported = (f"the login API the page's script names answered {self.control.status} to the "
                                "login request, so it is not where (or not how) this device logs in")
            self.preflight.note(f"not tried: {self.unsupported}")

    def _control(self) -> http_auth.Attempt | None:
        """A wrong-password attempt; one that got no answer (a slow or busy device) is tried once more."""
        assert self.surface is not None
        for n in range(2):
            t = Transcript(self.svc.protocol, self.ctx.host, self.svc.port)
            t.note("control attempt with a random wrong password" + (" (again: the first got no answer)" if n else ""))
            try:
                return http_auth.attempt(self._client(t), self.surface, "admin", http_auth.random_password(), None)
            except (OSError, ValueError) as exc:
                self.preflight.note(f"control attempt failed: {exc}")
            finally:
                self.preflight.events.extend(t.events)
        return None

    def _mqtt_tls(self) -> bool:
        return self.svc.tls or self.svc.protocol == "mqtts"

    def _prepare_mqtt(self) -> None:
        try:
            with self.ctx.connection(self.svc.port, tls=self._mqtt_tls(), client_speaks_first=True) as sock:
                code = mqtt.Session(sock, self.preflight, self.ctx.remaining()).connect()
        except (OSError, ValueError, ConnectionError) as exc:
            self.preflight.note(f"anonymous CONNECT failed: {exc}")
            if tlswrap.needs_client_certificate(exc):
                self.requires_auth = True
                self.no_password = tlswrap.CLIENT_CERT_REASON
            return
        self.requires_auth = code != 0
        self.description = "MQTT CONNECT with user name and password"

    # -- attempts ------------------------------------------------------------------------
    def attempt(self, cred: Credential) -> Attempt:
        t = _transcript(self.ctx, self.svc, cred)
        start = time.monotonic()
        p = self.svc.protocol
        try:
            result, detail, seen, latency, extra = getattr(self, f"_try_{p.replace('mqtts', 'mqtt')}")(cred, t)
        except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError) as exc:
            t.note(f"connection problem: {exc}")
            result, detail, seen, latency, extra = Result.CONNECTIVITY, f"connection problem: {exc}", False, None, {}
        except ValueError as exc:
            if p not in ("http", "https"):
                raise  # elsewhere a ValueError is a bug in probe: the engine reports it as one
            # the HTTP client's "no HTTP response" (the device closed or went quiet before answering)
            # is a dropped connection, met with the trials' back-off; any other unreadable answer
            # is one the trials cannot classify. Neither is a bug in probe (it used to end the
            # whole check as a tool error on a device that dropped one connection under load).
            t.note(f"no usable answer: {exc}")
            dropped = str(exc).startswith(http.NO_RESPONSE)
            result, detail, seen, latency, extra = (Result.CONNECTIVITY if dropped else Result.UNKNOWN,
                                                    f"no usable answer: {exc}", False, None, {})
        except (TimeoutError, OSError) as exc:
            t.note(f"connection problem: {exc}")
            if tlswrap.needs_client_certificate(exc):
                self.no_password = tlswrap.CLIENT_CERT_REASON
                result, detail, seen, latency, extra = Result.NO_PASSWORD, self.no_password, False, None, {}
            else:
                result, detail, seen, latency, extra = (Result.CONNECTIVITY, f"connection problem: {exc}", False,
                                                        None, {})
        end = time.monotonic()
        if result is Result.CONNECTIVITY and self._held(start, end) >= 0.95 * self.ctx.options.safety.timeout:
            # the device held the connection for a whole timeout without an answer that ends the
            # trial: a stall, not a refused or dropped connection (run_trials does not retry it alone)
            extra = {**extra, "stalled": True}
        return Attempt(cred, result, detail, seen, end - start, latency, t, extra)

    def _held(self, start: float, end: float) -> float:
        """Seconds this attempt spent on the device since its last connection slot was granted
        (waiting for a slot behind other checks is the run's time, not the device's)."""
        got = self.ctx.slot_acquired_at()
        return end - (got if got is not None and got >= start else start)

    def _try_telnet(self, cred: Credential, t: Transcript) -> TryResult:
        with self.ctx.connection(self.svc.port) as sock:
            r = telnet.try_login(sock, t, cred.username, cred.password, timeout=self.ctx.remaining(),
                                 check_cancelled=self.ctx.check_cancelled)
        mapping = {telnet.Outcome.SUCCESS: Result.SUCCESS, telnet.Outcome.FAILURE: Result.FAILURE,
                   telnet.Outcome.NO_AUTH: Result.NO_AUTH, telnet.Outcome.LOCKED: Result.LOCKED,
                   telnet.Outcome.CLOSED: Result.CONNECTIVITY, telnet.Outcome.NO_PROMPT: Result.UNKNOWN,
                   telnet.Outcome.TIMEOUT: Result.UNKNOWN}
        return mapping[r.outcome], r.detail, r.prompt_seen, r.answer_latency, {"user_only": True} if r.user_only else {}

    def _try_ftp(self, cred: Credential, t: Transcript) -> TryResult:
        with self.ctx.connection(self.svc.port) as sock:
            r = ftp.try_login(sock, t, cred.username, cred.password, timeout=self.ctx.remaining())
        mapping = {ftp.Outcome.SUCCESS: Result.SUCCESS, ftp.Outcome.NO_PASSWORD: Result.SUCCESS,
                   ftp.Outcome.FAILURE: Result.FAILURE, ftp.Outcome.CLOSED: Result.CONNECTIVITY,
                   ftp.Outcome.REFUSED: Result.LOCKED, ftp.Outcome.PROTOCOL: Result.UNKNOWN}
        extra = {"reply": r.last.code} if r.last else {}
        return mapping[r.outcome], r.detail, r.prompt_seen or r.outcome is ftp.Outcome.NO_PASSWORD, \
            r.answer_latency, extra

    def _try_ssh(self, cred: Credential, t: Transcript) -> TryResult:
        with self.ctx.connection(self.svc.port) as sock:
            r = ssh_auth.try_login(sock, t, cred.username, cred.password, timeout=self.ctx.remaining(),
                                   list_methods=self.ssh_methods is None)
        if r.allowed and self.ssh_methods is None:
            self.ssh_methods = list(r.allowed)
        if r.outcome is ssh_auth.Outcome.UNSUPPORTED:
            self.unsupported = self._ssh_offer(r.detail)
        mapping = {ssh_auth.Outcome.SUCCESS: Result.SUCCESS, ssh_auth.Outcome.FAILURE: Result.FAILURE,
                   ssh_auth.Outcome.NO_PASSWORD_AUTH: Result.NO_PASSWORD,
                   ssh_auth.Outcome.UNSUPPORTED: Result.UNSUPPORTED, ssh_auth.Outcome.CLOSED: Result.CONNECTIVITY,
                   ssh_auth.Outcome.PROTOCOL: Result.UNKNOWN}
        if r.outcome is ssh_auth.Outcome.NO_PASSWORD_AUTH:
            self.no_password = (f"the SSH server offers no password or keyboard-interactive authentication "
                                f"(it allows {', '.join(r.allowed) or 'nothing'}): default passwords cannot apply")
        return mapping[r.outcome], r.detail, r.outcome in (ssh_auth.Outcome.SUCCESS, ssh_auth.Outcome.FAILURE), \
            r.answer_latency, {"server_version": r.server_version, **({"user_only": True} if r.user_only else {})}

    def _ssh_offer(self, why: str) -> str:
        """Name what the server offers, from its KEXINIT (read by probe.protocols.ssh_kexinit)."""
        scan = ssh_kexinit.read_kexinit(lambda: self.ctx.connection(self.svc.port), timeout=self.ctx.remaining())
        self.preflight.note("server identification and KEXINIT read to name its algorithms")
        self.preflight.received(scan.transcript)
        if scan.kexinit is None:
            return f"paramiko could not negotiate with this SSH server ({why}); its KEXINIT could not be read " \
                   f"({scan.error or 'no KEXINIT'})"
        version = scan.banner.line if scan.banner else "unknown version"
        return (f"paramiko could not negotiate with this SSH server ({why}); the server ({version}) offers "
                f"key exchange {', '.join(scan.kexinit.get('kex_algorithms'))} and host keys "
                f"{', '.join(scan.kexinit.get('server_host_key_algorithms'))}")

    def _try_http(self, cred: Credential, t: Transcript) -> TryResult:
        assert self.surface is not None, "prepare() first"
        if self.unsupported:  # a script login probe cannot reproduce: nothing is sent
            t.note(f"not sent: {self.unsupported}")
            return Result.UNSUPPORTED, self.unsupported, True, None, {}
        try:
            a = http_auth.attempt(self._client(t), self.surface, cred.username, cred.password, self.control)
        except ValueError as exc:  # no HTTP response (a timeout, a stall, not HTTP): no verdict
            t.note(f"no answer: {exc}")
            return Result.CONNECTIVITY, f"no answer to the login: {exc}", True, None, {}
        page_login = self.surface.kind in ("form", "script")
        if a.success and page_login and a.response is not None:
            a, unproven = self._confirm(cred, a, t)
            if unproven:
                t.note(f"verdict: not proven: {a.detail}")
                return Result.UNKNOWN, a.detail, True, a.latency, {"status": a.status}
        t.note(f"verdict: {'success' if a.success else 'no success'}: {a.detail}")
        if a.success:
            return Result.SUCCESS, a.detail, True, a.latency, {"status": a.status}
        if page_login and a.status is not None and a.status >= 500 and a.status != 503:
            return Result.UNKNOWN, f"{a.status}: a server error, neither a login nor a rejection", True, a.latency, \
                {"status": a.status}
        if a.refused or a.status in (423, 429, 503) or (
                a.status == 403 and not page_login and self.surface.baseline.status != 403):
            pause = a.response.retry_after() if a.response is not None else None
            said = f" (asks to retry after {pause:.0f} s)" if pause is not None else ""
            return Result.LOCKED, f"{a.status}: the device refused to evaluate the login{said}", True, a.latency, \
                {"status": a.status, "retry_after": pause}
        if a.status in http_auth.AUTH_FAIL_STATUSES or page_login:
            return Result.FAILURE, a.detail, True, a.latency, {"status": a.status}
        return Result.UNKNOWN, a.detail, True, a.latency, {"status": a.status}

    _try_https = _try_http

    def _confirm(self, cred: Credential, won: http_auth.Attempt, t: Transcript) -> tuple[http_auth.Attempt, bool]:
        """A page or script login that seems to have worked is tried once more with the same user
        name and a random password: devices that answer "unknown user" and "wrong password"
        differently would otherwise pass any user name's refusal off as a login. Only an answer
        that differs from that one too is a login. Returns (the attempt, unproven): a confirmation
        that got no answer proves neither a login nor a rejection."""
        assert self.surface is not None and won.response is not None
        t.note(f"confirmation: the same user name {cred.username!r} with a random wrong password")
        try:
            check = http_auth.attempt(self._client(t), self.surface, cred.username, http_auth.random_password(), None)
        except (OSError, ValueError) as exc:
            t.note(f"confirmation failed: {exc}")
            return replace(won, success=False, detail=f"the confirmation with a wrong password got no answer ({exc}), "
                           "so the login is not proven"), True
        if check.response is None:
            return replace(won, success=False, detail="the confirmation with a wrong password got no answer"), True
        if http_auth.same_answer(check.response, won.response):
            return replace(won, success=False, detail="same answer as a wrong password for the same user name"), False
        return replace(won, detail=f"{won.detail}; a wrong password for the same user name got another answer "
                                   f"({check.status})"), False

    def _try_mqtt(self, cred: Credential, t: Transcript) -> TryResult:
        with self.ctx.connection(self.svc.port, tls=self._mqtt_tls(), client_speaks_first=True) as sock:
            s = mqtt.Session(sock, t, self.ctx.remaining())
            sent = time.monotonic()
            code = s.connect(cred.username, cred.password)
            latency = time.monotonic() - sent
            if code == 0:
                s.disconnect()
        if code == 0:
            return Result.SUCCESS, "CONNACK 0: connection accepted", True, latency, {"connack": code}
        if code in (4, 5):
            return Result.FAILURE, f"CONNACK {code}: {mqtt.CONNACK_CODES[code]}", True, latency, {"connack": code}
        return Result.UNKNOWN, f"CONNACK {code}: {mqtt.CONNACK_CODES.get(code, 'unknown')}", True, latency, \
            {"connack": code}

    def _try_snmp(self, cred: Credential, t: Transcript) -> TryResult:
        community = cred.password.encode()
        with self.ctx.slot():
            c = snmp.Client(self.ctx.host, self.svc.port, t, timeout=self.ctx.remaining(2.0), retries=0)
            sent = time.monotonic()
            v2c, v1 = c.request_each([(snmp.V2C, community, snmp.GET, snmp.SYS_DESCR),
                                      (snmp.V1, community, snmp.GET, snmp.SYS_DESCR)])  # one wait for both
            reply = v2c if v2c is not None else v1
        latency = time.monotonic() - sent
        if reply is None:
            return Result.FAILURE, "no answer to this community (SNMP v1/v2c drop wrong communities silently)", \
                bool(self.requires_auth), None, {}
        value = reply.varbinds[0][2] if reply.varbinds else None
        shown = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        return Result.SUCCESS, f"the agent answered GET sysDescr.0 (v{'2c' if reply.version == 1 else '1'}): " \
            f"{shown!r}", True, latency, {"sysDescr": shown, "version": reply.version}

    # -- SNMP: every community in one burst ----------------------------------------------
    def snmp_wait(self) -> float:
        """How long a burst of community requests waits for answers.

        A v1/v2c agent answers a known community at once and drops an unknown one silently, so
        the wait is all a rejection costs. An agent that proved it is listening (its SNMPv3
        Report) and how fast it answers gets SNMP_WAIT_RTTS times that round trip, at least
        SNMP_MIN_WAIT; an agent that did not gets the full SNMP_MAX_WAIT. Never past the run's budget.
        """
        wait = SNMP_MAX_WAIT if self.snmp_rtt is None else \
            min(SNMP_MAX_WAIT, max(SNMP_MIN_WAIT, SNMP_WAIT_RTTS * self.snmp_rtt))
        return self.ctx.remaining(wait)

    def attempt_snmp_burst(self, creds: list[Credential]) -> list[Attempt]:
        """Every community at once: one burst of GET sysDescr.0 per version (v2c, then v1), one
        shared wait (snmp_wait), one attempt per community in the order given.

        The burst's exchange is one transcript: each community's attempt carries it, and the
        attempts log keeps it once (`Attempt.extra["burst"]` says which attempt holds it).
        """
        if not creds:
            return []
        t = Transcript(self.svc.protocol, self.ctx.host, self.svc.port,
                       secrets=tuple(c.password.encode() for c in creds if c.secret and c.password))
        wait = self.snmp_wait()
        t.note(f"{len(creds)} communities in one burst per version (v2c, then v1), one shared wait of "
               f"{wait:.2f} s" + ("" if self.snmp_rtt is None else
                                  f" (the agent answered SNMPv3 discovery in {self.snmp_rtt * 1000:.1f} ms)"))
        for c in creds:
            t.note(f"attempt: {c.label()} (source: {'operator file' if c.secret else c.source})")
        asks = [(v, c.password.encode(), snmp.GET, snmp.SYS_DESCR) for v in (snmp.V2C, snmp.V1) for c in creds]
        start = time.monotonic()
        try:
            with self.ctx.slot():
                replies = snmp.Client(self.ctx.host, self.svc.port, t, timeout=wait, retries=0).request_each(asks)
        except OSError as exc:
            t.note(f"connection problem: {exc}")
            elapsed = time.monotonic() - start
            return [Attempt(c, Result.CONNECTIVITY, f"connection problem: {exc}", False, elapsed, None, t,
                            {"burst": i == 0}) for i, c in enumerate(creds)]
        elapsed = time.monotonic() - start
        out: list[Attempt] = []
        for i, c in enumerate(creds):
            v2c, v1 = replies[i], replies[len(creds) + i]
            reply = v2c if v2c is not None else v1
            extra: dict[str, object] = {"burst": i == 0, "wait_s": round(wait, 3)}
            if reply is None:
                out.append(Attempt(c, Result.FAILURE, "no answer to this community (SNMP v1/v2c drop wrong "
                                   "communities silently)", bool(self.requires_auth), elapsed, None, t, extra))
                continue
            value = reply.varbinds[0][2] if reply.varbinds else None
            shown = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            out.append(Attempt(c, Result.SUCCESS, f"the agent answered GET sysDescr.0 "
                               f"(v{'2c' if reply.version == 1 else '1'}): {shown!r}", True, elapsed, elapsed, t,
                               {**extra, "sysDescr": shown, "version": reply.version}))
        return out
