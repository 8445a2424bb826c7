#!/usr/bin/env python3
"""How much a change grows probe's default run time: the same lab device, two probe builds, alternated.

    sudo python3 bench/growth_bench.py --baseline-python /usr/bin/python3 [--runs 3] [--variant weak-gateway]

Brings up one lab variant (network namespace on 10.231.0.0/16, nothing leaves the machine), then
runs `probe run --profile <the variant's profile>` with default options alternately through
`--baseline-python` (an interpreter whose `import probe` is the build to compare against, e.g. the
main checkout) and through this interpreter (this tree), `--runs` times each, each through GNU
time (wall, CPU, peak RSS). Prints and writes the medians and the growth ratio to a dated file in
bench/results/. Alternating spreads the machine's background load over both builds alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from probe.lab import manager  # noqa: E402
from probe.lab.measure import run_measured  # noqa: E402


def run_once(python: str, address: str, profile: str, out: Path) -> tuple[float, float, float, int]:
    argv = [python, "-m", "probe", "run", "--target", address, "--profile", profile, "--out", str(out), "--quiet"]
    m = run_measured(argv, timeout=900, cwd="/")  # not the repository: `import probe` is the interpreter's own
    findings = len(json.loads(out.read_text())["findings"]) if out.exists() else -1
    return m.wall, m.cpu, m.peak_rss_kb / 1024, findings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-python", required=True, help="interpreter that imports the baseline probe")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--variant", default="weak-gateway")
    ap.add_argument("--instance", type=int, default=233)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    dev = manager.up([args.variant], args.instance)[0]
    rows: dict[str, list[tuple[float, float, float, int]]] = {"baseline": [], "this tree": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.runs):
                for name, python in (("baseline", args.baseline_python), ("this tree", sys.executable)):
                    r = run_once(python, dev.address, dev.profile, Path(tmp) / f"{name}-{i}.json")
                    rows[name].append(r)
                    print(f"{name} run {i + 1}: wall {r[0]:.1f} s, cpu {r[1]:.1f} s, peak {r[2]:.0f} MB, "
                          f"{r[3]} findings", flush=True)
    finally:
        manager.down(args.instance)
    med = {k: [statistics.median(x[j] for x in v) for j in range(3)] for k, v in rows.items()}
    ratio = med["this tree"][0] / med["baseline"][0]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, timeout=30).stdout.strip()
    lines = [f"# Run-time growth on {args.variant} ({time.strftime('%Y-%m-%d')}, this tree {commit})", "",
             f"`probe run --profile {dev.profile}`, default options, {args.runs} alternated runs each, medians.", "",
             "| build | wall (s) | CPU (s) | peak RSS (MB) | runs (wall) |", "|---|---|---|---|---|"]
    for k, v in rows.items():
        lines.append(f"| {k} | {med[k][0]:.1f} | {med[k][1]:.1f} | {med[k][2]:.0f} | "
                     f"{', '.join(f'{x[0]:.1f}' for x in v)} |")
    lines += ["", f"Growth (this tree / baseline, wall): **{ratio:.2f}**", ""]
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{time.strftime('%Y-%m-%d')}-growth-{args.variant}.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
