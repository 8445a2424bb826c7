"""probe.protocols.ftp, the one FTP reply reader: replies on a socket pair (bytes fixtures), and
the greeting + USER exchange against a real vsftpd on loopback.

Login trials with it (vsftpd with a real account) are in tests/auth/test_auth_checks.py; the
cleartext check's answers to hostile FTP servers in tests/hostile/test_misbehaving_servers.py.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from probe.protocols import ftp
from probe.protocols.lines import LineReader
from probe.protocols.netio import ReadTimeout
from probe.protocols.transcript import Transcript
from tests.helpers.daemons import LocalDaemons

HOST = "127.0.0.1"


def _reply(data: bytes, timeout: float = 1.0) -> tuple[ftp.Reply, Transcript]:
    a, b = socket.socketpair()
    with a, b:
        threading.Thread(target=b.sendall, args=(data,), daemon=True).start()
        t = Transcript("ftp", HOST, 21)
        return ftp.read_reply(LineReader(a), t, timeout), t


def test_single_and_multi_line_replies() -> None:
    r, _ = _reply(b"220 (vsFTPd 3.0.3)\r\n")
    assert r == ftp.Reply(220, "(vsFTPd 3.0.3)")
    r, t = _reply(b"230-Welcome\r\n230-  to the box\r\n 230 inside text is not the end\r\n230 Login ok\r\n")
    assert r.code == 230 and r.text.splitlines() == ["Welcome", "230-  to the box", "230 inside text is not the end",
                                                     "230 Login ok"]
    assert t.verbatim().count(b"<<< ") == 4  # every line is in the transcript as it came


@pytest.mark.parametrize("data,error", [
    (b"SSH-2.0-OpenSSH_9.2\r\n", ValueError),  # not an FTP reply
    (b"220-" + b"x\r\n220-" * 250, ValueError),  # a multi-line reply that never ends
    (b"220 no line end", ReadTimeout),  # stalls
])
def test_refusals(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        _reply(data, timeout=0.5)


@pytest.fixture
def vsftpd(daemons: LocalDaemons, tmp_path: Path) -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    empty = tmp_path / "empty"
    empty.mkdir()
    conf = tmp_path / "vsftpd.conf"
    conf.write_text("\n".join([
        "listen=YES", "listen_ipv6=NO", "background=NO", f"listen_address={HOST}", f"listen_port={port}",
        "anonymous_enable=NO", "local_enable=YES", "write_enable=NO", f"secure_chroot_dir={empty}",
        "seccomp_sandbox=NO", "pasv_enable=NO", "xferlog_enable=NO"]) + "\n")
    conf.chmod(0o600)
    daemons.start(["vsftpd", str(conf)], port=port)
    return port


def test_greeting_and_user_against_vsftpd(vsftpd: int) -> None:
    t = Transcript("ftp", HOST, vsftpd)
    with socket.create_connection((HOST, vsftpd), timeout=10) as sock:
        lines, hello = ftp.greeting(sock, t, 3.0)
        user = ftp.command(sock, lines, t, "USER probe-nobody", 3.0)
        wrong = ftp.command(sock, lines, t, "PASS probe-wrong", 10.0)  # PAM delays a failure by seconds
    assert hello.code == 220 and "vsFTPd" in hello.text
    assert user.code == 331  # vsftpd asks every local user name for a password: no account enumeration
    assert wrong.code == 530
    assert b">>> USER probe-nobody\r\n" in t.verbatim()
