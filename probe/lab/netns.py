"""Network plumbing for lab devices: namespaces, veth links, the lab's safety route, processes.

Addresses: device k of instance i gets the /30 10.231.i.(4k)/30; the host end is .4k+1 and the
device end .4k+2. The namespace has no default route, IPv6 is off on both ends, and the root
namespace holds `unreachable 10.231.0.0/16 metric 4000` while any lab is up, so a mistyped lab
address fails locally instead of leaving the machine.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import time
from pathlib import Path

from probe.lab.sysexec import run

LAB_PREFIX = "10.231.0.0/16"
SAFETY_ROUTE = ["unreachable", LAB_PREFIX, "metric", "4000"]
MAX_INSTANCE = 254  # 10.231.255.0/24 is reserved for the devices' inner WAN links
MAX_DEVICES = 64  # /30 slots in one /24
DEVICE_IF = "eth0"


def ns_prefix(instance: int) -> str:
    """Namespace and host-link name prefix of an instance; the dash keeps pl1- apart from pl12-."""
    return f"pl{instance}-"


def addresses(instance: int, index: int) -> tuple[str, str]:
    """(host address, device address) of device `index` in `instance`."""
    if not 0 <= instance <= MAX_INSTANCE:
        raise ValueError(f"lab instance must be 0-{MAX_INSTANCE}")
    if not 0 <= index < MAX_DEVICES:
        raise ValueError(f"at most {MAX_DEVICES} devices per lab instance")
    base = int(ipaddress.IPv4Address(f"10.231.{instance}.0")) + 4 * index
    return str(ipaddress.IPv4Address(base + 1)), str(ipaddress.IPv4Address(base + 2))


def wan_address(instance: int, index: int) -> str:
    """Address of a device's stand-in WAN link (only visible inside its namespace)."""
    return f"10.231.255.{(index % 250) + 1}"


def list_namespaces() -> list[str]:
    out = run(["ip", "netns", "list"], check=False).stdout.decode()
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def list_links() -> list[str]:
    out = run(["ip", "-o", "link", "show"], check=False).stdout.decode()
    names = []
    for line in out.splitlines():
        m = re.match(r"\d+:\s+([^:@\s]+)", line)
        if m:
            names.append(m.group(1))
    return names


def create_device_link(namespace: str, host_if: str, host_addr: str, dev_addr: str) -> None:
    """Namespace + veth pair with addresses; IPv6 off on both ends before the links come up."""
    run(["ip", "netns", "add", namespace])
    run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", DEVICE_IF, "netns", namespace])
    Path(f"/proc/sys/net/ipv6/conf/{host_if}/disable_ipv6").write_text("1\n")
    run(["ip", "netns", "exec", namespace, "sysctl", "-q", "-w",
         "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
         f"net.ipv6.conf.{DEVICE_IF}.disable_ipv6=1", "net.ipv6.conf.lo.disable_ipv6=1"])
    run(["ip", "addr", "add", f"{host_addr}/30", "dev", host_if])
    run(["ip", "link", "set", host_if, "up"])
    run(["ip", "-n", namespace, "addr", "add", f"{dev_addr}/30", "dev", DEVICE_IF])
    run(["ip", "-n", namespace, "link", "set", "lo", "up"])
    run(["ip", "-n", namespace, "link", "set", DEVICE_IF, "up"])


def add_wan_link(namespace: str, address: str, name: str = "wan0") -> None:
    """A stand-in 'WAN' interface inside the namespace, for daemons (miniupnpd) that need one.

    A veth pair with both ends in the namespace (the kernel here has no dummy driver): it carries
    nothing anywhere, it only gives the daemon an interface with an address.
    """
    run(["ip", "-n", namespace, "link", "add", name, "type", "veth", "peer", "name", f"{name}p"])
    run(["ip", "-n", namespace, "link", "set", f"{name}p", "up"])
    run(["ip", "-n", namespace, "addr", "add", f"{address}/32", "dev", name])
    run(["ip", "-n", namespace, "link", "set", name, "up"])


def safety_route_present() -> bool:
    out = run(["ip", "route", "show", "exact", LAB_PREFIX], check=False).stdout.decode()
    return any(line.startswith("unreachable") for line in out.splitlines())


def add_safety_route() -> bool:
    """Add the unreachable route unless present; True when this call added it."""
    if safety_route_present():
        return False
    run(["ip", "route", "add", *SAFETY_ROUTE])
    return True


def remove_safety_route() -> None:
    run(["ip", "route", "del", *SAFETY_ROUTE], check=False)


def namespace_pids(namespace: str) -> list[int]:
    out = run(["ip", "netns", "pids", namespace], check=False).stdout.decode()
    return [int(x) for x in out.split() if x.isdigit()]


def process_start_time(pid: int) -> int | None:
    """Kernel start time (clock ticks) of a process, to tell a PID from a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: fields start after the last ')'
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def alive(pid: int, start: int | None = None) -> bool:
    st = process_start_time(pid)
    return st is not None and (start is None or st == start)


def sees_own_accounts(pid: int) -> bool | None:
    """Does a device daemon still see its device's /etc/shadow (None: the process is gone)?

    `ip netns exec` bind-mounts /etc/netns/<ns>/shadow over /etc/shadow for what it starts. When
    the host's /etc/shadow is replaced while the lab is up (a package install that adds a user
    renames a new file over it), the kernel detaches that mount in every other mount namespace:
    the daemons then check logins against the host's accounts and refuse every device password.
    """
    try:
        mounts = Path(f"/proc/{pid}/mountinfo").read_text()
    except OSError:
        return None
    return any(len(f) > 4 and f[4] == "/etc/shadow" for f in (line.split() for line in mounts.splitlines()))


def reap(pid: int) -> None:
    """Collect a child that we started in this process, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def kill_pids(pids: list[tuple[int, int | None]], grace: float = 3.0) -> None:
    """SIGTERM, wait (bounded), then SIGKILL whatever is left; only PIDs whose start time matches."""
    targets = [(p, s) for p, s in pids if alive(p, s)]
    for pid, _ in targets:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for pid, _ in targets:
            reap(pid)
        if not any(alive(p, s) for p, s in targets):
            return
        time.sleep(0.05)
    for pid, s in targets:
        if alive(pid, s):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p, s) for p, s in targets):
        for pid, _ in targets:
            reap(pid)
        time.sleep(0.05)


def delete_namespace(namespace: str) -> None:
    """Kill every process still inside the namespace, then delete it (its veth end goes with it)."""
    if namespace in list_namespaces():
        kill_pids([(p, None) for p in namespace_pids(namespace)])
        run(["ip", "netns", "del", namespace], check=False)


def delete_link(name: str) -> None:
    if name in list_links():
        run(["ip", "link", "del", name], check=False)
