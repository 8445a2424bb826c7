"""A raw FTP client for login attempts (RFC 959 USER/PASS), recording every reply.

Raw rather than ftplib so that the transcript holds exactly the bytes exchanged and every read
is bounded by probe.protocols.netio. Only the control connection is used: no data connection is opened
and nothing is listed, read or written on the device.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from enum import StrEnum

from probe.protocols.lines import LineReader
from probe.protocols.netio import ReadTimeout
from probe.protocols.transcript import Transcript

ANONYMOUS_PASSWORD = "probe@example.invalid"


@dataclass(frozen=True)
class Reply:
    code: int
    text: str


class Outcome(StrEnum):
    SUCCESS = "success"  # 230 after PASS
    NO_PASSWORD = "no-password"  # 230 straight after USER: the account needs no password
    FAILURE = "failure"  # 530 or another rejection
    CLOSED = "closed"  # the server hung up (many servers do after repeated failures)
    REFUSED = "refused"  # the greeting was not 220 (e.g. 421 too many connections / blocked)
    PROTOCOL = "protocol"  # not an FTP answer


@dataclass
class LoginResult:
    outcome: Outcome
    detail: str
    greeting: Reply | None
    prompt_seen: bool  # the server asked for a password (331) or rejected the login (530)
    answer_latency: float | None = None
    last: Reply | None = None


def read_reply(lines: LineReader, t: Transcript, timeout: float) -> Reply:
    """One (possibly multi-line) reply: 'ddd-' continues until a line starting 'ddd '."""
    first = lines.readline(timeout)
    t.received(first)
    if len(first) < 3 or not first[:3].isdigit():
        raise ValueError(f"not an FTP reply: {first[:60]!r}")
    code = int(first[:3])
    text = [first[4:].decode("utf-8", "replace").strip()]
    if first[3:4] == b"-":
        for _ in range(200):
            line = lines.readline(timeout)
            t.received(line)
            text.append(line.decode("utf-8", "replace").strip())
            if line[:3] == first[:3] and line[3:4] == b" ":
                break
        else:
            raise ValueError("multi-line FTP reply longer than 200 lines")
    return Reply(code, "\n".join(text))


def command(sock: socket.socket, lines: LineReader, t: Transcript, line: str, timeout: float) -> Reply:
    raw = line.encode("utf-8") + b"\r\n"
    t.sent(raw)
    sock.sendall(raw)
    return read_reply(lines, t, timeout)


def greeting(sock: socket.socket, t: Transcript, timeout: float) -> tuple[LineReader, Reply]:
    lines = LineReader(sock)
    return lines, read_reply(lines, t, timeout)


def try_login(sock: socket.socket, t: Transcript, username: str, password: str, *,
              timeout: float = 5.0) -> LoginResult:
    """Greeting, USER, PASS, QUIT on a connected socket; classify the answer."""
    try:
        lines, hello = greeting(sock, t, timeout)
    except (ReadTimeout, ConnectionError, OSError) as exc:
        return LoginResult(Outcome.CLOSED, f"no FTP greeting ({exc})", None, False)
    except ValueError as exc:
        return LoginResult(Outcome.PROTOCOL, str(exc), None, False)
    if hello.code != 220:
        return LoginResult(Outcome.REFUSED, f"greeting {hello.code} instead of 220", hello, False, last=hello)
    try:
        user = command(sock, lines, t, f"USER {username}", timeout)
        if user.code == 230:
            _quit(sock, lines, t, timeout)
            return LoginResult(Outcome.NO_PASSWORD, "230 after USER: logged in without a password",
                               hello, False, last=user)
        if user.code != 331:
            return LoginResult(Outcome.FAILURE, f"USER answered {user.code}", hello, user.code == 530,
                               last=user)
        sent = time.monotonic()
        pw = command(sock, lines, t, f"PASS {password}", timeout)
        latency = time.monotonic() - sent
    except (ReadTimeout, ConnectionError, OSError) as exc:
        return LoginResult(Outcome.CLOSED, f"the server stopped answering ({exc})", hello, True)
    except ValueError as exc:
        return LoginResult(Outcome.PROTOCOL, str(exc), hello, True)
    if pw.code == 230:
        _quit(sock, lines, t, timeout)
        return LoginResult(Outcome.SUCCESS, "230 after PASS: logged in", hello, True, latency, pw)
    return LoginResult(Outcome.FAILURE, f"PASS answered {pw.code}", hello, True, latency, pw)


def _quit(sock: socket.socket, lines: LineReader, t: Transcript, timeout: float) -> None:
    try:
        command(sock, lines, t, "QUIT", min(timeout, 2.0))
    except (ReadTimeout, ConnectionError, OSError, ValueError):
        pass
