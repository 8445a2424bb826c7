"""TinySSH as it is meant to run: from inetd/tcpserver, one process per connection on its stdin and
stdout. The loopback acceptor here plays inetd for a bounded number of connections; shared by the
SSH judgement tests and bench/crypto_bench.py."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

TINYSSHD = "/usr/sbin/tinysshd"


def installed() -> bool:
    return shutil.which("tinysshd") is not None or Path(TINYSSHD).exists()


@contextlib.contextmanager
def tinysshd(work: Path, host: str = "127.0.0.1", connections: int = 12) -> Iterator[int]:
    """Serve TinySSH on a free loopback port (yielded) for at most `connections` connections; its
    host keys are made once in `work`. Every child is stopped on exit."""
    keys = work / "tinyssh-keys"
    if not keys.exists():
        subprocess.run(["tinysshd-makekey", str(keys)], check=True, capture_output=True, timeout=60)
    srv = socket.socket()
    srv.bind((host, 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()
    children: list[subprocess.Popen[bytes]] = []

    def serve() -> None:
        handled = 0
        while not stop.is_set() and handled < connections:
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            handled += 1
            with conn:
                children.append(subprocess.Popen([TINYSSHD, str(keys)], stdin=conn.fileno(), stdout=conn.fileno(),
                                                 stderr=subprocess.DEVNULL))

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        srv.close()
        for c in children:
            if c.poll() is None:
                c.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.wait(5)
