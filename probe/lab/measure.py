"""Run a command and measure its own wall time, CPU time and peak memory.

Used by the test suite's memory bounds and by the benchmark. Why not simply wait4() on the child:
Linux keeps a process's peak-RSS record across fork and exec, so a child of a large process (pytest
late in a run, the bench driver) reports its parent's size when that is bigger than its own. The
test suite saw 293 MB "peak" for a probe run that used a fraction of that. GNU time is a small,
freshly exec'd process; the command it forks starts with a clean record, and time reports that
child's own figures. It is installed by scripts/setup-system.sh (Debian package `time`).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

GNU_TIME = "/usr/bin/time"
_FORMAT = "probe-measure %M %U %S"


class MeasureError(RuntimeError):
    """The measurement itself could not be made (GNU time missing or said nothing)."""


@dataclass(frozen=True)
class Measured:
    returncode: int
    wall: float
    cpu: float
    peak_rss_kb: int
    timed_out: bool


def _parse(report: str) -> tuple[int, float]:
    for line in reversed(report.splitlines()):
        if line.startswith("probe-measure "):
            _, rss, user, sys_ = line.split()
            return int(rss), float(user) + float(sys_)
    raise MeasureError(f"GNU time gave no measurement: {report[-300:]!r}")


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for the child's end without polling; False on timeout.

    Why not proc.wait(timeout=...): with a timeout CPython polls, sleeping up to 50 ms between
    looks, so every wall time measured around it came out up to 50 ms late, in 50 ms steps (a
    0.12 s command read as 0.114 or 0.164 s): a third of the time of the per-service commands the
    crypto bench compares. A pidfd (Linux 5.3+) becomes readable the moment the child exits."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd here: the polling wait
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    if not ready:
        return False
    proc.wait()
    return True


def run_measured(argv: list[str], timeout: float, *, stdout: int | IO[Any] | None = subprocess.DEVNULL,
                 stderr: int | IO[Any] | None = subprocess.DEVNULL, cwd: str | Path | None = None,
                 env: dict[str, str] | None = None,
                 on_start: Callable[[subprocess.Popen[bytes]], None] | None = None) -> Measured:
    """Run argv (in a session of its own) to completion or until timeout, then kill the session.

    on_start(proc) is called right after the start, so a caller can read the pipes it asked for.
    """
    if not os.access(GNU_TIME, os.X_OK):
        raise MeasureError(f"{GNU_TIME} is missing: run scripts/setup-system.sh (Debian package 'time')")
    with tempfile.NamedTemporaryFile("r", prefix="probe-measure-", suffix=".txt") as report:
        full = [GNU_TIME, "-f", _FORMAT, "-o", report.name, *argv]
        start = time.monotonic()
        proc = subprocess.Popen(full, stdout=stdout, stderr=stderr, cwd=cwd, env=env, start_new_session=True)
        if on_start is not None:
            on_start(proc)
        timed_out = not _wait(proc, timeout)
        if timed_out:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        wall = time.monotonic() - start
        if timed_out:
            return Measured(proc.returncode, wall, 0.0, 0, True)
        rss, cpu = _parse(Path(report.name).read_text(errors="replace"))
    return Measured(proc.returncode, wall, cpu, rss, False)
