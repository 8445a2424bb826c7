#!/usr/bin/env python3
"""probe against the specialised tools a lab would run one after the other, on every lab variant.

    sudo python3 bench/bench.py                      # every lab variant, scaling, 1 run each (~12 min)
    sudo python3 bench/bench.py --runs 3             # medians of 3 (about three times as long)
    sudo python3 bench/bench.py --variants camera --skip-scaling
    python3 bench/bench.py --dry-run [--evidence FILE]   # print the commands, run nothing (no root)

What it measures (issue 14), for EACH lab variant (probe/lab/variants/*.yaml, found by
known_variants(), so a variant added later is measured too), all in the same run on the same
device, every process through GNU time (wall, CPU, its own peak memory; probe.lab.measure):

  probe     `probe run` as the variant's truth file runs its default scan: the truth's profile,
            its `scans.default` options (hostile: --max-time 90), --ca-file where its truth
            says the manufacturer's CA is an input. The device's login failures are forgotten
            before each probe run and before the tools where the truth says scans share state.
  the sum   the specialised tools, one after the other, on what that probe run found:
              nmap -n -Pn -sS -p- ADDR            (the TCP sweep)
              nmap -n -Pn -sU -p PORTS ADDR       (the UDP ports probe probed)
              sslyze ADDR:PORT ...                (every TLS port; own venv bench/.venv-anchors)
              ssh-audit -n -p PORT ADDR           (every SSH port)
              hydra -C/-P FILE -s PORT -t 4 -I -q [-f] ADDR MODULE [PATH]
                                                  (every service where probe ran default-credential
                                                  trials and hydra has a module: ssh, telnet, ftp,
                                                  http(s) Basic/Digest at the login path probe found,
                                                  snmp; with exactly the pairs probe planned for that
                                                  service, and -f where probe stops at the first login)
  ratio     probe wall / sum of the tools' walls (target: <= 1.0 on every variant)
  phases    where probe's time went, from its evidence: SYN sweep (rate, packets), identification
            (TCP + UDP), nmap gap-filling, everything after discovery, and the busy time of each
            check (jobs overlap, so these add up to more than the wall time), slowest jobs first

then a scaling run: 1, 4 and 16 weak-gateway copies in one `probe run` (target: 16 devices
<= 3x one device, peak memory < 200 MB), each size also swept by `nmap -n -Pn -sS -p-` over the same
devices as a reference for how a sweep scales in this lab, whose devices share the bench's cores.
Results: bench/results/<date>-variants.md with the machine, its load, the measured probe build, the
exact commands, medians and ratios; the same table is printed.

Time: about 12 min with the default --runs 1 on 2 busy cores (2026-12-02: 11.6 min at load average
~12; six variants ~9 min, the slowest being hardened-gateway, whose DROP policy holds `nmap -sS -p-`
~105 s, and hostile, whose tools stop at --tool-budget; scaling ~2.5 min); --runs 3 triples the
per-variant part. A tool cut off by --tool-timeout counts with the time it was given, one the
--tool-budget left no time for counts 0 s; either is marked ">" (the ratio is then an upper bound).

Network safety: the lab's devices live in network namespaces this script creates (10.231.0.0/16,
instances reserved like the test suite's, torn down on exit); every command gets one address and
it must be a lab (or loopback) address, checked before anything runs; every command is bounded
by a timeout; nothing else is contacted.

Opt-in extras (the issue 7 comparisons of bench/results/2026-11-21.md): --with-nmap-sv adds
`nmap -sV -p-` (minutes per device) and --accounts adds `probe --credential-scope accounts`
against hydra trying every pair; neither is part of the sum.

Which probe is measured: the one this interpreter imports (probe children start in /, so the
current directory never decides); the result file names it. Run it with the interpreter whose
`import probe` is the tree to measure (in a worktree: its venv's python).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: the truth reader (tests/lab/truth.py) is not on the path yet

from probe.errors import UserError  # noqa: E402
from probe.lab.measure import run_measured  # noqa: E402
from probe.lab.netns import LAB_PREFIX  # noqa: E402

ANCHOR_VENV = REPO / "bench" / ".venv-anchors"
CMD_TIMEOUT = 900  # no measured command may run longer (probe's own runs; tools get --tool-timeout)
SCALING_SIZES = (1, 4, 16)
SCALING_VARIANT = "weak-gateway"
INSTANCE_RANGE = (200, 254)  # lab instances the bench reserves (the test suite's are 20..199)
INSTANCE_TRIES = 8
TARGET_RATIO = 1.0  # probe / specialised-tool sum, every variant (issue 14)
TARGET_SCALING = 3.0  # 16 devices in one run / one device
TARGET_MEMORY_MB = 200.0  # peak memory of the 16-device run
HYDRA_MODULES = {"ssh": "ssh", "telnet": "telnet", "ftp": "ftp", "http": "http-get", "https": "https-get",
                 "snmp": "snmp"}
PROBE = "probe run (default scan)"
SUM = "specialised tools (sum)"


class BenchError(RuntimeError):
    """The bench refuses to run this (a non-lab address, a variant without truth, no nmap...)."""


# ------------------------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class Measure:
    wall: float
    cpu: float
    peak_rss_mb: float
    rc: int
    timed_out: bool = False


def measure(argv: list[str], timeout: float = CMD_TIMEOUT, cwd: str | None = None) -> Measure:
    """Run argv to completion; wall clock, user+sys CPU and the command's own peak RSS.

    Through GNU time (probe.lab.measure): a plain wait4() here would report this driver's size
    for every small child, which is how an earlier run showed probe and nmap at the same 62.6 MB.
    """
    m = run_measured(argv, timeout, cwd=cwd)
    return Measure(m.wall, m.cpu, m.peak_rss_kb / 1024, m.returncode, m.timed_out)


def median(ms: Sequence[Measure]) -> Measure:
    return Measure(statistics.median(m.wall for m in ms), statistics.median(m.cpu for m in ms),
                   max(m.peak_rss_mb for m in ms), ms[-1].rc, any(m.timed_out for m in ms))


def total(ms: Sequence[Measure]) -> Measure:
    """Commands run one after another: walls and CPU add up, memory is the largest."""
    return Measure(sum(m.wall for m in ms), sum(m.cpu for m in ms), max((m.peak_rss_mb for m in ms), default=0.0),
                   max((m.rc for m in ms), default=0), any(m.timed_out for m in ms))


# The interpreter the Python tools are compared on: the system's (Debian 12's python3 3.11.2, the one
# Debian's ssh-audit runs on and the one `pip install .` or pipx uses on a Debian machine). Why not
# the interpreter running the bench: a pyenv build without PGO/LTO, as on this machine, runs Python
# code ~2.4x slower than Debian's (a 3-million-step loop: 0.40 s against 0.17 s), so a tool on it
# loses to ssh-audit on interpreter speed alone.
SYSTEM_PYTHON = "/usr/bin/python3"
TOOLS_PYTHON = SYSTEM_PYTHON if os.access(SYSTEM_PYTHON, os.X_OK) else sys.executable


def venv_on(venv: Path, python: str = TOOLS_PYTHON) -> bool:
    """Whether `venv` exists and was made from `python` (a venv from another interpreter is rebuilt)."""
    cfg = venv / "pyvenv.cfg"
    if not cfg.is_file():
        return False
    made = dict(line.split(" = ", 1) for line in cfg.read_text().splitlines() if " = " in line)
    return Path(made.get("home", "")).resolve() == Path(python).resolve().parent


def ensure_anchor_venv() -> Path | None:
    """sslyze pins its own cryptography/nassl; it lives in a venv of its own so probe's stay untouched."""
    sslyze = ANCHOR_VENV / "bin" / "sslyze"
    if not sslyze.exists() or not venv_on(ANCHOR_VENV):
        shutil.rmtree(ANCHOR_VENV, ignore_errors=True)
        subprocess.run([TOOLS_PYTHON, "-m", "venv", str(ANCHOR_VENV)], check=True, timeout=120)
        r = subprocess.run([str(ANCHOR_VENV / "bin" / "pip"), "install", "-q", "sslyze"], timeout=600)
        if r.returncode != 0:
            return None
    return sslyze


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
    nmap_v = subprocess.run(["nmap", "--version"], capture_output=True, text=True, timeout=30).stdout.splitlines()[0] \
        if shutil.which("nmap") else "nmap not installed"
    return (f"{platform.platform()}; {os.cpu_count()} cores ({cpu}); {mem:.0f} GiB RAM; "
            f"Python {platform.python_version()}; {nmap_v}")


def fmt(m: Measure) -> str:
    return f"{m.wall:8.2f} s wall {m.cpu:8.2f} s CPU {m.peak_rss_mb:7.1f} MB peak"


# --------------------------------------------------------------------------------- network safety


def lab_address(addr: str) -> str:
    """addr itself if it is a lab device's (10.231.0.0/16) or a loopback address; else BenchError."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        raise BenchError(f"bench: {addr!r} is not an IP address") from None
    if not (ip in ipaddress.ip_network(LAB_PREFIX) or ip.is_loopback):
        raise BenchError(f"bench: {addr} is not a lab address ({LAB_PREFIX}) or loopback; the bench sends "
                         "packets only to devices it created")
    return addr


def _addresses_in(token: str) -> Iterator[str]:
    """IP addresses a command-line token names (`10.231.1.2`, `10.231.1.2:443`, `[::1]:22`)."""
    for cand in (token, token.rsplit(":", 1)[0].strip("[]")):
        try:
            yield str(ipaddress.ip_address(cand))
            return
        except ValueError:
            continue


def check_targets(argv: Sequence[str], addr: str) -> None:
    """Every address argv names is `addr`, and `addr` is a lab address: checked before any command runs."""
    lab_address(addr)
    for token in argv:
        for found in _addresses_in(token):
            if found != addr:
                raise BenchError(f"bench: command names {found}, not the lab device {addr}: {' '.join(argv)}")


# ------------------------------------------------------------------------------- what to run


@dataclass(frozen=True)
class ScanPlan:
    """How the variant's truth file runs its default scan (tests/lab/truth.py reads the file)."""

    variant: str
    profile: str
    options: tuple[str, ...]
    ca_file: bool
    shared_state: bool


def scan_plan(variant: str) -> ScanPlan:
    from tests.lab import truth as T  # the one reader of truth files (validated, as the ground-truth test reads them)

    path = T.truth_path(variant)
    if not path.is_file():
        raise BenchError(f"bench: variant {variant!r} has no truth file ({path}): its default scan is defined there")
    t = T.load_truth(path)
    return ScanPlan(variant, t.profile, tuple(t.scans.get("default", ())), t.ca_file, bool(t.shared_state))


def probe_cmd(targets: Sequence[str], out: Path, profile: str, options: Sequence[str] = (),
              ca_file: str | None = None, scope: str | None = None) -> list[str]:
    argv = [sys.executable, "-m", "probe", "run", "--profile", profile, "--quiet", "--out", str(out), *options]
    if scope:
        argv += ["--credential-scope", scope]
    if ca_file:
        argv += ["--ca-file", ca_file]
    for t in targets:
        argv += ["--target", lab_address(t)]
    return argv


@dataclass(frozen=True)
class ToolCommand:
    tool: str  # the row it is summed into: "nmap -sS -p-", "nmap -sU", "sslyze", "ssh-audit", "hydra"
    argv: tuple[str, ...]
    what: str  # the service it is about, for the report


def _credential_findings(doc: dict[str, Any], addr: str) -> dict[tuple[str, int], dict[str, Any]]:
    """(transport, port) -> details of probe's default_credentials finding where it ran trials."""
    out = {}
    for f in doc.get("findings", ()):
        d = f.get("details") or {}
        if f.get("check_id") == "default_credentials" and f.get("host", addr) == addr and d.get("attempts"):
            out[(f.get("transport", "tcp"), int(f["port"]))] = d
    return out


def _planned_pairs(details: dict[str, Any]) -> list[tuple[str, str]]:
    planned = details.get("planned") or []
    if isinstance(planned, str):  # a long list may be kept as JSON text
        planned = json.loads(planned)
    return [(str(p.get("username", "")), str(p.get("password", ""))) for p in planned]


def udp_ports_probed(doc: dict[str, Any], addr: str) -> list[int]:
    stats = (doc.get("discovery", {}).get(addr) or {}).get("stats", {})
    return sorted({int(p) for k in ("udp_open", "udp_closed", "udp_no_answer", "udp_unreachable")
                   for p in stats.get(k, ())})


def hydra_cmd(addr: str, service: dict[str, Any], details: dict[str, Any], work: Path,
              first_only: bool | None = None) -> ToolCommand | None:
    """hydra on one service with exactly the pairs probe planned for it; None where hydra has no module
    for it (mqtt) or cannot test its login (an HTML form: http-get knows only Basic/Digest/NTLM).

    first_only: -f (stop at the first found pair) where probe's trials stop at the first login
    (`scope: first`, the default); SNMP communities are all tried by probe, so by hydra too."""
    proto, port = service["protocol"], int(service["port"])
    mod = HYDRA_MODULES.get(proto)
    if mod is None or (mod.endswith("-get") and details.get("login_kind") not in ("basic", "digest")):
        return None
    pairs = _planned_pairs(details)
    if not pairs:
        return None
    stop = details.get("scope", "first") == "first" if first_only is None else first_only
    if proto == "snmp":  # a community is a password without a user
        f = work / f"hydra-{addr}-{port}-{proto}.communities"
        f.write_text("".join(f"{p}\n" for _, p in dict.fromkeys(pairs)))
        creds = ["-P", str(f)]
    else:
        f = work / f"hydra-{addr}-{port}-{proto}.pairs"
        f.write_text("".join(f"{u}:{p}\n" for u, p in dict.fromkeys(pairs)))
        creds = ["-C", str(f)]
    argv = ["hydra", *creds, "-s", str(port), "-t", "4", "-I", "-q", *(["-f"] if stop else []), addr, mod]
    if mod.endswith("-get"):
        argv.append(str(details.get("login_path") or "/"))
    return ToolCommand("hydra", tuple(argv), f"{port}/{service['transport']} {proto}: {len(pairs)} pairs")


def specialised_commands(doc: dict[str, Any], addr: str, work: Path, sslyze: Path | None,
                         hydra_first_only: bool | None = None) -> tuple[list[ToolCommand], list[str]]:
    """The tools a lab runs one after another for what probe checked on `addr`, from probe's evidence.

    Returns (commands, what is left out of the sum and why). Hydra's credential files are written to `work`."""
    lab_address(addr)
    services = [s for s in doc.get("services", ()) if s.get("host", addr) == addr]
    cmds = [ToolCommand("nmap -sS -p-", ("nmap", "-n", "-Pn", "-sS", "-p-", addr), "all TCP ports")]
    skipped: list[str] = []
    udp = udp_ports_probed(doc, addr)
    if udp:
        cmds.append(ToolCommand("nmap -sU", ("nmap", "-n", "-Pn", "-sU", "-p", ",".join(map(str, udp)), addr),
                                f"UDP {','.join(map(str, udp))}"))
    tls = [s for s in services if s.get("tls") and s["transport"] == "tcp"]
    if tls and sslyze:
        cmds.append(ToolCommand("sslyze", (str(sslyze), "--quiet", *[f"{addr}:{s['port']}" for s in tls]),
                                f"TLS {','.join(str(s['port']) for s in tls)}"))
    elif tls:
        skipped.append("sslyze: not installed (bench/.venv-anchors could not be made)")
    for s in services:
        if s["protocol"] == "ssh" and s["transport"] == "tcp":
            cmds.append(ToolCommand("ssh-audit", ("ssh-audit", "-n", "-p", str(s["port"]), addr), f"{s['port']}/tcp"))
    trials = _credential_findings(doc, addr)
    for s in services:
        details = trials.get((s["transport"], int(s["port"])))
        if details is None:
            continue
        c = hydra_cmd(addr, s, details, work, hydra_first_only)
        if c is None:
            skipped.append(f"hydra: {s['port']}/{s['transport']} {s['protocol']} "
                           f"({details.get('login', 'login')}): hydra has no module that tests it")
        else:
            cmds.append(c)
    for c in cmds:
        check_targets(c.argv, addr)
    return cmds, skipped


# ---------------------------------------------------------------------------- where the time went


@dataclass(frozen=True)
class Phases:
    sweep: float
    sweep_method: str
    rate_pps: int | None
    packets: int | None
    ports: int | None  # TCP ports swept (the profile decides: all, or a list)
    identify: float
    nmap: float
    checks_busy: dict[str, float]  # check id -> summed job seconds (jobs overlap)
    credential_waits: float  # seconds credential trials paused for a lockout or a refused connection
    slowest: tuple[tuple[str, int | None, float], ...]  # (check, port, seconds), slowest first

    @property
    def discovery(self) -> float:
        return self.sweep + self.identify + self.nmap


def phases(doc: dict[str, Any], addr: str) -> Phases:
    """Where one probe run's time went, from its evidence (`discovery.<host>.stats`, `run.timings`)."""
    stats = (doc.get("discovery", {}).get(addr) or {}).get("stats", {})
    jobs = sorted((t for t in doc.get("run", {}).get("timings", ()) if t.get("host") == addr),
                  key=lambda t: -float(t["seconds"]))
    busy: dict[str, float] = defaultdict(float)
    for t in jobs:
        busy[t["check"]] += float(t["seconds"])
    waits = sum(float(w.get("waited_s", 0.0)) for d in _credential_findings(doc, addr).values()
                for w in [*(d.get("lockout_waits") or ()), *(d.get("connection_retries") or ())])
    return Phases(float(stats.get("sweep_seconds", 0.0)), str(stats.get("sweep_method", "?")), stats.get("rate_pps"),
                  stats.get("packets_sent"), stats.get("tcp_ports_scanned"), float(stats.get("identify_seconds", 0.0)),
                  float(stats.get("nmap_seconds", 0.0)),
                  dict(sorted(busy.items(), key=lambda kv: -kv[1])), waits,
                  tuple((t["check"], t.get("port"), float(t["seconds"])) for t in jobs[:3]))


def median_phases(ps: Sequence[Phases]) -> Phases:
    """Per-phase medians over runs; the slowest jobs of the median-wall run's evidence are the first run's."""
    checks = {c for p in ps for c in p.checks_busy}
    busy = {c: statistics.median(p.checks_busy.get(c, 0.0) for p in ps) for c in checks}
    return replace(ps[0], sweep=statistics.median(p.sweep for p in ps),
                   credential_waits=statistics.median(p.credential_waits for p in ps),
                   identify=statistics.median(p.identify for p in ps), nmap=statistics.median(p.nmap for p in ps),
                   checks_busy=dict(sorted(busy.items(), key=lambda kv: -kv[1])))


# ------------------------------------------------------------------------------------ the report


@dataclass
class VariantResult:
    variant: str
    address: str
    plan: ScanPlan
    probe: Measure
    tools: dict[str, Measure]  # tool row -> median of its commands' total
    phases: Phases | None
    services: int
    commands: list[tuple[list[str], Measure | None]]  # exact argv (probe's first) and its median
    skipped: list[str] = field(default_factory=list)
    extras: dict[str, Measure] = field(default_factory=dict)  # opt-in rows, not in the sum
    error: str | None = None

    @property
    def tool_sum(self) -> Measure:
        return total(list(self.tools.values()))

    @property
    def ratio(self) -> float | None:
        s = self.tool_sum.wall
        return self.probe.wall / s if s > 0 and not self.error else None


@dataclass(frozen=True)
class Scaling:
    devices: int
    measure: Measure
    # `nmap -n -Pn -sS -p-` over the same devices in the same sitting: how the specialised sweep
    # itself scales in this lab, where every emulated device's TCP stack shares the bench's cores
    nmap_sweep: Measure | None = None


def _met(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def _s(m: Measure) -> str:
    return f"{'>' if m.timed_out else ''}{m.wall:.2f}"


def _cmd_note(m: Measure | None) -> str:
    if m is None:
        return ""
    if m.timed_out and m.wall == 0:
        return "    # not run: the variant's --tool-budget was spent"
    return f"    # {_s(m)} s, rc {m.rc}{' (cut off)' if m.timed_out else ''}"


def render_report(results: Sequence[VariantResult], scaling: Sequence[Scaling], header: Sequence[str]) -> str:
    """The Markdown result file: targets first, then where probe's time went, then each variant's rows."""
    lines = [*header, "", "## Targets (issue 14; lower is better for probe)", "",
             "| variant | probe s | specialised-tool sum s | ratio | target ≤ 1.0× | probe peak MB |",
             "|---|---|---|---|---|---|"]
    for r in results:
        if r.error:
            lines.append(f"| {r.variant} | – | – | – | not measured: {r.error} | – |")
            continue
        ratio = r.ratio
        shown = "–" if ratio is None else f"{'≤' if r.tool_sum.timed_out else ''}**{ratio:.2f}×**"
        lines.append(f"| {r.variant} | {_s(r.probe)} | {_s(r.tool_sum)} | {shown} | "
                     f"{'–' if ratio is None else _met(ratio <= TARGET_RATIO)} | {r.probe.peak_rss_mb:.0f} |")
    if scaling:
        one = next((s.measure for s in scaling if s.devices == 1), None)
        top = max(scaling, key=lambda s: s.devices)
        if one and top.devices > 1:
            k = top.measure.wall / one.wall
            lines += ["", f"- {top.devices} devices in one run: **{k:.2f}×** one device "
                          f"(target ≤ {TARGET_SCALING:g}×: {_met(k <= TARGET_SCALING)})",
                      f"- peak memory, {top.devices} devices: **{top.measure.peak_rss_mb:.0f} MB** "
                      f"(target < {TARGET_MEMORY_MB:g} MB: {_met(top.measure.peak_rss_mb < TARGET_MEMORY_MB)})"]
    lines += ["", "## Where probe's time goes (from its evidence: `discovery.<host>.stats`, `run.timings`)", "",
              "Sweep, identification (TCP and UDP at once) and nmap gap-filling run one after another; "
              "\"after discovery\" is the rest of the wall time (checks, verdicts, start-up, writing). "
              "Check busy times are summed job times: jobs overlap, so they add up to more than the wall.", "",
              "\"Credential waits\" are the pauses of the default-credential trials (a device's lockout, a refused "
              "connection), part of those checks' busy time.", "",
              "| variant | sweep s (method, ports, rate) | identify s | nmap s | after discovery s "
              "| credential waits s | busiest checks (busy s) | slowest jobs (s) |", "|---" * 8 + "|"]
    for r in results:
        p = r.phases
        if p is None:
            continue
        rate = ", ".join(x for x in (p.sweep_method, f"{p.ports:,} ports" if p.ports else "",
                                     f"{p.rate_pps:,} pps" if p.rate_pps else "") if x)
        busiest = ", ".join(f"{c} {s:.1f}" for c, s in list(p.checks_busy.items())[:4])
        slowest = ", ".join(f"{c}{'' if port is None else f'@{port}'} {s:.1f}" for c, port, s in p.slowest)
        lines.append(f"| {r.variant} | {p.sweep:.2f} ({rate}) | {p.identify:.2f} | {p.nmap:.2f} | "
                     f"{max(0.0, r.probe.wall - p.discovery):.2f} | {p.credential_waits:.1f} | {busiest} | {slowest} |")
    for r in results:
        lines += ["", f"## {r.variant} ({r.address}; profile {r.plan.profile}"
                      f"{', options ' + ' '.join(r.plan.options) if r.plan.options else ''}): "
                      f"{r.services} services found by probe", ""]
        if r.error:
            lines += [f"Not measured: {r.error}"]
            continue
        lines += ["| tool | wall s | CPU s | peak MB | rc |", "|---|---|---|---|---|"]
        for name, m in [(PROBE, r.probe), *r.tools.items(), (SUM, r.tool_sum)]:
            lines.append(f"| {name} | {_s(m)} | {m.cpu:.2f} | {m.peak_rss_mb:.1f} | {m.rc} |")
        for name, m in r.extras.items():
            lines.append(f"| {name} (extra, not in the sum) | {_s(m)} | {m.cpu:.2f} | {m.peak_rss_mb:.1f} | {m.rc} |")
        if r.tool_sum.timed_out:
            lines += ["", "'>': a command was cut off (--tool-timeout) or not run (--tool-budget spent); GNU time "
                          "reports no CPU or memory for a killed command, so those columns count only the rest."]
        if r.skipped:
            lines += ["", "Left out of the sum: " + "; ".join(r.skipped) + "."]
        if r.phases:
            lines += ["", "Check busy time: " + ", ".join(f"{c} {s:.2f} s" for c, s in r.phases.checks_busy.items())]
        lines += ["", "Commands (median wall time of each):", "", "```",
                  *(f"{' '.join(c)}{_cmd_note(m)}" for c, m in r.commands),
                  "```"]
    if scaling:
        lines += ["", f"## Scaling: {SCALING_VARIANT} copies in one `probe run`", "",
                  "The lab's devices are network namespaces on the bench's own cores: their TCP stacks (a RST "
                  "for each of 65,535 SYNs per device), daemons and TLS handshakes share the CPU with the "
                  "scanner. `nmap -n -Pn -sS -p-` over the same devices, in the same sitting, shows how the "
                  "specialised sweep alone scales here (a reference; it is not in the target).", "",
                  "| devices | wall s | CPU s | peak MB | vs 1 device | nmap -sS -p- wall s (CPU s) "
                  "| nmap vs 1 device |",
                  "|---|---|---|---|---|---|---|"]
        base = scaling[0].measure.wall
        nbase = scaling[0].nmap_sweep.wall if scaling[0].nmap_sweep else None
        for s in scaling:
            nm = s.nmap_sweep
            lines.append(f"| {s.devices} | {_s(s.measure)} | {s.measure.cpu:.2f} | {s.measure.peak_rss_mb:.1f} | "
                         f"{s.measure.wall / base:.2f}× | "
                         + (f"{_s(nm)} ({nm.cpu:.2f}) | {nm.wall / nbase:.2f}× |" if nm and nbase else "– | – |"))
    return "\n".join(lines) + "\n"


def summary_lines(r: VariantResult) -> list[str]:
    """What the terminal shows after each variant."""
    if r.error:
        return [f"{r.variant:18} not measured: {r.error}"]
    out = [f"{r.variant:18} {name:34} {fmt(m)}" for name, m in [(PROBE, r.probe), *r.tools.items(),
                                                                  (SUM, r.tool_sum), *r.extras.items()]]
    if r.ratio is not None:
        out.append(f"{r.variant:18} ratio probe / sum = {r.ratio:.2f}x (target <= {TARGET_RATIO:g}: "
                   f"{'met' if r.ratio <= TARGET_RATIO else 'NOT met'})")
    if r.phases:
        p = r.phases
        out.append(f"{r.variant:18} phases: sweep {p.sweep:.1f} s, identify {p.identify:.1f} s, nmap {p.nmap:.1f} s, "
                   f"after discovery {max(0.0, r.probe.wall - p.discovery):.1f} s; busiest: "
                   + ", ".join(f"{c} {s:.1f} s" for c, s in list(p.checks_busy.items())[:3]))
    return out


# ------------------------------------------------------------------------------------- the run


def lab_up(stack: ExitStack, variants: Sequence[str]) -> list[Any]:
    """Bring `variants` up on a lab instance reserved for this process (as the test suite reserves its
    own, so parallel test sessions never share it); `stack` takes it down and frees it. An instance someone
    started by hand meanwhile (no reservation) is skipped: at most INSTANCE_TRIES of them."""
    from probe.lab import manager
    from tests.helpers.netns import reserve_octet, spread

    for _ in range(INSTANCE_TRIES):
        r = reserve_octet(spread(*INSTANCE_RANGE))
        stack.callback(r.release)  # held until the end either way: never picked twice
        try:
            devices = manager.up(variants, r.octet)
        except UserError as exc:
            if "already up" not in str(exc):
                raise
            continue
        stack.callback(manager.down, r.octet)
        return devices
    raise BenchError(f"bench: no free lab instance in {INSTANCE_RANGE[0]}..{INSTANCE_RANGE[1]} "
                     f"after {INSTANCE_TRIES} tries")


def measured_probe() -> str:
    """Which probe the children import (they start in /), and its commit where it is a git tree."""
    where = subprocess.run([sys.executable, "-c", "import probe; print(probe.__file__)"], capture_output=True,
                           text=True, timeout=60, cwd="/").stdout.strip()
    tree = Path(where).resolve().parent.parent if where else REPO
    commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            timeout=30).stdout.strip()
    return f"{tree} ({commit or 'not a git tree'}), interpreter {sys.executable}"


def run_tools(cmds: Sequence[ToolCommand], addr: str, timeout: float, budget: float) -> list[Measure]:
    """Each command in turn, each at most `timeout` s and all together at most `budget` s; a command
    the budget leaves no time for is not run and counts 0 s, marked as cut off (the sum is then a lower bound)."""
    out = []
    left = budget
    for c in cmds:
        check_targets(c.argv, addr)
        if left <= 0:
            out.append(Measure(0.0, 0.0, 0.0, -1, timed_out=True))
            continue
        out.append(measure(list(c.argv), timeout=min(timeout, left)))
        left -= out[-1].wall
    return out


def bench_variant(dev: Any, plan: ScanPlan, runs: int, work: Path, sslyze: Path | None, tool_timeout: float,
                  tool_budget: float, with_nmap_sv: bool, accounts: bool, keep: Path | None) -> VariantResult:
    from probe.lab import reset_login_state

    addr = lab_address(dev.address)
    ca = dev.ca_cert if plan.ca_file else None
    probe_ms: list[Measure] = []
    tool_ms: dict[str, list[Measure]] = defaultdict(list)
    cmd_ms: dict[int, list[Measure]] = defaultdict(list)  # index in cmds -> one measure per run
    extra_ms: dict[str, list[Measure]] = defaultdict(list)
    ph: list[Phases] = []
    cmds: list[ToolCommand] = []
    skipped: list[str] = []
    argv0: list[str] = []
    doc: dict[str, Any] = {}
    for i in range(runs):  # probe and the tools alternate, so background load falls on both alike
        if plan.shared_state:
            reset_login_state(dev)
        ev = work / f"{plan.variant}-{i}.json"
        argv = probe_cmd([addr], ev, plan.profile, plan.options, ca)
        argv0 = argv0 or argv
        probe_ms.append(measure(argv, cwd="/"))
        if not ev.exists():
            return VariantResult(plan.variant, addr, plan, probe_ms[-1], {}, None, 0, [(argv, probe_ms[-1])],
                                 error=f"probe wrote no evidence (rc {probe_ms[-1].rc})")
        doc = json.loads(ev.read_text())
        ph.append(phases(doc, addr))
        if i == 0:  # every run gives the tools the same work: what the first probe run found
            cmds, skipped = specialised_commands(doc, addr, work, sslyze)
        if plan.shared_state:
            reset_login_state(dev)
        for k, m in enumerate(run_tools(cmds, addr, tool_timeout, tool_budget)):
            cmd_ms[k].append(m)
        for tool in dict.fromkeys(c.tool for c in cmds):
            tool_ms[tool].append(total([cmd_ms[k][-1] for k, c in enumerate(cmds) if c.tool == tool]))
        if keep is not None:
            shutil.copy(ev, keep / ev.name)
        if with_nmap_sv:
            extra_ms["nmap -sV -p-"].append(measure(["nmap", "-n", "-Pn", "-sV", "-p-", addr], timeout=CMD_TIMEOUT))
        if accounts:
            if plan.shared_state:
                reset_login_state(dev)
            extra_ms["probe --credential-scope accounts"].append(measure(
                probe_cmd([addr], work / f"{plan.variant}-accounts.json", plan.profile, plan.options, ca,
                          scope="accounts"), cwd="/"))
            if plan.shared_state:
                reset_login_state(dev)
            trials = _credential_findings(doc, addr)
            every_pair = [c for s in doc.get("services", ()) if (s["transport"], int(s["port"])) in trials
                          and (c := hydra_cmd(addr, s, trials[(s["transport"], int(s["port"]))], work, False))]
            extra_ms["hydra (all pairs)"].append(total(run_tools(every_pair, addr, tool_timeout, tool_budget)))
    return VariantResult(plan.variant, addr, plan, median(probe_ms), {t: median(ms) for t, ms in tool_ms.items()},
                         median_phases(ph), len(doc.get("services", ())),
                         [(argv0, median(probe_ms)), *[(list(c.argv), median(cmd_ms[k])) for k, c in enumerate(cmds)]],
                         skipped, {t: median(ms) for t, ms in extra_ms.items()})


def run_scaling(runs: int, work: Path, keep: Path | None) -> list[Scaling]:
    plan = scan_plan(SCALING_VARIANT)
    out = []
    with ExitStack() as stack:
        addrs = [lab_up(stack, [SCALING_VARIANT])[0].address for _ in range(max(SCALING_SIZES))]
        for n in SCALING_SIZES:
            ev = work / f"scale{n}.json"
            probe_m = median([measure(probe_cmd(addrs[:n], ev, plan.profile, plan.options), cwd="/")
                              for _ in range(runs)])
            nmap_m = median([measure(["nmap", "-n", "-Pn", "-sS", "-p-", *(lab_address(a) for a in addrs[:n])])
                             for _ in range(runs)]) if shutil.which("nmap") else None
            out.append(Scaling(n, probe_m, nmap_m))
            if keep is not None and ev.exists():
                shutil.copy(ev, keep / ev.name)
            print(f"scaling {n:2} devices: {fmt(out[-1].measure)}  ({out[-1].measure.wall / out[0].measure.wall:.2f}x "
                  "one device)" + (f"; nmap -sS -p-: {fmt(nmap_m)}" if nmap_m else ""), flush=True)
    return out


def dry_run(variants: Sequence[str], evidence: Path | None, sslyze: Path | None) -> int:
    """Print what a run would execute; run nothing, contact nothing."""
    from probe.lab import netns

    for k, v in enumerate(variants):
        plan = scan_plan(v)
        addr = netns.addresses(INSTANCE_RANGE[0], k)[1]  # where the device would be in the first bench instance
        ca = f"/run/probe-lab/{INSTANCE_RANGE[0]}/ca.crt" if plan.ca_file else None
        print(f"{v}: " + " ".join(probe_cmd([addr], Path(f"{v}.json"), plan.profile, plan.options, ca)))
    if evidence is not None:
        try:
            doc = json.loads(evidence.read_text())
        except (OSError, ValueError) as exc:
            raise BenchError(f"bench: --evidence {evidence}: {exc}") from None
        with tempfile.TemporaryDirectory(prefix="probe-bench-dry-") as tmp:
            for addr in doc.get("targets", ()):
                cmds, skipped = specialised_commands(doc, addr, Path(tmp), sslyze)
                print(f"\nspecialised tools for {addr} (from {evidence}):")
                for c in cmds:
                    print(f"  [{c.tool}] {' '.join(c.argv)}    # {c.what}")
                for s in skipped:
                    print(f"  left out: {s}")
                p = phases(doc, addr)
                print(f"  probe's phases in that evidence: sweep {p.sweep:.2f} s, identify {p.identify:.2f} s, "
                      f"nmap {p.nmap:.2f} s; busiest checks: "
                      + ", ".join(f"{c} {s:.2f} s" for c, s in list(p.checks_busy.items())[:3]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from probe.lab.variants import known_variants

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=None, metavar="VARIANT",
                    help=f"lab variants to measure (default: all, now {' '.join(known_variants())})")
    ap.add_argument("--runs", type=int, default=1,
                    help="runs of probe and of the tools per variant; medians are reported (default 1, to stay "
                         "within ~12 min on 2 cores; say so when quoting)")
    ap.add_argument("--scaling-runs", type=int, default=1, help="runs per scaling size (default 1)")
    ap.add_argument("--skip-scaling", action="store_true", help="no 1/4/16-device run")
    ap.add_argument("--tool-timeout", type=float, default=120.0,
                    help="seconds each specialised-tool command may take; one cut off is marked '>' (default 120)")
    ap.add_argument("--tool-budget", type=float, default=150.0,
                    help="seconds all the tools of one variant may take per run; what is cut off or not run is "
                         "marked '>' and the ratio is then an upper bound (default 150: the hostile device's "
                         "stalling servers hold hydra for minutes)")
    ap.add_argument("--keep-evidence", type=Path, metavar="DIR",
                    help="copy probe's evidence of every run there (to see where a slow run's time went)")
    ap.add_argument("--with-nmap-sv", action="store_true",
                    help="also time nmap -sV -p- per device (minutes each; not in the sum)")
    ap.add_argument("--accounts", action="store_true",
                    help="also time probe --credential-scope accounts and hydra with every pair (not in the sum)")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the probe command of each variant (and, with --evidence, the tools' commands) "
                         "and exit: no lab, no root, no packet")
    ap.add_argument("--evidence", type=Path, help="with --dry-run: derive the specialised tools' commands from "
                                                  "this probe evidence file")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results",
                    help="folder of the result file <date>-variants.md (default bench/results)")
    args = ap.parse_args(argv)
    variants = args.variants or known_variants()
    unknown = sorted(set(variants) - set(known_variants()))
    if unknown:
        print(f"bench: unknown variant(s) {', '.join(unknown)}; known: {', '.join(known_variants())}", file=sys.stderr)
        return 2
    if args.runs < 1 or args.scaling_runs < 1 or args.tool_timeout <= 0 or args.tool_budget <= 0:
        print("bench: --runs and --scaling-runs must be >= 1, --tool-timeout and --tool-budget > 0", file=sys.stderr)
        return 2
    try:
        if args.dry_run:
            sslyze = ANCHOR_VENV / "bin" / "sslyze"
            return dry_run(variants, args.evidence, sslyze if sslyze.exists() else Path("sslyze"))
        if os.geteuid() != 0:
            print("bench: needs root (the lab uses network namespaces; nmap -sS/-sU raw sockets)", file=sys.stderr)
            return 2
        for tool in ("nmap", "hydra", "ssh-audit"):
            if not shutil.which(tool):
                raise BenchError(f"bench: {tool} is not installed (scripts/setup-system.sh installs it)")
        return run(args, variants)
    except (BenchError, UserError) as exc:
        print(str(exc), file=sys.stderr)
        return 2


def run(args: argparse.Namespace, variants: list[str]) -> int:
    sslyze = ensure_anchor_venv()
    plans = {v: scan_plan(v) for v in variants}
    if args.keep_evidence:
        args.keep_evidence.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    header = [f"# probe against the specialised tools, per lab variant ({started:%Y-%m-%d %H:%M} UTC)", "",
              f"- Machine: {machine()}",
              f"- Load average at the start (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
              f"- Measured probe: {measured_probe()}",
              f"- Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
              f"- Runs per measurement: {args.runs} (medians); scaling: {args.scaling_runs} run(s) per size; "
              f"each tool command at most {args.tool_timeout:g} s, all tools of a variant at most "
              f"{args.tool_budget:g} s per run",
              "- Every process measured through GNU time (wall, user+sys CPU, its own peak RSS). The tools run "
              "one after another on what probe's first run on the device found; hydra gets exactly the pairs "
              "probe planned per service (`details.planned` of its default_credentials finding), with -f where "
              "probe stops at the first login."]
    results: list[VariantResult] = []
    scaling: list[Scaling] = []
    with tempfile.TemporaryDirectory(prefix="probe-bench-") as tmp:
        work = Path(tmp)
        with ExitStack() as stack:
            devices = {d.name: d for d in lab_up(stack, variants)}
            for v in variants:
                print(f"--- {v} ({devices[v].address})", flush=True)
                try:
                    r = bench_variant(devices[v], plans[v], args.runs, work, sslyze, args.tool_timeout,
                                      args.tool_budget, args.with_nmap_sv, args.accounts, args.keep_evidence)
                except (OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:  # the others go on
                    r = VariantResult(v, devices[v].address, plans[v], Measure(0, 0, 0, -1), {}, None, 0, [],
                                      error=f"{type(exc).__name__}: {exc}")
                results.append(r)
                print("\n".join(summary_lines(r)), flush=True)
        if not args.skip_scaling:
            try:
                scaling = run_scaling(args.scaling_runs, work, args.keep_evidence)
            except (OSError, ValueError, BenchError, UserError, subprocess.SubprocessError) as exc:  # variants kept
                header.append(f"- Scaling run failed: {type(exc).__name__}: {exc}")
                print(f"bench: scaling run failed: {exc}", file=sys.stderr)
    header.append(f"- Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
                  f"bench wall time {(datetime.now(UTC) - started).total_seconds() / 60:.1f} min")
    text = render_report(results, scaling, header)
    args.out.mkdir(parents=True, exist_ok=True)
    dest = args.out / f"{started:%Y-%m-%d}-variants.md"
    dest.write_text(text)
    print(f"\n{text}\nresults: {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
