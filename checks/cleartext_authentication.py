"""Proves a service would accept a login in cleartext, without sending any password."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from probe.context import ServiceContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import ServiceCheck
from probe.protocols import http_auth, mqtt
from probe.protocols.netio import ReadLimitExceeded, ReadTimeout, printable, read_some, read_until
from probe.protocols.transcript import Transcript
from probe.services.logins import admin_paths, find_login_pages

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
_PROMPT = re.compile(rb"(?i)(login|username|user name|password)\s*:\s*$")
MAX_NEGOTIATION_ROUNDS = 20
MAX_TELNET_BYTES = 64 * 1024  # a greeting plus negotiation is a few hundred bytes; this is generous


MAX_PENDING_SB = 1024  # an unfinished subnegotiation longer than this is dropped, not buffered


def parse_telnet(data: bytes) -> tuple[bytes, bytes, bytes]:
    """Split telnet input into (text, replies refusing every option, unfinished command bytes).

    A read can end in the middle of a command (IAC, IAC DO, or a subnegotiation without its
    IAC SE): those bytes are returned as the third item so the caller can prepend them to the
    next read, instead of mistaking the rest of the command for text.
    """
    text, reply = bytearray(), bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if b != IAC:
            text.append(b)
            i += 1
            continue
        if i + 1 >= len(data):
            return bytes(text), bytes(reply), data[i:]
        cmd = data[i + 1]
        if cmd in (DO, DONT, WILL, WONT):
            if i + 2 >= len(data):
                return bytes(text), bytes(reply), data[i:]
            opt = data[i + 2]
            if cmd == DO:
                reply += bytes([IAC, WONT, opt])
            elif cmd == WILL:
                reply += bytes([IAC, DONT, opt])
            i += 3
        elif cmd == SB:
            end = data.find(bytes([IAC, SE]), i)
            if end < 0:
                rest = data[i:]
                return bytes(text), bytes(reply), (rest if len(rest) <= MAX_PENDING_SB else b"")
            i = end + 2
        elif cmd == IAC:
            text.append(IAC)
            i += 2
        else:
            i += 2
    return bytes(text), bytes(reply), b""


def _strip_and_refuse(data: bytes) -> tuple[bytes, bytes]:
    """Remove telnet commands from data; build WONT/DONT replies refusing every option."""
    text, reply, _ = parse_telnet(data)
    return text, reply


def _http_weakness(surface: http_auth.Surface) -> tuple[str, str, str]:
    """(title, weakness id, explanation) naming what is actually weak about this HTTP login."""
    if surface.kind == "basic":
        return ("HTTP Basic login over plain HTTP: password readable", "basic-over-plain-http",
                "HTTP Basic sends the user name and password base64-encoded, which anyone on the path reads as "
                "cleartext.")
    if surface.kind == "form":
        return ("HTTP form login over plain HTTP: password in cleartext", "form-over-plain-http",
                "the login form posts the password in cleartext.")
    alg = surface.challenge.get("algorithm", "MD5")
    qop = "" if surface.challenge.get("qop") else (
        " The challenge offers no qop (RFC 2617 legacy mode), so no client nonce makes responses unique.")
    return ("HTTP Digest login over plain HTTP: crackable exchange, unencrypted session", "digest-over-plain-http",
            f"no password travels in cleartext (Digest sends a {alg} hash of it), but a captured challenge and "
            "response can be attacked offline by dictionary, nothing authenticates the device to the client (a "
            "man in the middle can answer with a Basic challenge instead), and the whole session after the login, "
            f"including any new password set in it, travels unencrypted.{qop} This bears on best-practice "
            "cryptography for user authentication and on protection of the session from eavesdropping.")


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
        client = http_auth.HttpClient(lambda: ctx.connection(svc.port), ctx.host, svc.port, False, t,
                                      timeout=ctx.remaining(), check_cancelled=ctx.check_cancelled)
        found = find_login_pages(ctx, svc, client, admin_paths())
        surface = found.surface or (found.forms[0] if found.forms else None)
        redirected, fetched = found.redirected_to_https, found.fetched
        art = ctx.artefact("transcript", f"http {ctx.host}:{svc.port} login surfaces", t.render())
        if fetched == 0:
            return ctx.inconclusive("Could not fetch pages from the web service.", "every request failed",
                                    InconclusiveReason.CONNECTIVITY, artefacts=[art])
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
        transcript = bytearray()
        seen = bytearray()
        budget = min(ctx.options.safety.max_read_bytes, MAX_TELNET_BYTES)  # bytes we accept from this service
        received = 0
        endless = False  # negotiation still going when the rounds or the byte budget ran out
        pending = b""  # a telnet command split across two reads
        try:
            with ctx.connection() as sock:
                deadline = time.monotonic() + ctx.remaining(8.0)
                for _ in range(MAX_NEGOTIATION_ROUNDS):
                    ctx.check_cancelled()
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    r = read_some(sock, max_bytes=min(8192, budget - received), total_timeout=left,
                                  idle_timeout=0.7)
                    received += len(r.data)
                    transcript += b"<<< " + r.data + b"\n"
                    text, reply, pending = parse_telnet(pending + r.data)
                    seen += text
                    if reply:
                        sock.sendall(reply)
                        transcript += b">>> " + reply + b"\n"
                    if _PROMPT.search(bytes(seen).rstrip(b"\x00")) or r.closed or len(seen) > 32768:
                        break
                    if received >= budget:
                        endless = True
                        break
                    if not r.data and not reply:
                        break
                else:
                    endless = True
        except OSError as exc:
            arts = [ctx.artefact("transcript", f"telnet {ctx.host}:{ctx.service.port} (cut)", bytes(transcript))] \
                if transcript else []
            return ctx.inconclusive("Could not talk to the telnet service.", f"connection failed: {exc}",
                                    InconclusiveReason.CONNECTIVITY, artefacts=arts)
        art = ctx.artefact("transcript", f"telnet {ctx.host}:{ctx.service.port} greeting", bytes(transcript))
        if endless and not _PROMPT.search(bytes(seen).rstrip(b"\x00")) and not seen.strip(b"\x00\r\n "):
            return ctx.inconclusive(
                "The telnet service never finished option negotiation.",
                f"device misbehaved: {received} bytes of telnet option negotiation and no text "
                f"(stopped after {MAX_NEGOTIATION_ROUNDS} rounds or {budget} bytes)",
                InconclusiveReason.DEVICE_MISBEHAVED, artefacts=[art])
        prompt = _PROMPT.search(bytes(seen).rstrip(b"\x00"))
        if prompt:
            return ctx.finding(Status.FAIL, "Telnet login prompt in cleartext",
                               f"Telnet on port {ctx.service.port} asks for credentials without encryption: "
                               f"{printable(prompt.group(0))!r}", artefacts=[art], severity="high",
                               details={"prompt": printable(bytes(seen)[-120:])})
        return ctx.finding(Status.FAIL, "Telnet service exposed (cleartext protocol)",
                           f"Telnet on port {ctx.service.port} answers; telnet has no encryption, so any login on it "
                           "travels in cleartext (no login prompt was seen within the time allowed)",
                           artefacts=[art], severity="high")

    def _ftp(self, ctx: ServiceContext) -> Finding:
        transcript = bytearray()
        try:
            with ctx.connection() as sock:
                greeting = read_until(sock, b"\r\n", max_bytes=8192, total_timeout=ctx.remaining())
                # a multi-line 220- greeting ends with "220 "
                while re.match(rb"^\d{3}-", greeting) and not re.search(rb"\r\n\d{3} [^\r\n]*\r\n$", greeting):
                    ctx.check_cancelled()
                    greeting += read_until(sock, b"\r\n", max_bytes=8192, total_timeout=ctx.remaining())
                    if len(greeting) > 8192:
                        break
                transcript += b"<<< " + greeting
                cmd = b"USER probe-cleartext-check\r\n"
                sock.sendall(cmd)
                transcript += b">>> " + cmd
                answer = read_until(sock, b"\r\n", max_bytes=8192, total_timeout=ctx.remaining())
                transcript += b"<<< " + answer
                sock.sendall(b"QUIT\r\n")
        except (ReadTimeout, ReadLimitExceeded) as exc:
            art = ctx.artefact("transcript", f"ftp {ctx.host}:{ctx.service.port}", bytes(transcript) + exc.data)
            return ctx.inconclusive("The FTP service did not answer as FTP.", str(exc),
                                    InconclusiveReason.DEVICE_MISBEHAVED, artefacts=[art])
        except OSError as exc:
            return ctx.inconclusive("Could not talk to the FTP service.", f"connection failed: {exc}",
                                    InconclusiveReason.CONNECTIVITY)
        art = ctx.artefact("transcript", f"ftp {ctx.host}:{ctx.service.port} USER before AUTH TLS", bytes(transcript))
        code = answer[:3]
        if code in (b"331", b"230", b"332"):
            return ctx.finding(Status.FAIL, "FTP accepts a login in cleartext",
                               f"FTP on port {ctx.service.port} answered USER with {printable(answer.strip())!r} "
                               "before any AUTH TLS: the password would follow in cleartext",
                               artefacts=[art], severity="high")
        if code in (b"530", b"534", b"550", b"421"):
            return ctx.finding(Status.PASS, "FTP refuses cleartext logins",
                               f"FTP on port {ctx.service.port} refused USER before AUTH TLS: "
                               f"{printable(answer.strip())!r}", artefacts=[art], severity="info")
        return ctx.inconclusive("Unexpected FTP answer to USER.", f"answer {printable(answer.strip())!r}",
                                InconclusiveReason.DEVICE_MISBEHAVED, artefacts=[art])
