#!/usr/bin/env python3
"""Benchmark: the TCP sweep alone, 1-65535, on lab gateways: probe's adaptive SYN sweep, the fixed
10,000 packets/s sweep it replaced (from another checkout, optional), and `nmap -sS -p-`.

Brings up the lab variants (network namespaces on 10.231.0.0/16: nothing leaves the machine), then
for each device times, `--runs` times each (medians reported):

  1. probe's SYN sweep at the default ceiling (probe.discovery.syn_scan.syn_sweep)
  2. the same sweep at other ceilings (--ceilings), to show where the machine, not the device, limits
  3. the sweep of another checkout (--before PATH: e.g. the main branch before the adaptive sweep),
     run with that checkout's defaults in a child interpreter
  4. nmap -n -Pn -sS -p- <address>

and, with --full-runs N, a whole default `probe run` (the variant's profile, as a user runs it) from
this checkout and from --before, so what the sweep changes in a run's time shows too. It writes
a Markdown table (ports found, packets, rate reached, cuts, seconds) to --out. Needs
root. Not a test: run it by hand.

  sudo .venv/bin/python bench/sweep_bench.py --before /path/to/old/checkout
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: the repository is not on the path yet

from probe.discovery.syn_scan import syn_stats, syn_sweep  # noqa: E402
from probe.options import DEFAULT_MAX_RATE  # noqa: E402

INSTANCE = 175  # lab instance number used by this bench (bench.py uses 180..196)
OLD_SWEEP = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from probe.discovery import syn_scan
t = time.monotonic()
r = syn_scan.syn_sweep(sys.argv[2], range(1, 65536))
seconds = time.monotonic() - t
stats = syn_scan.syn_stats(r) if hasattr(syn_scan, "syn_stats") else {}
print(json.dumps({"seconds": seconds, "open": list(r.open_ports), "packets": r.packets_sent, **stats}))
"""


def variant_profile(name: str) -> str:
    from probe.lab.variants import load_variant
    return str(load_variant(name).profile)


def new_sweep(addr: str, ceiling: int) -> dict[str, Any]:
    t = time.monotonic()
    r = syn_sweep(addr, range(1, 65536), max_rate=ceiling)
    return {"seconds": time.monotonic() - t, "open": r.open_ports, "packets": r.packets_sent, **syn_stats(r)}


def old_sweep(addr: str, checkout: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", OLD_SWEEP, str(checkout), addr], capture_output=True, text=True,
                         timeout=300, check=True, cwd="/")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def nmap_sweep(addr: str) -> dict[str, Any]:
    t = time.monotonic()
    out = subprocess.run(["nmap", "-n", "-Pn", "-sS", "-p-", addr], capture_output=True, text=True, timeout=600).stdout
    seconds = time.monotonic() - t
    return {"seconds": seconds, "open": [int(m.group(1)) for m in re.finditer(r"^(\d+)/tcp\s+open", out, re.M)]}


def full_run(addr: str, profile: str, python: str, cwd: Path, ca: str | None, out: Path) -> dict[str, Any]:
    argv = [python, "-m", "probe", "run", "--target", addr, "--profile", profile, "--out", str(out), "--quiet"]
    argv += ["--ca-file", ca] if ca else []
    t = time.monotonic()
    subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=cwd)
    seconds = time.monotonic() - t
    doc = json.loads(out.read_text())
    st = doc["discovery"][addr]["stats"]
    return {"seconds": seconds, "open": sorted(s["port"] for s in doc["services"] if s["transport"] == "tcp"),
            "packets": st.get("packets_sent", ""), "sweep": st.get("sweep_seconds"),
            "verdicts": {c["id"]: c["verdict"] for c in doc.get("clauses", [])}}


def median_run(fn: Callable[[], dict[str, Any]], runs: int) -> tuple[float, dict[str, Any]]:
    results = [fn() for _ in range(runs)]
    secs = [float(r["seconds"]) for r in results]
    med = statistics.median(secs)
    return med, min(results, key=lambda r: abs(float(r["seconds"]) - med))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=["weak-gateway", "hardened-gateway"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ceilings", type=int, nargs="*", default=[10_000, 100_000],
                    help="other --max-rate values to time besides the default")
    ap.add_argument("--before", type=Path, default=None, help="a checkout whose (older) sweep to time as well")
    ap.add_argument("--full-runs", type=int, default=0, help="also time N whole default `probe run`s per device")
    ap.add_argument("--out", type=Path, default=None, help="Markdown results file (default: print only)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("sweep_bench: needs root (the lab uses network namespaces, the sweep raw sockets)", file=sys.stderr)
        return 2
    from probe.lab import manager

    full = ["| device | run | s (median) | sweep s | open TCP ports |", "|---|---|---|---|---|"]
    rows = ["| device | sweep | s (median) | open ports found | packets | rate reached / mean pps | cuts | lost |",
            "|---|---|---|---|---|---|---|---|"]
    try:
        for dev in manager.up(args.variants, instance=INSTANCE):
            addr = dev.address
            runs: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                (f"probe adaptive, --max-rate {DEFAULT_MAX_RATE:,} (default)",
                 partial(new_sweep, addr, DEFAULT_MAX_RATE))]
            runs += [(f"probe adaptive, --max-rate {c:,}", partial(new_sweep, addr, c)) for c in args.ceilings]
            if args.before:
                runs.append((f"probe before ({args.before.name}, its default ceiling)",
                             partial(old_sweep, addr, args.before)))
            runs.append(("nmap -sS -p-", partial(nmap_sweep, addr)))
            for name, fn in runs:
                med, r = median_run(fn, args.runs)
                rate = f"{r['rate_reached_pps']:,} / {r['mean_rate_pps']:,}" if "rate_reached_pps" in r else ""
                row = (f"| {dev.name} | {name} | {med:.2f} | {r['open']} | {r.get('packets', '')} | {rate} | "
                       f"{r.get('rate_cuts', '')} | {r.get('answered_after_retransmit', '')} |")
                rows.append(row)
                print(row, flush=True)
            if args.full_runs:
                profile = variant_profile(dev.name)
                verdicts: dict[str, dict[str, str]] = {}
                builds: list[tuple[str, str, Path]] = [("this checkout", sys.executable, REPO)]
                if args.before:
                    builds.append((args.before.name, "python3", args.before))
                for label, python, cwd in builds:
                    out = Path(f"/tmp/sweep-bench-{dev.name}-{label.replace(' ', '-')}.json")
                    med, r = median_run(partial(full_run, addr, profile, python, cwd, dev.ca_cert, out),
                                        args.full_runs)
                    verdicts[label] = r["verdicts"]
                    full.append(f"| {dev.name} | `probe run --profile {profile}` ({label}) | {med:.1f} | "
                                f"{r['sweep']} | {r['open']} |")
                    print(full[-1], flush=True)
                if len(verdicts) == 2:
                    a, b = verdicts.values()
                    changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                    full.append(f"| {dev.name} | clause verdicts that differ between the two | | | "
                                f"{', '.join(changed) or 'none'} |")
    finally:
        manager.down(instance=INSTANCE)
    text = "\n".join(rows) + ("\n\n" + "\n".join(full) if len(full) > 2 else "")
    if args.out:
        head = (f"# TCP sweep benchmark {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}\n\n"
                f"`{' '.join(sys.argv)}`; {args.runs} runs per row, median seconds (the row shown is the run "
                "closest to the median).\n\n")
        args.out.write_text(head + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
