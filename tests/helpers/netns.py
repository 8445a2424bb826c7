"""Throw-away network namespaces for tests (and the discovery benchmark), on subnets no one else uses.

Subnets: 10.231.N.0 with N reserved through `reserve_octet`: a lock file per N, held (flock) for as
long as the namespace exists, so parallel test processes on this machine never pick the same N, and
a lock dies with its process, so a crashed run frees its numbers. An N whose addresses or routes
already exist in the root namespace, or that a `probe lab` instance has a state file for, is
someone else's and is skipped, never swept.

`NetNS`: one namespace + one veth pair to the root namespace, /30, IPv6 off on both ends, no
default route inside, and the lab-wide `unreachable 10.231.0.0/16` safety route in the root
namespace (added only when absent, removed only by whoever added it and only when no other
10.231 address is left). `NetNSPair`: two namespaces joined by one veth, with no link to the root
namespace at all. Everything is deleted in `close()`, which the context managers always call;
processes started with `spawn()` are killed first (their whole process group).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from probe.lab import state
from tests.helpers.ports import wait_tcp

SAFETY_ROUTE = ["unreachable", "10.231.0.0/16", "metric", "4000"]
LOCK_DIR = Path("/run/lock/probe-tests")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


def available() -> str | None:
    """None if namespaces can be used here, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, raw sockets)"
    if shutil.which("ip") is None:
        return "iproute2 is not installed"
    return None


class Reservation:
    """10.231.N reserved for this process until `release()` (or the process ends)."""

    def __init__(self, octet: int, fd: int) -> None:
        self.octet = octet
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def in_use(octet: int) -> bool:
    """Does anything in the root namespace (addresses, routes) or a probe lab instance use 10.231.N?"""
    seen = _ip("-4", "addr").stdout + _ip("-4", "route", "show", "table", "all").stdout
    return f"10.231.{octet}." in seen or state.state_path(octet).exists()


def reserve_octet(candidates: Iterable[int]) -> Reservation:
    """The first N of `candidates` no other test process holds and nothing else uses."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    for n in candidates:
        fd = os.open(LOCK_DIR / f"10.231.{n}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if in_use(n):
            os.close(fd)
            continue
        return Reservation(n, fd)
    raise RuntimeError("no free 10.231.N subnet for a test namespace")


def reserve_lab_instance() -> Reservation:
    """A `probe lab` instance number for this test process (its devices live on 10.231.<N>.0/24)."""
    return reserve_octet(spread(20, 199))


def spread(lo: int, hi: int) -> list[int]:
    """lo..hi starting at a place that depends on the PID, so parallel processes rarely collide."""
    span = hi - lo + 1
    start = os.getpid() % span
    return [lo + (start + i) % span for i in range(span)]


class _Namespaces:
    """Process and namespace bookkeeping shared by NetNS and NetNSPair."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.namespaces: list[str] = []
        self.reservation: Reservation | None = None

    def __enter__(self) -> Any:
        try:
            self.up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def up(self) -> None:
        raise NotImplementedError

    def add_namespace(self, name: str) -> None:
        _ip("netns", "del", name, check=False)  # a leftover of a crashed run holding the same reservation
        _ip("netns", "add", name)
        self.namespaces.append(name)

    def run_in(self, ns: str, argv: Sequence[str], *, check: bool = True,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=check,
                              timeout=30, input=input)

    def spawn_in(self, ns: str, argv: Sequence[str], log: Path | str | None = None,
                 **kw: Any) -> subprocess.Popen[bytes]:
        """Start a daemon inside `ns`; output goes to `log` (a file) or nowhere, never a pipe that
        could fill up and stall the daemon."""
        with open(log, "ab") if log else open(os.devnull, "ab") as out:
            p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=out, stderr=out,
                                 start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop_processes(self) -> None:
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

    def close(self) -> None:
        self.stop_processes()
        for name in reversed(self.namespaces):
            _ip("netns", "del", name, check=False)  # also removes veth ends inside it
        self.namespaces.clear()
        if self.reservation is not None:
            self.reservation.release()
            self.reservation = None


class NetNS(_Namespaces):
    """A device namespace on 10.231.N.2/30, reached from the root namespace's 10.231.N.1."""

    def __init__(self, tag: str = "d", octets: Iterable[int] | None = None) -> None:
        super().__init__()
        self.tag = tag
        self._octets = octets
        self.n = -1
        self.name = self.host_if = self.ns_if = self.host_ip = self.ip = ""
        self._added_route = False

    def __enter__(self) -> NetNS:
        result: NetNS = super().__enter__()
        return result

    def up(self) -> None:
        self.reservation = reserve_octet(self._octets if self._octets is not None else spread(200, 249))
        n = self.n = self.reservation.octet
        self.name = f"pdisc{self.tag}{n}"
        self.host_if = f"pd{self.tag}{n}h"[:15]
        self.ns_if = f"pd{self.tag}{n}n"[:15]
        self.host_ip, self.ip = f"10.231.{n}.1", f"10.231.{n}.2"
        _ip("link", "del", self.host_if, check=False)
        routes = _ip("route", "show", "type", "unreachable").stdout
        if "10.231.0.0/16" not in routes:
            _ip("route", "add", *SAFETY_ROUTE)
            self._added_route = True
        self.add_namespace(self.name)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.name)
        subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{self.host_if}.disable_ipv6=1"], check=True, timeout=10)
        self.exec(["sysctl", "-qw", f"net.ipv6.conf.{self.ns_if}.disable_ipv6=1"])
        self.exec(["sysctl", "-qw", "net.ipv6.conf.lo.disable_ipv6=1"])
        _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        self.exec(["ip", "addr", "add", f"{self.ip}/30", "dev", self.ns_if])
        self.exec(["ip", "link", "set", self.ns_if, "up"])
        self.exec(["ip", "link", "set", "lo", "up"])

    def close(self) -> None:
        super().close()  # processes, the namespace, and with it the veth pair
        if self.host_if:
            _ip("link", "del", self.host_if, check=False)
        if self._added_route:
            # another lab that came up meanwhile may rely on the safety route: leave it to them
            others = [ln for ln in _ip("-4", "route").stdout.splitlines() + _ip("-4", "addr").stdout.splitlines()
                      if "10.231." in ln and "unreachable" not in ln]
            if not others:
                _ip("route", "del", *SAFETY_ROUTE, check=False)
            self._added_route = False

    # -- inside the namespace ----------------------------------------------------------------
    def exec(self, argv: Sequence[str], *, check: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.run_in(self.name, argv, check=check, input=input)

    def spawn(self, argv: Sequence[str], log: Path | str | None = None, **kw: Any) -> subprocess.Popen[bytes]:
        return self.spawn_in(self.name, argv, log, **kw)

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
        wait_tcp(port, self.ip, timeout)


class NetNSPair(_Namespaces):
    """A scanner namespace (10.231.N.1, default route down the veth) and a device namespace
    (10.231.N.2), joined by one veth and nothing else: whatever the scanner sends, to any address,
    goes down that veth, where a capture sees it."""

    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag
        self.scanner_ns = self.device_ns = self.scanner_if = self.device_if = ""
        self.scanner_ip = self.device_ip = ""

    def __enter__(self) -> NetNSPair:
        result: NetNSPair = super().__enter__()
        return result

    def up(self) -> None:
        self.reservation = reserve_octet(spread(100, 199))
        n = self.reservation.octet
        self.scanner_ns, self.device_ns = f"probe-{self.tag}-s{n}", f"probe-{self.tag}-d{n}"
        self.scanner_if, self.device_if = f"p{self.tag}s{n}"[:15], f"p{self.tag}d{n}"[:15]
        self.scanner_ip, self.device_ip = f"10.231.{n}.1", f"10.231.{n}.2"
        self.add_namespace(self.scanner_ns)
        self.add_namespace(self.device_ns)
        _ip("link", "add", self.scanner_if, "netns", self.scanner_ns, "type", "veth", "peer", "name",
            self.device_if, "netns", self.device_ns)
        for ns, ifname, ip in ((self.scanner_ns, self.scanner_if, self.scanner_ip),
                               (self.device_ns, self.device_if, self.device_ip)):
            self.run_in(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"])
            self.run_in(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"])
            _ip("-n", ns, "addr", "add", f"{ip}/30", "dev", ifname)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", ifname, "up")
        _ip("-n", self.scanner_ns, "route", "add", "default", "via", self.device_ip)
