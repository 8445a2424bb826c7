"""Proves a service would accept a login in cleartext, without sending any password.

HTTP Digest is the exception that sends no password: on plain HTTP it is a PASS with what stays
weak named as warnings, unless default_credentials proved that a published default password
logs in through it (then the offline attack is a lookup and the session was seen unencrypted).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from probe.context import ServiceContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import ServiceCheck
from probe.protocols import ftp, http_auth, mqtt, telnet
from probe.protocols.netio import ReadTimeout, printable
from probe.protocols.transcript import Transcript
from probe.services import web
from probe.services.logins import admin_paths, find_login_pages

MAX_TELNET_BYTES = 64 * 1024  # a greeting plus negotiation is a few hundred bytes; this is generous
TELNET_WAIT = 8.0  # seconds for a login prompt
TELNET_QUIET = 0.7  # the device said something, then nothing for this long: no prompt is coming


def _http_weakness(surface: http_auth.Surface) -> tuple[str, str, str]:
    """(title, weakness id, explanation) naming what is actually weak about a Basic, form or script login."""
    if surface.kind == "basic":
        return ("HTTP Basic login over plain HTTP: password readable", "basic-over-plain-http",
                "HTTP Basic sends the user name and password base64-encoded, which anyone on the path reads as "
                "cleartext.")
    script = surface.script
    if surface.kind == "script" and script is not None:
        if script.transform in ("md5", "sha1", "sha256"):
            how = f"{script.transform}(password), which anyone who captures it can replay and guess offline"
        elif script.transform in ("base64", "uri"):
            how = f"the password {script.transform}-encoded, which anyone reads as cleartext"
        elif script.problem and "transforms the password" in script.problem:
            how = "the password transformed by its script in a way probe cannot reproduce (not judged further)"
        else:
            how = "the password in cleartext"
        return ("HTTP script login over plain HTTP: password readable", "script-login-over-plain-http",
                f"the login page's script sends {script.describe()} with {how}.")
    return ("HTTP form login over plain HTTP: password in cleartext", "form-over-plain-http",
            "the login form posts the password in cleartext.")


def _digest_warnings(surface: http_auth.Surface) -> list[str]:
    """What stays weak about a Digest login on plain HTTP even though no password travels."""
    alg = surface.challenge.get("algorithm", "MD5")
    out = [f"the digest is {alg}" + (" (a broken hash)" if alg.upper().startswith("MD5") else "")]
    if not surface.challenge.get("qop"):
        out.append("the challenge offers no qop (RFC 2617 legacy mode), so no client nonce makes responses unique")
    out += ["a captured challenge and response can be attacked offline by dictionary, which matters if the "
            "password is guessable",
            "nothing authenticates the device to the client (a man in the middle can ask for Basic instead)",
            "whatever a session carries after the login travels unencrypted (not observed: probe has no "
            "credentials for it)"]
    return out


class CleartextAuthentication(ServiceCheck):
    check_id = "cleartext_authentication"

    def run_service(self, ctx: ServiceContext) -> Iterator[Finding]:
        if ctx.service.protocol == "telnet":
            yield self._telnet(ctx)
        elif ctx.service.protocol == "ftp":
            yield self._ftp(ctx)
        elif ctx.service.protocol == "http" and not ctx.service.tls:
            yield self._http(ctx)
        elif ctx.service.protocol == "mqtt" and not ctx.service.tls:
            yield self._mqtt(ctx)

    def _http(self, ctx: ServiceContext) -> Finding:
        """A login surface (Basic, Digest, form) on plain HTTP, not redirected to HTTPS.

        Only unauthenticated GETs are sent (no password, not even a wrong one).
        """
        svc = ctx.service
        t = Transcript("http", ctx.host, svc.port)
        client = web.client(ctx, svc, t)
        found = find_login_pages(ctx, svc, client, admin_paths())
        surface = found.surface or (found.forms[0] if found.forms else None)
        redirected, fetched = found.redirected_to_https, found.fetched
        art = ctx.artefact("transcript", f"http {ctx.host}:{svc.port} login surfaces", t.render())
        if fetched == 0:
            return ctx.inconclusive("Could not fetch pages from the web service.", "every request failed",
                                    InconclusiveReason.CONNECTIVITY, artefacts=[art])
        if surface and surface.kind == "digest":
            return self._digest(ctx, surface, redirected, art)
        if surface:
            title, weakness, detail = _http_weakness(surface)
            return ctx.finding(Status.FAIL, title,
                               f"{surface.describe()} on plain HTTP port {svc.port} asks for credentials without "
                               f"TLS and without a redirect to HTTPS: {detail}", artefacts=[art], severity="high",
                               details={"surface": surface.kind, "path": surface.path, "weakness": weakness,
                                        "digest_algorithm": surface.challenge.get("algorithm", "MD5")
                                        if surface.kind == "digest" else None,
                                        "redirected_to_https": redirected})
        throttled = found.throttle_reason()
        if throttled:
            return ctx.inconclusive("The device throttled the search for its login page.", throttled,
                                    InconclusiveReason.CONNECTIVITY, artefacts=[art])
        if not redirected and all(getattr(r, "truncated", False) for r in found.pages.values()):
            # no page ever ended: a login form past our read cap cannot be ruled out, so no verdict
            return ctx.inconclusive("The web service never finished a response.",
                                    f"device misbehaved: all {fetched} responses were cut at the read cap "
                                    "(endless or oversized bodies)", InconclusiveReason.DEVICE_MISBEHAVED,
                                    artefacts=[art])
        if redirected:
            return ctx.finding(Status.PASS, "Plain HTTP redirects to HTTPS",
                               f"Plain HTTP on port {svc.port} redirects {', '.join(redirected)} to HTTPS and shows "
                               "no login of its own.", artefacts=[art], severity="info",
                               details={"redirected_to_https": redirected})
        return ctx.finding(Status.NOT_APPLICABLE, "No login on plain HTTP",
                           f"None of {fetched} probed paths on plain HTTP port {svc.port} asks for credentials.",
                           reason="no HTTP login surface (Basic, Digest or form) found on this plain-HTTP port",
                           artefacts=[art])

    def _digest(self, ctx: ServiceContext, surface: http_auth.Surface, redirected: list[str], art: str) -> Finding:
        """Digest on plain HTTP sends no password in cleartext: not a FAIL of this check by itself.

        It FAILs only when default_credentials (which runs first on this service: `after:` in
        the metadata) proved that a publicly known password logs in through it: then one captured
        challenge-response gives the password away to a list of defaults at once, and the pages
        that login opened were seen travelling unencrypted. Otherwise PASS, with what stays weak
        named as warnings.
        """
        svc = ctx.service
        alg = surface.challenge.get("algorithm", "MD5")
        warnings = _digest_warnings(surface)
        details: dict[str, object] = {"surface": surface.kind, "path": surface.path, "digest_algorithm": alg,
                                      "redirected_to_https": redirected, "warnings": warnings}
        proven = [f for f in ctx.findings_of("default_credentials", svc)
                  if f.status is Status.FAIL and (f.details or {}).get("login_kind") == "digest"]
        if proven:
            login = proven[0]
            accepted = "; ".join(f"{a.get('username')} / {a.get('password')}"
                                 for a in (login.details or {}).get("accepted") or [])[:200]
            return ctx.finding(
                Status.FAIL, "HTTP Digest login over plain HTTP with a published default password",
                f"{surface.describe()} on plain HTTP port {svc.port} sends no password in cleartext (Digest sends a "
                f"{alg} hash of it), but a publicly known default password logs in through it "
                f"({accepted + '; ' if accepted else ''}default_credentials finding {login.id}). So anyone who "
                "captures one challenge and response on the path recovers that password offline from a list of "
                "defaults at once, and the authenticated pages that login opened were seen travelling "
                "unencrypted. This is user authentication without best-practice cryptography, and protected "
                "data open to eavesdropping.", artefacts=[art, *login.artefacts[:1]], severity="high",
                details={**details, "weakness": "digest-over-plain-http-default-password",
                         "default_login_finding": login.id})
        return ctx.finding(
            Status.PASS, "HTTP Digest login on plain HTTP: no password in cleartext (weaknesses noted)",
            f"{surface.describe()} on plain HTTP port {svc.port} sends no password in cleartext (Digest sends a "
            f"{alg} hash of it), so the login is not cleartext authentication. Warnings, not failures: "
            + "; ".join(warnings) + ". No default password was proven to log in through it.",
            artefacts=[art], severity="medium", details={**details, "weakness": "digest-over-plain-http"})

    def _mqtt(self, ctx: ServiceContext) -> Finding:
        """A plain-MQTT broker that requires a user name and password: they would travel in the clear."""
        svc = ctx.service
        t = Transcript("mqtt", ctx.host, svc.port)
        try:
            with ctx.connection(svc.port) as sock:
                code = mqtt.Session(sock, t, ctx.remaining()).connect()
        except (OSError, ReadTimeout, ValueError) as exc:
            art = ctx.artefact("transcript", f"mqtt {ctx.host}:{svc.port} anonymous connect", t.render())
            return ctx.inconclusive("Could not complete an MQTT CONNECT.", str(exc), InconclusiveReason.CONNECTIVITY,
                                    artefacts=[art])
        art = ctx.artefact("transcript", f"mqtt {ctx.host}:{svc.port} anonymous connect", t.render())
        if code in (4, 5):
            return ctx.finding(Status.FAIL, "MQTT credentials over plain MQTT",
                               f"The broker on plain (non-TLS) port {svc.port} requires credentials (anonymous "
                               f"CONNECT answered {code}: {mqtt.CONNACK_CODES[code]}), so clients send their user "
                               "name and password in cleartext.", artefacts=[art], severity="high",
                               details={"connack": code})
        if code == 0:
            return ctx.finding(Status.NOT_APPLICABLE, "No MQTT login",
                               f"The broker on port {svc.port} accepts anonymous clients; no credentials travel "
                               "(unauthenticated_access reports the open broker).",
                               reason="the broker asks for no credentials", artefacts=[art], details={"connack": 0})
        return ctx.inconclusive("Unexpected CONNACK.", f"CONNACK {code}: {mqtt.CONNACK_CODES.get(code, 'unknown')}",
                                InconclusiveReason.DEVICE_MISBEHAVED, artefacts=[art])

    def _telnet(self, ctx: ServiceContext) -> Finding:
        """Telnet has no encryption: a login prompt proves credentials would travel in cleartext.

        Nothing is typed: probe.protocols.telnet reads, answers option negotiation and waits for a
        login or password prompt.
        """
        svc = ctx.service
        t = Transcript("telnet", ctx.host, svc.port)
        budget = min(ctx.options.safety.max_read_bytes, MAX_TELNET_BYTES)  # bytes we accept from this service
        wait = ctx.remaining(TELNET_WAIT)
        try:
            with ctx.connection() as sock:
                session = telnet.TelnetSession(sock, t, max_bytes=budget)
                text, hit = session.wait_for((telnet.LOGIN_RE, telnet.PASSWORD_RE), wait, ctx.check_cancelled,
                                             quiet=TELNET_QUIET)
        except OSError as exc:
            arts = [ctx.artefact("transcript", f"telnet {ctx.host}:{svc.port} (cut)", t.verbatim())] if t.events else []
            return ctx.inconclusive("Could not talk to the telnet service.", f"connection failed: {exc}",
                                    InconclusiveReason.CONNECTIVITY, artefacts=arts)
        art = ctx.artefact("transcript", f"telnet {ctx.host}:{svc.port} greeting", t.verbatim())
        shown = telnet.clean(text)
        if hit is not None:
            prompt = hit.search(shown[-200:])
            return ctx.finding(Status.FAIL, "Telnet login prompt in cleartext",
                               f"Telnet on port {svc.port} asks for credentials without encryption: "
                               f"{printable(prompt.group(0) if prompt else shown[-40:])!r}", artefacts=[art],
                               severity="high", details={"prompt": printable(shown[-120:])})
        if session.total and not shown.strip(b"\x00\r\n ") and session.stopped in ("cap", "time"):
            return ctx.inconclusive(
                "The telnet service never finished option negotiation.",
                f"device misbehaved: {session.total} bytes of telnet option negotiation and no text "
                f"(stopped after {budget} bytes or {wait:.0f} s)",
                InconclusiveReason.DEVICE_MISBEHAVED, artefacts=[art])
        return ctx.finding(Status.FAIL, "Telnet service exposed (cleartext protocol)",
                           f"Telnet on port {svc.port} answers; telnet has no encryption, so any login on it "
                           "travels in cleartext (no login prompt was seen within the time allowed)",
                           artefacts=[art], severity="high")

    def _ftp(self, ctx: ServiceContext) -> Finding:
        """USER before AUTH TLS: a 331/230/332 answer means the password would follow in cleartext.

        No password is sent; probe.protocols.ftp reads every (multi-line) reply.
        """
        svc = ctx.service
        t = Transcript("ftp", ctx.host, svc.port)
        try:
            with ctx.connection() as sock:
                lines, _greeting = ftp.greeting(sock, t, ctx.remaining())
                answer = ftp.command(sock, lines, t, "USER probe-cleartext-check", ctx.remaining())
                with contextlib.suppress(OSError):  # courtesy only: the answer is already in
                    t.sent(b"QUIT\r\n")
                    sock.sendall(b"QUIT\r\n")
        except ReadTimeout as exc:
            t.received(exc.data)  # the unfinished line is evidence too
            art = ctx.artefact("transcript", f"ftp {ctx.host}:{svc.port}", t.verbatim())
            return ctx.inconclusive("The FTP service did not answer as FTP.", str(exc),
                                    InconclusiveReason.DEVICE_MISBEHAVED, artefacts=[art])
        except ValueError as exc:  # not an FTP reply, or a multi-line reply that never ends
            art = ctx.artefact("transcript", f"ftp {ctx.host}:{svc.port}", t.verbatim())
            return ctx.inconclusive("The FTP service did not answer as FTP.", str(exc),
                                    InconclusiveReason.DEVICE_MISBEHAVED, artefacts=[art])
        except OSError as exc:
            return ctx.inconclusive("Could not talk to the FTP service.", f"connection failed: {exc}",
                                    InconclusiveReason.CONNECTIVITY)
        art = ctx.artefact("transcript", f"ftp {ctx.host}:{svc.port} USER before AUTH TLS", t.verbatim())
        said = printable(f"{answer.code} {answer.text}".encode())
        if answer.code in (331, 230, 332):
            return ctx.finding(Status.FAIL, "FTP accepts a login in cleartext",
                               f"FTP on port {svc.port} answered USER with {said!r} "
                               "before any AUTH TLS: the password would follow in cleartext",
                               artefacts=[art], severity="high")
        if answer.code in (530, 534, 550, 421):
            return ctx.finding(Status.PASS, "FTP refuses cleartext logins",
                               f"FTP on port {svc.port} refused USER before AUTH TLS: {said!r}", artefacts=[art],
                               severity="info")
        return ctx.inconclusive("Unexpected FTP answer to USER.", f"answer {said!r}",
                                InconclusiveReason.DEVICE_MISBEHAVED, artefacts=[art])
