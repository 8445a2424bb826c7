#!/usr/bin/env python3
"""Benchmark probe against the tools labs use today, on the same lab targets, in the same run.

    sudo python3 bench/bench.py [--runs 3] [--skip-scaling] [--out bench/results]

Brings up the device lab (network namespaces on 10.231.0.0/16, nothing leaves the machine),
then for each gateway variant times, as child processes measured through GNU time:

  probe     probe run --profile home-gateway (all TCP ports, UDP services, every safe check),
            once as shipped (a service's credential trials stop at the first proven login) and
            once with --credential-scope accounts (every account with a default password)
  nmap      nmap -n -Pn -sV -p-          and   nmap -n -Pn -sV -p- -T4
  sslyze    on every TLS port probe found (installed in its own venv: bench/.venv-anchors)
  ssh-audit on every SSH port
  hydra     the same default-credential pairs probe tries, on the same login services: with -f
            (stop at the first found pair, like probe's default) and without (all pairs, like
            --credential-scope accounts)

and prints wall time, CPU time and peak RSS (medians of --runs), the ratios probe/nmap and
probe/(sum of anchors) pairing each probe mode with the hydra mode that does the same work, each
against issue 7's targets, then a scaling run (1, 4, 16 devices in one `probe run`). Results go
to a dated Markdown file with the machine description. Absolute times depend on the machine; the
README quotes ratios only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from probe.lab.measure import run_measured

REPO = Path(__file__).resolve().parent.parent
ANCHOR_VENV = REPO / "bench" / ".venv-anchors"
BENCH_INSTANCE_BASE = 180  # lab instance numbers used by the bench (180..196)
CMD_TIMEOUT = 900  # no single measured command may run longer
PROBE = "probe run (home-gateway)"
PROBE_ACCOUNTS = "probe run --credential-scope accounts"
NMAP = "nmap -sV -p-"
TARGET_VS_NMAP = {"weak-gateway": 0.5, "hardened-gateway": 0.25}  # issue 7


@dataclass
class Measure:
    wall: float
    cpu: float
    peak_rss_mb: float
    rc: int


def measure(argv: list[str], timeout: float = CMD_TIMEOUT) -> Measure:
    """Run argv to completion; wall clock, user+sys CPU and the command's own peak RSS.

    Through GNU time (probe.lab.measure): a plain wait4() here would report this driver's size
    for every small child, which is how an earlier run showed probe and nmap at the same 62.6 MB.
    """
    m = run_measured(argv, timeout)
    return Measure(m.wall, m.cpu, m.peak_rss_kb / 1024, m.returncode)


def median(ms: list[Measure]) -> Measure:
    return Measure(statistics.median(m.wall for m in ms), statistics.median(m.cpu for m in ms),
                   max(m.peak_rss_mb for m in ms), ms[-1].rc)


def ensure_anchor_venv() -> Path | None:
    """sslyze pins its own cryptography/nassl; it lives in a venv of its own so probe's stay untouched."""
    sslyze = ANCHOR_VENV / "bin" / "sslyze"
    if not sslyze.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ANCHOR_VENV)], check=True, timeout=120)
        r = subprocess.run([str(ANCHOR_VENV / "bin" / "pip"), "install", "-q", "sslyze"], timeout=600)
        if r.returncode != 0:
            return None
    return sslyze


def probe_cmd(targets: list[str], out: Path, ca_file: str | None = None, scope: str = "first") -> list[str]:
    argv = [sys.executable, "-m", "probe", "run", "--profile", "home-gateway", "--quiet", "--out", str(out),
            "--credential-scope", scope]
    if ca_file:
        argv += ["--ca-file", ca_file]
    for t in targets:
        argv += ["--target", t]
    return argv


def services_from(evidence: Path) -> list[dict]:
    return json.loads(evidence.read_text())["services"]


def web_logins(evidence: Path) -> dict[int, str]:
    """port -> path of the HTTP Basic/Digest login probe found (hydra must be pointed at it)."""
    out = {}
    for f in json.loads(evidence.read_text())["findings"]:
        d = f.get("details") or {}
        if f["check_id"] == "default_credentials" and d.get("login_kind") in ("basic", "digest"):
            out[f["port"]] = d["login_path"]
    return out


def hydra_cmds(addr: str, services: list[dict], logins: dict[int, str], creds_file: Path,
               first_only: bool) -> list[list[str]]:
    """hydra per login service; first_only adds -f (stop at the first found pair), which is what
    probe's default --credential-scope first does, so the two are compared like for like. Web
    ports go to hydra only where probe found an HTTP auth login, at that path (hydra cannot find it)."""
    mods = {"ssh": "ssh", "telnet": "telnet", "ftp": "ftp", "http": "http-get", "https": "https-get"}
    cmds = []
    for s in services:
        mod = mods.get(s["protocol"])
        if not mod or s["transport"] != "tcp" or (mod.endswith("-get") and s["port"] not in logins):
            continue
        argv = ["hydra", "-C", str(creds_file), "-s", str(s["port"]), "-t", "4", "-I", "-q",
                *(["-f"] if first_only else []), addr, mod]
        if mod.endswith("-get"):
            argv.append(logins[s["port"]])
        cmds.append(argv)
    return cmds


def anchor_cmds(addr: str, services: list[dict], logins: dict[int, str], sslyze: Path | None,
                creds_file: Path) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    tls = [s for s in services if s.get("tls")]
    if sslyze and tls:
        out["sslyze"] = [[str(sslyze), "--quiet", *[f"{addr}:{s['port']}" for s in tls]]]
    ssh = [s for s in services if s["protocol"] == "ssh"]
    if shutil.which("ssh-audit") and ssh:
        out["ssh-audit"] = [["ssh-audit", "-n", "-p", str(s["port"]), addr] for s in ssh]
    if shutil.which("hydra"):
        out["hydra -f"] = hydra_cmds(addr, services, logins, creds_file, first_only=True)
        out["hydra (all pairs)"] = hydra_cmds(addr, services, logins, creds_file, first_only=False)
    return out


def run_group(cmds: list[list[str]]) -> Measure:
    """Several commands of one tool, one after another, summed (the tool has no multi-target mode)."""
    ms = [measure(c) for c in cmds]
    return Measure(sum(m.wall for m in ms), sum(m.cpu for m in ms), max(m.peak_rss_mb for m in ms),
                   max(m.rc for m in ms))


def write_creds(path: Path) -> None:
    """The same pairs probe tries first, as hydra's colon file."""
    import csv

    rows = list(csv.DictReader((REPO / "probe" / "data" / "credentials.csv").open(encoding="utf-8")))
    pairs = list(dict.fromkeys(f"{r['username']}:{r['password']}" for r in rows))[:20]
    path.write_text("\n".join(pairs) + "\n")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    nmap_v = subprocess.run(["nmap", "--version"], capture_output=True, text=True).stdout.splitlines()[0] \
        if shutil.which("nmap") else "nmap not installed"
    return (f"{platform.platform()}; {os.cpu_count()} cores ({cpu}); {mem:.0f} GiB RAM; "
            f"Python {platform.python_version()}; {nmap_v}")


def fmt(m: Measure) -> str:
    return f"{m.wall:8.2f} s wall {m.cpu:8.2f} s CPU {m.peak_rss_mb:7.1f} MB peak"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement; medians are reported (default 3)")
    ap.add_argument("--nmap-runs", type=int, default=1,
                    help="runs of each nmap -sV -p- anchor (default 1: each takes minutes; say so when quoting)")
    ap.add_argument("--variants", nargs="+", default=["weak-gateway", "hardened-gateway"])
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--scaling-runs", type=int, default=1, help="runs per scaling size (default 1)")
    ap.add_argument("--skip-nmap", action="store_true", help="skip the (slow) nmap -sV anchors")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench: needs root (the lab uses network namespaces)", file=sys.stderr)
        return 2
    from probe.lab import manager

    sslyze = ensure_anchor_venv()
    work = Path(tempfile.mkdtemp(prefix="probe-bench-"))
    creds = work / "creds.txt"
    write_creds(creds)
    lines = [f"# probe benchmark {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}", "",
             f"Machine: {machine()}",
             f"Runs per measurement: {args.runs} (medians); nmap -sV -p- anchors: {args.nmap_runs} run(s) each; "
             f"scaling: {args.scaling_runs} run(s) per size", ""]
    table: list[str] = []
    ratios: list[str] = []
    try:
        devices = manager.up(args.variants, instance=BENCH_INSTANCE_BASE)
        for dev in devices:
            addr = dev.address
            ev = work / f"{dev.name}.json"
            p = median([measure(probe_cmd([addr], ev, dev.ca_cert)) for _ in range(args.runs)])
            services = services_from(ev)
            results: dict[str, Measure] = {PROBE: p}
            results[PROBE_ACCOUNTS] = median([measure(probe_cmd([addr], work / "accounts.json", dev.ca_cert,
                                                                 scope="accounts")) for _ in range(args.runs)])
            if not args.skip_nmap:
                results[NMAP] = median([measure(["nmap", "-n", "-Pn", "-sV", "-p-", addr])
                                        for _ in range(args.nmap_runs)])
                results["nmap -sV -p- -T4"] = median([measure(["nmap", "-n", "-Pn", "-sV", "-p-", "-T4", addr])
                                                      for _ in range(args.nmap_runs)])
            for name, cmds in anchor_cmds(addr, services, web_logins(ev), sslyze, creds).items():
                results[name] = median([run_group(cmds) for _ in range(args.runs)])
            table.append(f"\n## {dev.name} ({addr}): {len(services)} services found by probe\n")
            table.append("| tool | wall s | CPU s | peak MB |\n|---|---|---|---|")
            for name, m in results.items():
                table.append(f"| {name} | {m.wall:.2f} | {m.cpu:.2f} | {m.peak_rss_mb:.1f} |")
                print(f"{dev.name:18} {name:40} {fmt(m)}")
            limit = TARGET_VS_NMAP.get(dev.name)
            if NMAP in results:
                r = p.wall / results[NMAP].wall
                verdict = f" (target ≤ {limit}: {'met' if r <= limit else 'NOT met'})" if limit else ""
                ratios.append(f"- {dev.name}: probe / nmap -sV -p- = **{r:.2f}**{verdict}")
            for probe_row, creds_row in ((PROBE, "hydra -f"), (PROBE_ACCOUNTS, "hydra (all pairs)")):
                anchors = [k for k in results if k in (NMAP, "sslyze", "ssh-audit", creds_row)]
                if anchors:
                    r = results[probe_row].wall / sum(results[k].wall for k in anchors)
                    ratios.append(f"- {dev.name}: {probe_row} / ({' + '.join(anchors)}) = **{r:.2f}** "
                                  f"(target < 1: {'met' if r < 1 else 'NOT met'})")
            ratios.append(f"- {dev.name}: probe peak memory {p.peak_rss_mb:.1f} MB (target < 200 MB: "
                          f"{'met' if p.peak_rss_mb < 200 else 'NOT met'})")
            print("\n".join(ratios[-4:]))
        manager.down(instance=BENCH_INSTANCE_BASE)
        if not args.skip_scaling:
            table.append("\n## Scaling: weak-gateway copies in one `probe run`\n")
            table.append("| devices | wall s | CPU s | peak MB | vs 1 device |\n|---|---|---|---|---|")
            base = None
            for n in (1, 4, 16):
                addrs: list[str] = []
                for k in range(n):
                    addrs += [d.address for d in manager.up(["weak-gateway"], instance=BENCH_INSTANCE_BASE + 1 + k)]
                m = median([measure(probe_cmd(addrs, work / f"scale{n}.json")) for _ in range(args.scaling_runs)])
                base = base or m.wall
                table.append(f"| {n} | {m.wall:.2f} | {m.cpu:.2f} | {m.peak_rss_mb:.1f} | {m.wall / base:.2f}x |")
                print(f"scaling {n:2} devices: {fmt(m)}  ({m.wall / base:.2f}x one device)")
                if n == 16:
                    ratios.append(f"- 16 devices in one run: **{m.wall / base:.2f}x** one device (target ≤ 3: "
                                  f"{'met' if m.wall / base <= 3 else 'NOT met'})")
                for k in range(n):
                    manager.down(instance=BENCH_INSTANCE_BASE + 1 + k)
    finally:
        for k in range(0, 18):
            try:
                manager.down(instance=BENCH_INSTANCE_BASE + k)
            except Exception as exc:  # keep tearing down the rest
                print(f"bench: teardown of instance {BENCH_INSTANCE_BASE + k}: {exc}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    lines += ["## Ratios (lower is better for probe)", "", *ratios, "", *table, ""]
    args.out.mkdir(parents=True, exist_ok=True)
    dest = args.out / f"{datetime.now(UTC).strftime('%Y-%m-%d')}.md"
    dest.write_text("\n".join(lines))
    print(f"\nresults: {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
