"""probe.protocols.telnet, the one telnet implementation: its IAC parser on bytes (split anywhere),
and TelnetSession.wait_for against real busybox telnetd and the hostile negotiation flood.

Login trials with it (busybox telnetd with real accounts) are in tests/auth/test_auth_checks.py.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.hostile import BY_NAME
from probe.protocols import telnet
from probe.protocols.transcript import Transcript
from tests.helpers.daemons import LocalDaemons
from tests.helpers.ports import free_port

HOST = "127.0.0.1"
IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240

telnet_bytes = st.lists(st.one_of(st.binary(max_size=8), st.sampled_from([
    bytes([IAC, DO, 1]), bytes([IAC, WILL, 3]), bytes([IAC, WONT, 5]), bytes([IAC, DONT, 24]),
    bytes([IAC, SB, 24, 1, IAC, SE]), bytes([IAC, IAC]), bytes([IAC]), bytes([IAC, SB, 1, 2])])),
    max_size=30).map(b"".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(telnet_bytes, st.integers(0, 200))
def test_parser_is_split_invariant(data: bytes, cut: int) -> None:
    """A command split across two reads is parsed exactly as if it came in one."""
    whole = telnet.TelnetParser().feed(data)
    p = telnet.TelnetParser()
    cut = min(cut, len(data))
    first, second = p.feed(data[:cut]), p.feed(data[cut:])
    assert (first[0] + second[0], first[1] + second[1], first[2] + second[2]) == whole
    assert len(whole[0]) <= len(data)
    assert all(cmd in (DO, DONT, WILL, WONT) for cmd, _ in whole[1])


def test_transcript_verbatim_keeps_the_bytes() -> None:
    t = Transcript("telnet", HOST, 23)
    t.received(bytes([IAC, WILL, 1]) + b"\x1b[31mlogin: ")
    t.sent(bytes([IAC, DO, 1]))
    assert t.verbatim() == b"<<< \xff\xfb\x01\x1b[31mlogin: \n>>> \xff\xfd\x01\n"


@pytest.fixture
def telnetd(daemons: LocalDaemons, tmp_path: Path) -> Callable[[str], int]:
    """busybox telnetd on loopback running `script` as its login program."""

    def start(script: str) -> int:
        prog = tmp_path / f"login{free_port()}.sh"
        prog.write_text("#!/bin/sh\n" + script + "\n")
        prog.chmod(0o755)
        port = free_port()
        daemons.start(["busybox", "telnetd", "-F", "-p", str(port), "-b", HOST, "-l", str(prog)], port=port)
        return port

    return start


def _wait(port: int, **kw: float) -> tuple[telnet.TelnetSession, bytes, object]:
    with socket.create_connection((HOST, port), timeout=3) as sock:
        s = telnet.TelnetSession(sock, Transcript("telnet", HOST, port))
        text, hit = s.wait_for((telnet.LOGIN_RE, telnet.PASSWORD_RE), kw.pop("timeout", 5.0), **kw)
    return s, text, hit


def test_prompt_after_negotiation(telnetd: Callable[[str], int]) -> None:
    s, text, hit = _wait(telnetd("printf 'router login: '; sleep 10"))
    assert hit is telnet.LOGIN_RE and s.stopped == "match" and text.endswith(b"router login: ")
    assert s.neg.replies > 0  # busybox negotiated options and was answered
    assert b"<<< \xff" in s.t.verbatim() and b">>> \xff" in s.t.verbatim()


def test_banner_without_prompt_stops_when_quiet(telnetd: Callable[[str], int]) -> None:
    s, text, hit = _wait(telnetd("printf 'welcome\\r\\n'; sleep 10"), timeout=8.0, quiet=0.7)
    assert hit is None and s.stopped == "quiet" and b"welcome" in text


def test_login_program_that_exits_closes(telnetd: Callable[[str], int]) -> None:
    s, _text, hit = _wait(telnetd("exit 0"), timeout=8.0)
    assert hit is None and s.stopped == "closed"


def test_negotiation_flood_stops_at_the_byte_cap() -> None:
    with BY_NAME["telnet-negotiation-flood"](HOST, 0) as flood, \
            socket.create_connection((HOST, flood.port), timeout=3) as sock:
        s = telnet.TelnetSession(sock, Transcript("telnet", HOST, flood.port), max_bytes=16 * 1024)
        text, hit = s.wait_for((telnet.LOGIN_RE,), 10.0, quiet=0.7)
    assert hit is None and s.stopped == "cap" and text == b""
    assert s.neg.replies <= s.neg.max_replies  # each option answered at most once, with a global cap
