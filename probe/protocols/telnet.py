"""A small telnet client for login checks (never telnetlib, which is gone from Python 3.13).

It does three things only: strip and answer IAC option negotiation, recognise login/password/
shell prompts, and type a username and password. Negotiation is answered conservatively (we let
the server echo and suppress go-ahead, and refuse everything else) and every request is answered
at most once with a global cap on replies, so a device that floods options cannot loop us.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field
from enum import StrEnum

from probe.protocols.netio import read_some
from probe.protocols.transcript import Transcript

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
OPT_ECHO, OPT_SGA = 1, 3
_NEG_NAMES = {DONT: "DONT", DO: "DO", WONT: "WONT", WILL: "WILL"}
MAX_SUBNEG = 1024

LOGIN_RE = re.compile(rb"(?i)(?:login|user ?name|user(?:id)?|account)[ \t]*[:>][ \t]*$")
PASSWORD_RE = re.compile(rb"(?i)pass(?:word|wd|code|phrase)?[ \t]*[:>][ \t]*$")
FAILURE_RE = re.compile(rb"(?i)incorrect|invalid|fail|denied|wrong|bad password|not allowed|locked|try again")
LOCKED_RE = re.compile(rb"(?i)locked|too many|blocked|try again later|temporarily")
SHELL_RE = re.compile(rb"[$#>%][ \t]*$")  # prompts never end with a line break
_ANSI_RE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]")


@dataclass
class TelnetParser:
    """Incremental IAC parser: feed raw bytes, get (data, negotiations, subnegotiations).

    Sequences split across reads are kept in state; IAC IAC is a literal 0xFF in data;
    subnegotiation payloads are capped at MAX_SUBNEG bytes (the rest is dropped).
    """

    state: str = "data"
    _cmd: int = 0
    _sb: bytearray = field(default_factory=bytearray)

    def feed(self, raw: bytes) -> tuple[bytes, list[tuple[int, int]], list[bytes]]:
        data = bytearray()
        negs: list[tuple[int, int]] = []
        subs: list[bytes] = []
        for b in raw:
            if self.state == "data":
                if b == IAC:
                    self.state = "iac"
                else:
                    data.append(b)
            elif self.state == "iac":
                if b == IAC:
                    data.append(IAC)
                    self.state = "data"
                elif b in (WILL, WONT, DO, DONT):
                    self._cmd = b
                    self.state = "opt"
                elif b == SB:
                    self._sb.clear()
                    self.state = "sb"
                else:  # NOP, GA, AYT, ... : two-byte commands carry nothing we need
                    self.state = "data"
            elif self.state == "opt":
                negs.append((self._cmd, b))
                self.state = "data"
            elif self.state == "sb":
                if b == IAC:
                    self.state = "sb_iac"
                elif len(self._sb) < MAX_SUBNEG:
                    self._sb.append(b)
            elif self.state == "sb_iac":
                if b == SE:
                    subs.append(bytes(self._sb))
                    self._sb.clear()
                    self.state = "data"
                else:  # IAC IAC inside SB is a literal 255; anything else: stay in SB
                    if b == IAC and len(self._sb) < MAX_SUBNEG:
                        self._sb.append(IAC)
                    self.state = "sb"
        return bytes(data), negs, subs


@dataclass
class Negotiator:
    """Answers option requests: accept server ECHO/SGA, refuse the rest, each at most once."""

    max_replies: int = 64
    replies: int = 0
    answered: set[tuple[int, int]] = field(default_factory=set)
    ignored: int = 0

    def respond(self, cmd: int, opt: int) -> bytes:
        if cmd in (WONT, DONT):  # acknowledgements of refusals need no answer from us
            return b""
        key = (cmd, opt)
        if key in self.answered or self.replies >= self.max_replies:
            self.ignored += 1
            return b""
        self.answered.add(key)
        self.replies += 1
        if cmd == WILL:
            return bytes((IAC, DO if opt in (OPT_ECHO, OPT_SGA) else DONT, opt))
        return bytes((IAC, WONT, opt))  # DO x: we offer no options


class Outcome(StrEnum):
    SUCCESS = "success"  # a shell-like prompt after the credentials
    FAILURE = "failure"  # re-prompt, "incorrect", or the device hung up after the password
    NO_AUTH = "no-auth"  # a shell prompt before any credential was asked
    NO_PROMPT = "no-prompt"  # nothing we recognise as a login prompt
    LOCKED = "locked"  # the device said the account or client is locked / blocked
    CLOSED = "closed"  # the device closed before asking anything
    TIMEOUT = "timeout"  # no recognisable answer to the password in time


@dataclass
class LoginResult:
    outcome: Outcome
    detail: str
    prompt_seen: bool  # the device asked for credentials (login or password prompt)
    answer_latency: float | None = None  # seconds from sending the password to the verdict
    last_text: bytes = b""
    user_only: bool = False  # the user name alone logged in: no password was asked or sent


def clean(data: bytes) -> bytes:
    return _ANSI_RE.sub(b"", data).replace(b"\x00", b"")


class TelnetSession:
    """One telnet connection: bounded reads with negotiation, prompt waits, line writes."""

    def __init__(self, sock: socket.socket, transcript: Transcript, *, max_bytes: int = 64 * 1024) -> None:
        self.sock = sock
        self.t = transcript
        self.parser = TelnetParser()
        self.neg = Negotiator()
        self.max_bytes = max_bytes
        self.total = 0
        self.closed = False
        self.stopped = ""  # why the last wait_for returned

    def _pump(self, wait: float) -> bytes:
        res = read_some(self.sock, max_bytes=4096, total_timeout=wait, idle_timeout=0.15)
        if res.data:
            self.t.received(res.data)
            self.total += len(res.data)
        data, negs, _subs = self.parser.feed(res.data)
        reply = b"".join(self.neg.respond(c, o) for c, o in negs)
        if reply and not res.closed:
            self.t.sent(reply)
            try:
                self.sock.sendall(reply)
            except OSError:
                self.closed = True
        if res.closed:
            self.closed = True
        return data

    def wait_for(self, patterns: tuple[re.Pattern[bytes], ...], timeout: float,
                 cancelled: object = None, *, quiet: float | None = None) -> tuple[bytes, re.Pattern[bytes] | None]:
        """Read until one pattern matches the end of the cleaned text, the peer closes, the byte cap
        or `timeout` is reached, or (with `quiet`) the peer has sent something and then nothing for
        `quiet` seconds. `self.stopped` says which: match | closed | cap | time | quiet."""
        deadline = time.monotonic() + timeout
        buf = bytearray()
        heard_at: float | None = None  # when the peer last sent anything (negotiation included)
        self.stopped = "time"
        while not self.closed and self.total < self.max_bytes:
            if callable(cancelled):
                cancelled()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            before = self.total
            buf += self._pump(min(remaining, 1.0))
            now = time.monotonic()
            if self.total > before:
                heard_at = now
            tail = clean(bytes(buf))[-200:]
            for p in patterns:
                if p.search(tail):
                    self.stopped = "match"
                    return bytes(buf), p
            if quiet is not None and heard_at is not None and now - heard_at >= quiet:
                self.stopped = "quiet"
                return bytes(buf), None
        if self.closed:
            self.stopped = "closed"
        elif self.total >= self.max_bytes:
            self.stopped = "cap"
        return bytes(buf), None

    def send_line(self, text: str | bytes) -> None:
        raw = text.encode("utf-8") if isinstance(text, str) else text
        raw = raw.replace(b"\xff", b"\xff\xff") + b"\r\n"
        self.t.sent(raw)
        self.sock.sendall(raw)


def try_login(sock: socket.socket, transcript: Transcript, username: str, password: str, *,
              timeout: float = 5.0, check_cancelled: object = None) -> LoginResult:
    """Log in once on an already connected socket and classify what happened."""
    s = TelnetSession(sock, transcript)
    first, hit = s.wait_for((LOGIN_RE, PASSWORD_RE, SHELL_RE), timeout, check_cancelled)
    if hit is None:
        if s.closed and not first:
            return LoginResult(Outcome.CLOSED, "the device closed the connection before any prompt", False)
        if LOCKED_RE.search(first):
            return LoginResult(Outcome.LOCKED, "the device refused with a lock-out message", False, last_text=first)
        return LoginResult(Outcome.NO_PROMPT, "no login, password or shell prompt was recognised", False,
                           last_text=first)
    if hit is SHELL_RE:
        return LoginResult(Outcome.NO_AUTH, "a shell-like prompt appeared before any credential was asked",
                           False, last_text=first)
    if hit is LOGIN_RE:
        transcript.note(f"login prompt seen; sending username {username!r}")
        s.send_line(username)
        after_user, hit = s.wait_for((PASSWORD_RE, LOGIN_RE, SHELL_RE), timeout, check_cancelled)
        if hit is SHELL_RE and not FAILURE_RE.search(clean(after_user)[-80:]):
            return LoginResult(Outcome.SUCCESS, "a shell-like prompt appeared after the username alone "
                               "(the account has no password)", True, last_text=after_user, user_only=True)
        if hit is not PASSWORD_RE:
            if LOCKED_RE.search(after_user):
                return LoginResult(Outcome.LOCKED, "the device answered the username with a lock-out message",
                                   True, last_text=after_user)
            return LoginResult(Outcome.FAILURE if hit is LOGIN_RE or s.closed else Outcome.TIMEOUT,
                               "no password prompt after the username", True, last_text=after_user)
    transcript.note("password prompt seen; sending password")
    s.send_line(password)
    sent_at = time.monotonic()
    after, hit = s.wait_for((LOGIN_RE, PASSWORD_RE, SHELL_RE), timeout, check_cancelled)
    latency = time.monotonic() - sent_at
    text = clean(after)
    last_line = text.replace(b"\r", b"\n").rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if hit is SHELL_RE and not FAILURE_RE.search(last_line):
        return LoginResult(Outcome.SUCCESS, "a shell-like prompt followed the password", True, latency, after)
    if LOCKED_RE.search(text):
        return LoginResult(Outcome.LOCKED, "the device answered with a lock-out message", True, latency, after)
    if hit in (LOGIN_RE, PASSWORD_RE) or FAILURE_RE.search(text):
        return LoginResult(Outcome.FAILURE, "the device rejected the password (re-prompt or failure message)",
                           True, latency, after)
    if s.closed:
        return LoginResult(Outcome.FAILURE, "the device closed the connection after the password", True,
                           latency, after)
    return LoginResult(Outcome.TIMEOUT, "no recognisable answer to the password in time", True, latency, after)
