"""The `probe` command line, two ways.

In-process (`probe.cli.main` with pytest's output capture) for everything that needs no signal,
no namespace, no other user and no fresh interpreter: the same argument parsing, command code and
exit codes as the installed command, without half a second of interpreter start-up per call.
As a subprocess (`python -m probe`) where the process itself is under test: signals, a pty,
`unshare`/`ip netns exec`, entry points from another PYTHONPATH, memory measurement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from probe.cli import main

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliResult:
    """What a user sees: the exit code and the two output streams."""

    returncode: int
    stdout: str
    stderr: str


def probe_cmd(*args: str) -> list[str]:
    """argv that runs probe in a fresh interpreter, from whatever directory."""
    return [sys.executable, "-m", "probe", *args]


def run_subprocess(*args: str, timeout: float = 300, cwd: Path | None = None,
                   env: Mapping[str, str] | None = None, prefix: Sequence[str] = ()) -> CliResult:
    """`probe ARGS` as its own process (after `prefix`, e.g. `unshare --net`)."""
    r = subprocess.run([*prefix, *probe_cmd(*args)], capture_output=True, text=True, timeout=timeout,
                       cwd=cwd or REPO, env=dict(env) if env is not None else None)
    return CliResult(r.returncode, r.stdout, r.stderr)


def run_batch_subprocess(argvs: Sequence[Sequence[str]], *, prefix: Sequence[str] = (),
                         timeout: float = 300) -> list[CliResult]:
    """Several `probe` command lines, one after the other, in ONE process of their own (after
    `prefix`): tests/helpers/cli_batch.py runs each through probe.cli.main."""
    r = subprocess.run([*prefix, sys.executable, "-m", "tests.helpers.cli_batch"], input=json.dumps(
        [list(a) for a in argvs]), capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    return [CliResult(code, out, err) for code, out, err in json.loads(r.stdout)]


class InProcessCli:
    """`probe ARGS` through `probe.cli.main` in this process, its output captured by `capsys`."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.capsys = capsys
        self.monkeypatch = monkeypatch

    def __call__(self, *args: str, cwd: Path | None = None) -> CliResult:
        self.capsys.readouterr()  # whatever the test printed before is not the command's output
        with self.monkeypatch.context() as mp:
            if cwd is not None:
                mp.chdir(cwd)
            # an interrupted run ends the process with os._exit when a worker thread is stuck;
            # here that would end pytest: such runs belong in a subprocess
            mp.setattr(os, "_exit", _refuse_exit)
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors and --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        out, err = self.capsys.readouterr()
        return CliResult(code, out, err)


def _refuse_exit(code: int) -> NoReturn:
    raise AssertionError(f"probe called os._exit({code}) in-process: run this command with run_subprocess")
