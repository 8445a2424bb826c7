#!/usr/bin/env python3
"""Where a scan's time goes, before and after a change: two probe installs, the same lab devices.

    sudo python3 bench/ab_timings.py --a "python3 -m probe" --b ".venv/bin/probe" \
        [--variants weak-gateway consumer-router hardened-gateway] [--rounds 2] [--out FILE.md]

For each round the lab is brought up afresh (instance 243, 10.231.243.0/24: nothing leaves the
machine), then every variant is scanned by A and by B alternately (A first in odd rounds, B first
in even ones, so a load change on a shared machine hits both alike), the device's login state
forgotten before each scan (the hardened admin locks a client out), the lab CA given to every
scan (--ca-file) so both builds judge the same certificates. Per scan: wall time, the
sweep, identification (TCP and UDP together) and check phases from `discovery.stats` and
`run.timings`, the slowest check job, and whether every clause verdict and every finding's status
is the same in A and B. Prints a Markdown table (medians over rounds) and writes it to --out.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from probe.lab import LabDevice, down, reset_login_state, up

INSTANCE = 243
SCAN_TIMEOUT = 600


def scan(cmd: str, dev: LabDevice, out: Path) -> dict[str, Any]:
    argv = [*shlex.split(cmd), "run", "--target", dev.address, "--profile", "home-gateway", "--quiet",
            "--out", str(out), "--ca-file", str(dev.ca_cert)]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=SCAN_TIMEOUT, cwd=tempfile.gettempdir())
    wall = time.monotonic() - started
    if not out.exists():
        raise RuntimeError(f"{cmd}: no evidence written (exit {proc.returncode}): {proc.stderr[-2000:]}")
    doc = json.loads(out.read_text())
    disc = doc["discovery"]
    stats = (next(iter(disc.values())) if isinstance(disc, dict) else disc[0])["stats"]
    timings = doc["run"]["timings"]
    ends = [t.get("started_s", 0.0) + t["seconds"] for t in timings]
    starts = [t.get("started_s", 0.0) for t in timings]
    slowest = max(timings, key=lambda t: t["seconds"])
    return {
        "wall": wall, "sweep": stats.get("sweep_seconds", 0.0), "identify": stats.get("identify_seconds", 0.0),
        "checks": (max(ends) - min(starts)) if "started_s" in timings[0] else None,
        "slowest": f"{slowest['check']}:{slowest['port']} {slowest['seconds']:.1f}s",
        "verdicts": sorted((c["id"], c["verdict"]) for c in doc["clauses"]),
        "findings": sorted((f["check_id"], f["port"] or 0, f["status"]) for f in doc["findings"]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="command that runs probe A (before), e.g. 'python3 -m probe'")
    ap.add_argument("--b", required=True, help="command that runs probe B (after)")
    ap.add_argument("--variants", nargs="+", default=["weak-gateway", "consumer-router", "hardened-gateway"])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    work = Path(tempfile.mkdtemp(prefix="probe-ab-"))
    for r in range(args.rounds):
        down(INSTANCE)
        devices = {d.name: d for d in up(args.variants, instance=INSTANCE)}
        try:
            for name in args.variants:
                order = ("a", "b") if r % 2 == 0 else ("b", "a")
                for who in order:
                    reset_login_state(devices[name])
                    res = scan(getattr(args, who), devices[name], work / f"{name}-{who}-{r}.json")
                    runs.setdefault((name, who), []).append(res)
                    print(f"round {r + 1} {name} {who}: {res['wall']:.1f}s", file=sys.stderr)
        finally:
            down(INSTANCE)
    lines = ["| variant | run | wall s | sweep s | identify s | checks s | slowest check job | same verdicts as A |",
             "|---|---|---|---|---|---|---|---|"]
    for name in args.variants:
        for who in ("a", "b"):
            rs = runs[(name, who)]
            med = {k: statistics.median(x[k] for x in rs) for k in ("wall", "sweep", "identify")}
            checks = [x["checks"] for x in rs if x["checks"] is not None]
            same = "—" if who == "a" else ("yes" if all(
                x["verdicts"] == y["verdicts"] and x["findings"] == y["findings"]
                for x, y in zip(runs[(name, "a")], rs, strict=True)) else "NO")
            lines.append(f"| {name} | {who.upper()} | {med['wall']:.1f} | {med['sweep']:.1f} | {med['identify']:.1f} | "
                         f"{statistics.median(checks):.1f} | {rs[-1]['slowest']} | {same} |" if checks else
                         f"| {name} | {who.upper()} | {med['wall']:.1f} | {med['sweep']:.1f} | {med['identify']:.1f} | "
                         f"— | {rs[-1]['slowest']} | {same} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    diffs = [(n, x["findings"], y["findings"]) for n in args.variants
             for x, y in zip(runs[(n, "a")], runs[(n, "b")], strict=True) if x["findings"] != y["findings"]]
    for n, fa, fb in diffs:
        print(f"{n}: findings differ: A-only {sorted(set(fa) - set(fb))} B-only {sorted(set(fb) - set(fa))}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
