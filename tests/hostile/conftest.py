"""Fixtures for the hostile-device tests: misbehaving servers on loopback, real daemons configured
to misbehave, and `probe run` as a real subprocess with its wall time and peak memory measured."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from probe.hostile import SERVERS, HostileServer, start_all
from probe.lab.measure import run_measured

REPO = Path(__file__).resolve().parents[2]
ESC = "\x1b"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


@pytest.fixture(scope="package")
def hostile() -> Iterator[dict[str, HostileServer]]:
    """Every purpose-built hostile server, on 127.0.0.1, any free ports; always stopped."""
    servers = start_all("127.0.0.1")
    try:
        yield {s.name: s for s in servers}
    finally:
        for s in servers:
            s.stop()


@dataclass
class ProbeRun:
    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    max_rss_kb: int
    doc: dict[str, Any] | None

    def findings(self, port: int | None = None, check: str | None = None) -> list[dict[str, Any]]:
        assert self.doc is not None
        return [f for f in self.doc["findings"] if (port is None or f["port"] == port)
                and (check is None or f["check_id"] == check)]

    def service(self, port: int) -> dict[str, Any]:
        assert self.doc is not None
        return next(s for s in self.doc["services"] if s["port"] == port)


def probe_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "probe", *args]


def run_probe(out: Path, *args: str, timeout: float = 120, env: dict[str, str] | None = None,
              prefix: list[str] | None = None) -> ProbeRun:
    """`probe run ... --out out` as a subprocess; wall time and probe's own peak RSS are measured."""
    argv = (prefix or []) + probe_cmd("run", "--out", str(out), *args)
    streams: dict[str, bytes] = {}
    readers: list[threading.Thread] = []

    def read_pipes(proc: subprocess.Popen[bytes]) -> None:
        for n, f in (("out", proc.stdout), ("err", proc.stderr)):
            t = threading.Thread(target=lambda n=n, f=f: streams.__setitem__(n, f.read()), daemon=True)
            t.start()
            readers.append(t)

    m = run_measured(argv, timeout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env,
                     on_start=read_pipes)
    for r in readers:
        r.join(10)
    if m.timed_out:
        raise AssertionError(f"probe run did not end within {timeout}s: {argv}")
    doc = json.loads(out.read_text()) if out.exists() else None
    return ProbeRun(m.returncode, streams.get("out", b"").decode("utf-8", "replace"),
                    streams.get("err", b"").decode("utf-8", "replace"), m.wall, m.peak_rss_kb, doc)


class Daemons:
    """Real server processes started by a test; killed (whole group) when it ends."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], port: int, **kw: Any) -> subprocess.Popen[bytes]:
        if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
            pytest.fail(f"{argv[0]} is not installed: run scripts/setup-system.sh")
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, **kw)
        self.procs.append(p)
        try:
            wait_port(port)
        except RuntimeError:
            err = p.stderr.read(2000).decode(errors="replace") if p.poll() is not None and p.stderr else ""
            raise RuntimeError(f"{argv[0]} did not start: {err}") from None
        return p

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait(timeout=10)


@pytest.fixture
def daemons() -> Iterator[Daemons]:
    d = Daemons()
    try:
        yield d
    finally:
        d.stop()


__all__ = ["ESC", "SERVERS", "ProbeRun", "free_port", "probe_cmd", "run_probe", "wait_port"]
