#!/usr/bin/env python3
"""Benchmark: probe's full discovery vs `nmap -sV -p-` on the same emulated gateway, same run.

Issue 4's acceptance is "full discovery faster than nmap -sV -p-". This script builds a network
namespace (10.231.200-249.0/30, IPv6 off, safety route) running real daemons (lighttpd HTTP+HTTPS,
dropbear, busybox telnetd, mosquitto, vsftpd, dnsmasq, snmpd, miniupnpd), optionally behind an
nftables DROP policy like a hardened gateway, then times:

  1. probe discovery, all 65,535 TCP ports + the profile's UDP ports, with nmap gap-filling (default)
  2. probe discovery with --no-nmap
  3. nmap -sV -p- -n -Pn <ip>   (bounded by --nmap-timeout; reported as ">" if cut off)

and prints the times, what each found, and the ratio. Needs root. Everything it starts is stopped
and the namespace deleted on exit, whatever happens. Not a test: run it by hand.

  sudo .venv/bin/python bench/discovery_bench.py [--no-drop] [--nmap-timeout 900]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: the repository (probe, tests.helpers) is not on the path yet

from probe.discovery import discover  # noqa: E402
from probe.options import DiscoveryOptions, ScanOptions  # noqa: E402
from probe.session import TargetSession  # noqa: E402
from probe.store import EvidenceStore  # noqa: E402
from tests.helpers import gateway as devices  # noqa: E402
from tests.helpers import netns as nslab  # noqa: E402

OPEN_TCP = [21, 22, 23, 53, 80, 443, 1883, 5000]


def run_probe(ip: str, use_nmap: bool) -> tuple[float, list[str], dict[str, object]]:
    session = TargetSession(ip, ScanOptions(discovery=DiscoveryOptions(use_nmap=use_nmap)), EvidenceStore())
    t0 = time.monotonic()
    res = discover(session, tuple(range(1, 65536)), (53, 161, 1900, 5353))
    elapsed = time.monotonic() - t0
    found = [f"{s.port}/{s.transport} {s.protocol}" + (f" {s.product}" if s.product else "")
             + (f" {s.version}" if s.version else "") for s in res.services]
    return elapsed, found, res.stats


def run_nmap(ip: str, timeout: float) -> tuple[float, bool, list[str]]:
    argv = ["nmap", "-sV", "-p-", "-n", "-Pn", ip]
    t0 = time.monotonic()
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout).stdout
        cut = False
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        cut = True
    elapsed = time.monotonic() - t0
    found = [re.sub(r"\s+", " ", ln).strip() for ln in out.splitlines() if re.match(r"^\d+/tcp\s+open", ln)]
    return elapsed, cut, found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-drop", action="store_true", help="closed ports answer RST (no nftables drop policy)")
    ap.add_argument("--nmap-timeout", type=float, default=900.0, help="stop nmap after this many seconds")
    ap.add_argument("--skip-nmap", action="store_true", help="time probe only")
    args = ap.parse_args()
    why = nslab.available()
    if why:
        print(f"discovery_bench: {why}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="probe-bench-") as tmp, nslab.NetNS(tag="b") as ns:
        devices.gateway(ns, Path(tmp))
        if not args.no_drop:
            ns.drop_policy(allow_tcp=OPEN_TCP, allow_udp=[53, 161, 1900])
        print(f"device: {ns.ip} (namespace {ns.name}), open TCP {OPEN_TCP}, UDP 53/161/1900, "
              f"{'DROP policy for everything else' if not args.no_drop else 'closed ports answer RST'}")
        p_time, p_found, p_stats = run_probe(ns.ip, use_nmap=True)
        print(f"\nprobe discovery (SYN sweep 1-65535 + identification + nmap on gaps + UDP): {p_time:.1f} s")
        print(f"  sweep {p_stats.get('sweep_method')} {p_stats.get('sweep_seconds')} s, nmap on ports "
              f"{p_stats.get('nmap_ports')} {p_stats.get('nmap_seconds', 0)} s")
        for f in p_found:
            print("   ", f)
        q_time, q_found, _ = run_probe(ns.ip, use_nmap=False)
        print(f"\nprobe discovery --no-nmap: {q_time:.1f} s ({len(q_found)} services)")
        if args.skip_nmap:
            return 0
        n_time, cut, n_found = run_nmap(ns.ip, args.nmap_timeout)
        shown = f">{n_time:.0f}" if cut else f"{n_time:.1f}"
        print(f"\nnmap -sV -p- -n -Pn: {shown} s{' (stopped at --nmap-timeout)' if cut else ''}")
        for f in n_found:
            print("   ", f)
        print(f"\nratio nmap / probe: {'>' if cut else ''}{n_time / p_time:.1f}x  "
              f"(--no-nmap: {'>' if cut else ''}{n_time / q_time:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
