"""Loopback ports for test daemons, and waiting until a daemon really listens or answers.

Every wait is bounded in time and every socket has a timeout: a daemon that never comes up makes
the test fail with a message naming the port, never hang.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time

LOOPBACK = "127.0.0.1"


def free_port(kind: str = "tcp", host: str = LOOPBACK) -> int:
    """A port nothing listens on right now (the kernel picks it), for a daemon the test starts."""
    sock_type = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, sock_type) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_tcp(port: int, host: str = LOOPBACK, timeout: float = 10.0,
             proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until host:port accepts a TCP connection; fails early if `proc` (the daemon) exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the daemon for {host}:{port} exited early with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {host}:{port} after {timeout}s")


def wait_udp(host: str, port: int, probe: bytes, timeout: float = 10.0) -> None:
    """Until a UDP service on host:port answers `probe` (daemons bind a moment after they start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            try:
                s.connect((host, port))
                s.send(probe)
                if s.recv(4096):
                    return
            except OSError:
                time.sleep(0.1)
    raise RuntimeError(f"nothing answering on {host}:{port}/udp after {timeout}s")
