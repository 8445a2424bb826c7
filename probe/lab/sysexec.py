"""Subprocess helpers for the lab: every call bounded by a timeout, failures stated in one line.

The lab drives `ip`, `nft`, key generators and daemons; a hung helper must never hang a test
session, and a missing binary must tell the user which package script to run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence

from probe.errors import UserError

DEFAULT_TIMEOUT = 15.0
SETUP_HINT = "run scripts/setup-system.sh (as root) to install the lab's daemons"


class LabCommandError(UserError):
    """A lab helper command failed; the message names the command and its stderr."""


def require_root() -> None:
    if os.geteuid() != 0:
        raise UserError("probe lab needs root (network namespaces, veth links, daemons on port < 1024); "
                        "run it with sudo")


def require_binaries(names: Iterable[str]) -> None:
    """Fail with one line naming the first daemon or tool that is not installed."""
    for name in names:
        if shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            raise UserError(f"probe lab: '{name}' is not installed; {SETUP_HINT}")


def run(cmd: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT, check: bool = True,
        input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a helper to completion; raise LabCommandError (one line) when check and it fails."""
    try:
        proc = subprocess.run(list(cmd), input=input, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabCommandError(f"probe lab: '{' '.join(cmd)}' did not finish within {timeout:.0f}s") from None
    except FileNotFoundError:
        raise UserError(f"probe lab: '{cmd[0]}' is not installed; {SETUP_HINT}") from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        last = err[-1] if err else f"exit code {proc.returncode}"
        raise LabCommandError(f"probe lab: '{' '.join(cmd)}' failed: {last}")
    return proc


def ns_cmd(namespace: str, cmd: Sequence[str]) -> list[str]:
    """The argv that runs `cmd` inside a network namespace (with its /etc/netns/ files)."""
    return ["ip", "netns", "exec", namespace, *cmd]
