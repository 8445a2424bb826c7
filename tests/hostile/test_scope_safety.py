"""Scope safety: during a full `probe run`, no packet goes to any address but the target.

Set-up (all created and removed by this test):

    [ns scanner]  pss<N> 10.231.N.1/30  ====veth====  psd<N> 10.231.N.2/30  [ns device]
      default route via 10.231.N.2                    hostile servers + busybox telnetd

probe runs inside the scanner namespace, whose only non-loopback interface is the veth and whose
default route points down it. So a stray packet to ANY address (another host, a DNS server,
broadcast, multicast, another lab) is routed onto the veth and captured there, instead of
silently following the machine's own default route where a capture on the root namespace's
interfaces would have to separate it from other traffic on a shared machine. The device
namespace has no other interface and no forwarding, so nothing goes further. IPv6 is disabled
on both ends (no router solicitations or DAD noise). tcpdump captures everything on the veth;
every IPv4 packet must be scanner<->target, every ARP must be about those two addresses, and
nothing else may appear at all.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.output.evidence import validate

from .conftest import REPO

SERVERS = ("ftp-markup", "telnet-markup", "ssh-banner-only", "http-markup", "tls-malformed-cert")


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=30)


def _free_octet() -> int:
    used = sh("ip", "-4", "-o", "addr").stdout + sh("ip", "-4", "route").stdout
    for _ in range(200):
        n = random.randint(100, 199)
        if f"10.231.{n}." not in used:
            return n
    pytest.fail("no free 10.231.N.0/30 for the scope test")


@pytest.fixture
def isolated_pair(tmp_path: Path) -> Iterator[dict[str, str]]:
    n = _free_octet()
    tag = f"{n}{os.getpid() % 1000}"
    ns_scan, ns_dev = f"probe-scope-s{tag}", f"probe-scope-d{tag}"
    if_scan, if_dev = f"pss{tag}"[:15], f"psd{tag}"[:15]
    scan_ip, dev_ip = f"10.231.{n}.1", f"10.231.{n}.2"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sh("ip", "netns", "add", ns_scan)
        sh("ip", "netns", "add", ns_dev)
        sh("ip", "link", "add", if_scan, "netns", ns_scan, "type", "veth", "peer", "name", if_dev, "netns", ns_dev)
        for ns, ifname, ip in ((ns_scan, if_scan, scan_ip), (ns_dev, if_dev, dev_ip)):
            sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
            sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", ifname)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", ifname, "up")
        sh("ip", "-n", ns_scan, "route", "add", "default", "via", dev_ip)
        yield {"ns_scan": ns_scan, "ns_dev": ns_dev, "if_scan": if_scan, "scan_ip": scan_ip, "dev_ip": dev_ip,
               "tmp": str(tmp_path)}
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
        sh("ip", "netns", "del", ns_scan, check=False)
        sh("ip", "netns", "del", ns_dev, check=False)


def _start(argv: list[str], **kw) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, start_new_session=True, cwd=REPO, **kw)


def _stop(p: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if p.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, sig)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def test_full_scan_sends_nothing_to_any_other_address(isolated_pair: dict[str, str]) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import ARP
    from scapy.utils import rdpcap

    env = isolated_pair
    tmp = Path(env["tmp"])
    pcap, out = tmp / "veth.pcap", tmp / "evidence.json"
    links = sh("ip", "-n", env["ns_scan"], "-o", "link").stdout
    assert sorted(ln.split(":")[1].strip().split("@")[0] for ln in links.splitlines()) == sorted(["lo", env["if_scan"]])

    serve = [a for i, name in enumerate(SERVERS) for a in ("--serve", f"{name}:{2000 + i}")]
    device = _start(["ip", "netns", "exec", env["ns_dev"], sys.executable, "-m", "probe.hostile", "--bind",
                     env["dev_ip"], "--allow-non-loopback", *serve], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    telnetd = _start(["ip", "netns", "exec", env["ns_dev"], "busybox", "telnetd", "-F", "-p", "23", "-b",
                      f"{env['dev_ip']}:23", "-l", "/bin/false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    capture = _start(["ip", "netns", "exec", env["ns_scan"], "tcpdump", "-i", env["if_scan"], "-n", "-U", "-s", "128",
                      "-w", str(pcap)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert device.stdout is not None and b"ready" in device.stdout.readline() + b"".join(
            device.stdout.readline() for _ in range(len(SERVERS)))
        deadline = time.monotonic() + 10
        while not pcap.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        start = time.monotonic()
        r = subprocess.run(["ip", "netns", "exec", env["ns_scan"], sys.executable, "-m", "probe", "run",
                            "--target", env["dev_ip"], "--profile", "home-gateway", "--out", str(out),
                            "--max-time", "90", "--timeout", "2", "--credential-budget", "3", "--quiet"], capture_output=True, text=True, timeout=180, cwd=REPO)
        elapsed = time.monotonic() - start
        time.sleep(1.0)  # let late replies and resets land in the capture
    finally:
        _stop(capture, signal.SIGINT)
        _stop(device)
        _stop(telnetd)
    assert r.returncode in (1, 4), r.stderr
    assert elapsed < 120
    doc = json.loads(out.read_text())
    validate(doc)
    assert doc["discovery"][env["dev_ip"]]["stats"]["tcp_ports_scanned"] == 65535  # a full sweep
    assert {s["port"] for s in doc["services"]} >= {23} | {2000 + i for i in range(len(SERVERS))}

    scanner, target = env["scan_ip"], env["dev_ip"]
    pkts = rdpcap(str(pcap))
    assert len(pkts) > 65535, f"capture saw only {len(pkts)} packets: the sweep alone sends one SYN per port"
    strays, syns = [], set()
    for p in pkts:
        if IP in p:
            pair = (p[IP].src, p[IP].dst)
            if pair not in ((scanner, target), (target, scanner)):
                strays.append(p.summary())
            elif TCP in p and p[IP].src == scanner and p[TCP].flags & 0x02:
                syns.add(p[TCP].dport)
        elif ARP in p:
            if {p[ARP].psrc, p[ARP].pdst} - {scanner, target}:
                strays.append(p.summary())
        else:
            strays.append(p.summary())  # IPv6, LLDP, anything else: nothing else may appear
    assert not strays, f"{len(strays)} packet(s) not between scanner and target: {strays[:10]}"
    assert len(syns) == 65535  # every port was probed, and only on the target
    assert ipaddress.ip_address(target) in ipaddress.ip_network(f"{scanner}/30", strict=False)
