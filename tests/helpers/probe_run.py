"""`probe run` as a real subprocess with its wall time and its own peak memory measured (GNU time,
probe.lab.measure), for the tests that bound how long probe runs and how much memory it takes."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probe.lab.measure import run_measured
from tests.helpers.cli import REPO, probe_cmd


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


def run_probe(out: Path, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None,
              prefix: Sequence[str] = ()) -> ProbeRun:
    """`probe run ... --out out` as a subprocess; wall time and probe's own peak RSS are measured."""
    argv = [*prefix, *probe_cmd("run", "--out", str(out), *args)]
    streams: dict[str, bytes] = {}
    readers: list[threading.Thread] = []

    def read_pipes(proc: subprocess.Popen[bytes]) -> None:
        for n, f in (("out", proc.stdout), ("err", proc.stderr)):
            t = threading.Thread(target=lambda n=n, f=f: streams.__setitem__(n, f.read()), daemon=True)
            t.start()
            readers.append(t)

    m = run_measured(argv, timeout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                     env=dict(env) if env is not None else None, on_start=read_pipes)
    for r in readers:
        r.join(10)
    if m.timed_out:
        raise AssertionError(f"probe run did not end within {timeout}s: {argv}")
    doc = json.loads(out.read_text()) if out.exists() else None
    return ProbeRun(m.returncode, streams.get("out", b"").decode("utf-8", "replace"),
                    streams.get("err", b"").decode("utf-8", "replace"), m.wall, m.peak_rss_kb, doc)
