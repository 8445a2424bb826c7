"""Run many `probe` command lines in one process of their own: a JSON list of argv on stdin, a JSON
list of [exit code, stdout, stderr] on stdout.

For tests whose every command must run somewhere special (`unshare --net`: a namespace with no way
out) but which need no fresh interpreter per command: one start-up instead of one per command.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

from probe.cli import main


def run_all(argvs: list[list[str]]) -> list[tuple[int, str, str]]:
    results = []
    for argv in argvs:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        results.append((code, out.getvalue(), err.getvalue()))
    return results


if __name__ == "__main__":
    json.dump(run_all(json.load(sys.stdin)), sys.stdout)
