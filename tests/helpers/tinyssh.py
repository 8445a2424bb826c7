"""TinySSH as it is meant to run: from inetd/tcpserver, one process per connection on its stdin and
stdout. The loopback acceptor here plays inetd for a bounded number of connections; shared by the
SSH judgement tests and bench/crypto_bench.py."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.peers import scripted_peer

TINYSSHD = "/usr/sbin/tinysshd"


def installed() -> bool:
    return shutil.which("tinysshd") is not None or Path(TINYSSHD).exists()


@contextlib.contextmanager
def tinysshd(work: Path, connections: int = 12) -> Iterator[int]:
    """Serve TinySSH on a free loopback port (yielded) for at most `connections` connections; its
    host keys are made once in `work`. Every child is stopped on exit."""
    keys = work / "tinyssh-keys"
    if not keys.exists():
        subprocess.run(["tinysshd-makekey", str(keys)], check=True, capture_output=True, timeout=60)
    children: list[subprocess.Popen[bytes]] = []

    def spawn(conn: socket.socket) -> None:  # the child gets its own copy of the connection
        children.append(subprocess.Popen([TINYSSHD, str(keys)], stdin=conn.fileno(), stdout=conn.fileno(),
                                         stderr=subprocess.DEVNULL))

    try:
        with scripted_peer(spawn, connections, timeout=None) as port:
            yield port
    finally:
        for c in children:
            if c.poll() is None:
                c.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.wait(5)
