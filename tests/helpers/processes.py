"""Real server processes started by tests: each in its own process group, always stopped.

Output goes to a temporary file, never to a pipe nobody reads (a full pipe stalls a daemon); when
a daemon does not come up, the test fails with the tail of that output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self

import pytest

from tests.helpers.ports import LOOPBACK, wait_tcp


def require(binary: str) -> None:
    """Fail (not skip) when a package scripts/setup-system.sh installs is missing."""
    if shutil.which(binary) is None and not Path(binary).exists() and not Path("/usr/sbin", binary).exists():
        pytest.fail(f"{binary} is not installed: run scripts/setup-system.sh")


def stop_detached(pidfile: Path, marker: str) -> None:
    """Kill the process group led by the PID in `pidfile`, if that process is still ours (its
    command line names `marker`, so a reused PID is never hit)."""
    try:
        pid = int(pidfile.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace")
    except (OSError, ValueError, IndexError):
        return
    if marker in cmdline:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)


class Daemons:
    """The daemons one test (or one shared fixture) started; `stop()` kills every process group."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.cleanup_paths: list[Path] = []  # directories made outside the work directory
        # (pid file, text its command line must contain): helpers a daemon starts in a session of
        # their own (Samba's samba-dcerpcd and its rpcd_* workers), stopped by their process group
        self.detached: list[tuple[Path, str]] = []
        self._logs: dict[int, IO[bytes]] = {}

    def start(self, argv: Sequence[str], *, port: int | None = None, host: str = LOOPBACK,
              ready: Callable[[subprocess.Popen[bytes]], None] | None = None,
              env: Mapping[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """Start `argv`; wait until `host:port` accepts TCP, or until `ready(proc)` returns."""
        require(argv[0])
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True)
        self.procs.append(proc)
        self._logs[proc.pid] = log
        try:
            if port is not None:
                wait_tcp(port, host, proc=proc)
            if ready is not None:
                ready(proc)
        except RuntimeError as exc:
            self._stop(proc)
            raise RuntimeError(f"{argv[0]} did not start ({exc}): {self.output(proc)[-1500:]}") from None
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        """What the daemon printed so far (stdout and stderr)."""
        log = self._logs.get(proc.pid)
        if log is None or log.closed:
            return ""
        log.seek(0)
        return log.read().decode("utf-8", "replace")

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        # the whole group (telnetd's login shells, sh -c wrappers...), while the leader is not yet
        # reaped, so the group id cannot belong to anyone else
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            self._stop(proc)
        self.procs.clear()
        for pidfile, marker in self.detached:
            stop_detached(pidfile, marker)
        self.detached.clear()
        for log in self._logs.values():
            log.close()
        self._logs.clear()
        for path in self.cleanup_paths:
            shutil.rmtree(path, ignore_errors=True)
        self.cleanup_paths.clear()
