"""A restricted stand-in for a device's adbd (Android Debug Bridge daemon) on TCP, for the lab only.

Debian 12 packages the ADB host client (`adb`) but no adbd: the daemon is Android system code.
This stand-in speaks the real wire protocol (the same 24-byte messages; the Debian `adb` client
connects to it and runs `adb shell echo hi` against it, tests/auth/test_adb.py) in two modes:
- `open` (no authentication, like a TV box shipped with ADB over TCP enabled): answers CNXN with a
  device banner, and serves exactly one kind of stream, `shell:echo ...`, which it evaluates the
  way a shell would join quotes (shlex, POSIX rules). Any other service (sync, install, reboot,
  root, a bare `shell:`, a command other than `echo`, or one with shell operators) is refused with
  CLSE. Nothing is ever executed.
- `auth` (ro.adb.secure=1): answers CNXN with an AUTH token; a signature or a public key from the
  host gets a fresh token, so no host ever gets in.
It binds the address it is given, serves at most `--max-clients` connections (one thread each,
bounded in messages and time), and exits after `--lifetime` seconds. Documented in docs/lab.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import sys
import threading
import time

from probe.protocols import adb

BANNER = b"device::ro.product.name=standin_tv;ro.product.model=Standin TV Box;ro.product.device=standin;features=cmd"
MAX_MESSAGES = 64  # per connection
CLIENT_TIME = 30.0  # seconds one connection may last
_SHELL_OPERATORS = set(";|&$`<>(){}\\*?~\n")


def echo_output(command: str) -> bytes | None:
    """What a shell prints for `echo ARGS` (quotes joined as a shell would), or None if refused."""
    if any(c in _SHELL_OPERATORS for c in command):
        return None
    try:
        argv = shlex.split(command, posix=True)
    except ValueError:
        return None
    if not argv or argv[0] != "echo":
        return None
    return (" ".join(argv[1:]) + "\n").encode()


def serve(conn: socket.socket, mode: str) -> None:
    """One host connection: the handshake, then streams, bounded in messages and time."""
    deadline = time.monotonic() + CLIENT_TIME
    next_id = 1
    with conn:
        for _ in range(MAX_MESSAGES):
            try:
                msg = adb.read_message(conn, deadline)
            except (adb.AdbError, OSError):
                return  # adbd drops a connection that does not speak ADB
            if msg.command == adb.CNXN or (msg.command == adb.AUTH and mode == "auth"):
                if mode == "auth":
                    conn.sendall(adb.build(adb.AUTH, adb.AUTH_TOKEN, 0, os.urandom(20)))
                else:
                    conn.sendall(adb.build(adb.CNXN, adb.VERSION, adb.MAX_PAYLOAD, BANNER))
            elif msg.command == adb.OPEN and mode == "open":
                local = msg.arg0
                service = msg.payload.rstrip(b"\x00").decode("utf-8", "replace")
                out = echo_output(service[len("shell:"):]) if service.startswith("shell:") else None
                if out is None:
                    conn.sendall(adb.build(adb.CLSE, 0, local))
                    continue
                mine, next_id = next_id, next_id + 1
                conn.sendall(adb.build(adb.OKAY, mine, local))
                conn.sendall(adb.build(adb.WRTE, mine, local, out))
                conn.sendall(adb.build(adb.CLSE, mine, local))
            elif msg.command in (adb.OKAY, adb.CLSE):
                continue  # acknowledgements and closes of streams already finished
            else:
                return


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, default=5555)
    ap.add_argument("--mode", choices=("open", "auth"), default="open")
    ap.add_argument("--lifetime", type=float, default=6 * 3600)
    ap.add_argument("--max-clients", type=int, default=10000)
    args = ap.parse_args()
    end = time.monotonic() + args.lifetime
    served = 0
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.bind, args.port))
        s.listen(16)
        print(f"listening {args.bind}:{s.getsockname()[1]} mode {args.mode}", flush=True)
        while served < args.max_clients and (left := end - time.monotonic()) > 0:
            s.settimeout(min(left, 1.0))
            try:
                conn, _ = s.accept()
            except TimeoutError:
                continue
            served += 1
            threading.Thread(target=serve, args=(conn, args.mode), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
