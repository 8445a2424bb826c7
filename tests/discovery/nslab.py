"""A throw-away network namespace for discovery tests and the benchmark.

One namespace + one veth pair with a /30 in 10.231.<N>.0 (N unique per process), IPv6 off on both
ends, no default route inside, and the lab-wide `unreachable 10.231.0.0/16` safety route in the
root namespace (added only when absent, removed only by whoever added it). Everything is deleted in
`close()`, which the context manager always calls; processes started with `spawn()` are killed
first (their whole process group).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from types import TracebackType

SAFETY_ROUTE = ["unreachable", "10.231.0.0/16", "metric", "4000"]


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


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


def available() -> str | None:
    """None if namespaces can be used here, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, raw sockets)"
    if shutil.which("ip") is None:
        return "iproute2 is not installed"
    return None


_taken: set[int] = set()


def _pick_subnet() -> int:
    """10.231.N.0/30 with N in 200-249: start from the pid, skip any N this process or anyone on the
    machine already uses (addresses and routes in the root namespace)."""
    used = _ip("-4", "addr").stdout + _ip("-4", "route").stdout
    start = os.getpid() % 50
    for i in range(50):
        n = 200 + (start + i) % 50
        if n not in _taken and f"10.231.{n}." not in used:
            _taken.add(n)
            return n
    raise RuntimeError("no free 10.231.200-249 subnet for a test namespace")


class NetNS:
    def __init__(self, tag: str = "d", subnet: int | None = None) -> None:
        n = subnet if subnet is not None else _pick_subnet()
        self.n = n
        self.name = f"pdisc{tag}{n}"
        self.host_if = f"pd{tag}{n}h"[:15]
        self.ns_if = f"pd{tag}{n}n"[:15]
        self.host_ip = f"10.231.{n}.1"
        self.ip = f"10.231.{n}.2"
        self.procs: list[subprocess.Popen[bytes]] = []
        self._added_route = False
        self._up = False

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> NetNS:
        try:
            self.up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def up(self) -> None:
        # leftovers from a crashed earlier run with the same number
        _ip("netns", "del", self.name, check=False)
        _ip("link", "del", self.host_if, check=False)
        routes = _ip("route", "show", "type", "unreachable").stdout
        if "10.231.0.0/16" not in routes:
            _ip("route", "add", *SAFETY_ROUTE)
            self._added_route = True
        _ip("netns", "add", self.name)
        self._up = True
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.name)
        for cmd in (["sysctl", "-qw", f"net.ipv6.conf.{self.host_if}.disable_ipv6=1"],):
            subprocess.run(cmd, check=True, timeout=10)
        self.exec(["sysctl", "-qw", f"net.ipv6.conf.{self.ns_if}.disable_ipv6=1"])
        self.exec(["sysctl", "-qw", "net.ipv6.conf.lo.disable_ipv6=1"])
        _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        self.exec(["ip", "addr", "add", f"{self.ip}/30", "dev", self.ns_if])
        self.exec(["ip", "link", "set", self.ns_if, "up"])
        self.exec(["ip", "link", "set", "lo", "up"])

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()
        if self._up:
            _ip("netns", "del", self.name, check=False)  # also removes the veth pair
            self._up = False
        _ip("link", "del", self.host_if, check=False)
        if self._added_route:
            # another lab that came up meanwhile may rely on the safety route: leave it to them
            others = [ln for ln in _ip("-4", "route").stdout.splitlines() + _ip("-4", "addr").stdout.splitlines()
                      if "10.231." in ln and "unreachable" not in ln]
            if not others:
                _ip("route", "del", *SAFETY_ROUTE, check=False)
            self._added_route = False
        _taken.discard(self.n)

    # -- inside the namespace ----------------------------------------------------------------
    def exec(self, argv: Sequence[str], *, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True,
                              check=check, timeout=30, input=input)

    def spawn(self, argv: Sequence[str], log: str | None = None, **kw: object) -> subprocess.Popen[bytes]:
        """Start a daemon inside the namespace; output goes to `log` (a file) or nowhere, never a pipe
        that could fill up and stall the daemon."""
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            p = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], stdout=out, stderr=out,
                                 start_new_session=True, **kw)  # type: ignore[call-overload]
        finally:
            if log:
                out.close()  # type: ignore[union-attr]
        self.procs.append(p)
        return p

    def nft(self, ruleset: str) -> None:
        self.exec(["nft", "-f", "-"], input=ruleset)

    def drop_policy(self, allow_tcp: Sequence[int] = (), allow_udp: Sequence[int] = ()) -> None:
        """A hardened gateway: everything not allowed is silently dropped (no RST, no ICMP)."""
        tcp = ", ".join(str(p) for p in allow_tcp)
        udp = ", ".join(str(p) for p in allow_udp)
        rules = ["table inet pdisc {", " chain input {", "  type filter hook input priority 0; policy drop;",
                 "  ct state established,related accept", "  iifname lo accept"]
        if tcp:
            rules.append(f"  tcp dport {{ {tcp} }} accept")
        if udp:
            rules.append(f"  udp dport {{ {udp} }} accept")
        rules += [" }", "}"]
        self.nft("\n".join(rules) + "\n")

    def wait_tcp(self, port: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.ip, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nothing listening on {self.ip}:{port} after {timeout}s")
