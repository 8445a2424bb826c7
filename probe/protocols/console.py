"""Command consoles: recognise a shell-like prompt and prove it runs commands, touching nothing.

Debug consoles, telnet backdoors and vendor CLIs left on a device answer on some TCP port with a
prompt and no login. Recognising one must be safe on a device that may be running as root: the
only bytes ever sent are one empty line (a prompt that comes back is interactive) and one
`echo` of a random token. The token is sent split by an empty quoted string (`echo 1a2b''3c4d`),
so the joined token appears in the answer only if a shell evaluated the line: a terminal that
merely echoes the typed characters back shows the quotes. Nothing else is typed, ever.

Telnet option negotiation is handled by the telnet session (IAC bytes are stripped and refused),
so the same recogniser serves a raw TCP console and a telnet service that skips the login.
"""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from probe.protocols.telnet import LOGIN_RE, PASSWORD_RE, TelnetSession, clean
from probe.protocols.transcript import Transcript

# A prompt is the last line, short, printable, not markup, ending in a prompt character with at
# most one space after it, and no line break (a prompt waits on its own line for typing).
PROMPT_RE = re.compile(rb"(?:^|[\r\n])([^\r\n<>]{0,64}[$#%>]) ?$")
_LOGIN_WORDS = re.compile(rb"(?i)login|user ?name|password|passwd|passcode")
MAX_BYTES = 16 * 1024  # what one console probe reads in all


class Outcome(StrEnum):
    EXECUTES = "executes"  # a prompt, and the echo was evaluated: commands run without a login
    PROMPT = "prompt"  # an interactive prompt answered the empty line, the echo was not evaluated
    LOGIN = "login"  # it asks for a user name or password first
    NO_PROMPT = "no-prompt"  # nothing prompt-like (another protocol, or silence)
    CLOSED = "closed"  # closed before showing anything


def prompt_in(data: bytes) -> str | None:
    """The prompt at the end of `data` (after telnet/ANSI cleaning), or None."""
    text = clean(data).rstrip(b"\x00")
    m = PROMPT_RE.search(text[-200:])
    if not m:
        return None
    line = m.group(1).strip()
    if not line or _LOGIN_WORDS.search(line) or any(b < 0x20 or b == 0x7F for b in line):
        return None
    return line.decode("utf-8", "replace")


def looks_like_prompt(greeting: bytes) -> bool:
    """True when an unsolicited greeting ends in a shell-like prompt (discovery's test)."""
    return prompt_in(greeting) is not None


def echo_line() -> tuple[str, str]:
    """(line to send, token a shell prints): the token never appears verbatim in the line sent."""
    a, b = secrets.token_hex(4), secrets.token_hex(4)
    return f"echo {a}''{b}", a + b


@dataclass
class ConsoleResult:
    outcome: Outcome
    prompt: str | None
    token: str | None
    detail: str


_PROMPT_PATTERN = re.compile(rb"[$#%>] ?$")


def probe(sock: socket.socket, t: Transcript, timeout: float,
          check_cancelled: Callable[[], None] | None = None) -> ConsoleResult:
    """Read the greeting; send one empty line; if a prompt shows, one echo of a random token."""
    s = TelnetSession(sock, t, max_bytes=MAX_BYTES)
    wait = min(timeout, 5.0)
    first, hit = s.wait_for((LOGIN_RE, PASSWORD_RE, _PROMPT_PATTERN), min(wait, 2.0), check_cancelled, quiet=1.0)
    if hit in (LOGIN_RE, PASSWORD_RE):
        return ConsoleResult(Outcome.LOGIN, None, None, "it asks for a user name or password before anything else")
    if s.closed and not first:
        return ConsoleResult(Outcome.CLOSED, None, None, "closed the connection without sending anything")
    if s.closed:
        return ConsoleResult(Outcome.NO_PROMPT, None, None, "sent a greeting and closed, no prompt")
    t.note("sending one empty line (a prompt that answers it is interactive)")
    s.send_line(b"")
    after, hit = s.wait_for((LOGIN_RE, PASSWORD_RE, _PROMPT_PATTERN), wait, check_cancelled, quiet=1.0)
    if hit in (LOGIN_RE, PASSWORD_RE):
        return ConsoleResult(Outcome.LOGIN, None, None, "it asks for a user name or password")
    prompt = prompt_in(after) or (prompt_in(first) if not after.strip() else None)
    if prompt is None:
        why = ("closed after the empty line" if s.closed
               else "no shell-like prompt in the greeting or after an empty line")
        return ConsoleResult(Outcome.NO_PROMPT, None, None, why)
    line, token = echo_line()
    t.note(f"prompt {prompt!r} seen; sending one echo of a random token (split by '' so only a shell joins it)")
    s.send_line(line)
    out, _ = s.wait_for((re.compile(re.escape(token.encode()) + rb"\s"),), wait, check_cancelled, quiet=1.0)
    lines = [ln.strip() for ln in clean(out).replace(b"\r", b"\n").split(b"\n")]
    if token.encode() in lines:
        return ConsoleResult(Outcome.EXECUTES, prompt, token,
                             f"prompt {prompt!r} without a login, and the shell evaluated `{line}` to {token}")
    return ConsoleResult(Outcome.PROMPT, prompt, token,
                         f"prompt {prompt!r} answers without a login; the echo was not evaluated")
