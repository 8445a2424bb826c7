#!/usr/bin/env python3
"""TLS-only and SSH-only comparison: probe's crypto checks against sslyze and ssh-audit, per service.

    sudo python3 bench/crypto_bench.py [--runs 3] [--out bench/results]

Starts real servers on 127.0.0.1 (nothing else is contacted): for TLS, `openssl s_server` with a
modern and a legacy configuration and lighttpd serving TLS 1.3 only with an intermediate; for
SSH, OpenSSH with Debian's defaults and with legacy algorithms added, dropbear, and TinySSH.
Then, for each service, times as child processes measured through GNU time (wall, CPU, peak):

  probe     the crypto checks on the known service (bench/probe_checks_only.py: process start-up,
            catalog and plugins included, no discovery): what issue 13's target is about; and
            `probe run --target 127.0.0.1 --ports PORT` with a profile holding only the crypto
            checks: discovery and identification of the port, the clause verdicts and the evidence
            file on top
  sslyze    `sslyze 127.0.0.1:PORT` as shipped (every scan command, Mozilla check), and with only
            the commands that match probe's checks (versions, suites, curves, certificate info)
  ssh-audit `ssh-audit -n -p PORT 127.0.0.1` (Debian's package)

and probe's start-up alone (`probe --help`, `probe run --help`, `probe plan`). probe keeps parsed
data files in a cache (probe/datacache.py, filled by the first run): the checks and `probe plan` are
also measured with it off (PROBE_CACHE_DIR=off), as a first run after installing would be. Medians
of --runs, each service's commands taken in turn (probe, peer, probe, peer...); the result goes
to bench/results/<date>-crypto<--suffix>.md with the machine description and the load average
before and after. sslyze lives in its own venv
(bench/.venv-anchors, as bench.py does) because it pins its own cryptography and nassl. probe is
measured as users install it: `pip install .` of this tree into bench/.venv-probe, a plain venv
(reinstalled every run; `--probe-from here` measures the interpreter running this script instead).
Both venvs are made from the system's python3 (bench.TOOLS_PYTHON), the interpreter Debian's
ssh-audit runs on: every Python tool is timed on the same interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import TOOLS_PYTHON, Measure, ensure_anchor_venv, fmt, machine, measure, median, venv_on

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TLS_PROFILE = """name: bench-tls
description: TLS checks only (bench/crypto_bench.py)
device_class: general-iot
schemes: [jc-star, cls, uk-psti]
discovery: {tcp_ports: "443", udp_ports: []}
checks: [tls_configuration, tls_certificate]
"""
SSH_PROFILE = TLS_PROFILE.replace("bench-tls", "bench-ssh").replace("TLS checks", "SSH checks").replace(
    "[tls_configuration, tls_certificate]", "[ssh_algorithms]")
NO_CACHE = ["env", "PROBE_CACHE_DIR=off"]  # probe parses its data files as on its first run
SSLYZE_LIKE_PROBE = ["--certinfo", "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3",
                     "--elliptic_curves"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


@contextlib.contextmanager
def server(cmd: list[str], port: int) -> Iterator[int]:
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def tinyssh(work: Path, connections: int = 400) -> contextlib.AbstractContextManager[int]:
    """TinySSH runs from inetd; the shared loopback acceptor (tests/helpers/tinyssh.py) plays inetd."""
    from tests.helpers.tinyssh import tinysshd

    return tinysshd(work, connections)


def pki(work: Path) -> dict[str, Path]:
    """A root CA, an intermediate, a P-256 leaf for 127.0.0.1, and a legacy RSA-1024/SHA-1 one."""
    def run(*a: str) -> None:
        subprocess.run(list(a), check=True, capture_output=True)

    d = work / "pki"
    d.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-days", "30",
        "-subj", "/CN=bench root")
    (d / "int.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    run("openssl", "req", "-new", *ec, "-keyout", str(d / "int.key"), "-out", str(d / "int.csr"),
        "-subj", "/CN=bench int")
    run("openssl", "x509", "-req", "-in", str(d / "int.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
        "-CAcreateserial", "-days", "30", "-extfile", str(d / "int.ext"), "-out", str(d / "int.pem"))
    (d / "leaf.ext").write_text(f"subjectAltName=IP:{HOST}\nextendedKeyUsage=serverAuth\n")
    run("openssl", "req", "-new", *ec, "-keyout", str(d / "leaf.key"), "-out", str(d / "leaf.csr"),
        "-subj", "/CN=bench")
    run("openssl", "x509", "-req", "-in", str(d / "leaf.csr"), "-CA", str(d / "int.pem"), "-CAkey", str(d / "int.key"),
        "-CAcreateserial", "-days", "30", "-extfile", str(d / "leaf.ext"), "-out", str(d / "leaf.pem"))
    run("openssl", "req", "-x509", "-newkey", "rsa:1024", "-sha1", "-nodes", "-days", "30", "-subj", "/CN=legacy",
        "-keyout", str(d / "legacy.key"), "-out", str(d / "legacy.pem"))
    (d / "lighttpd.pem").write_bytes((d / "leaf.pem").read_bytes() + (d / "leaf.key").read_bytes())
    return {p.stem + p.suffix.replace(".", "_"): p for p in d.iterdir()}


def tls_servers(work: Path, k: dict[str, Path]) -> dict[str, list[str] | None]:
    """name -> command with {port}; the port is filled in when started."""
    www = work / "www"
    www.mkdir(exist_ok=True)
    conf = work / "lighttpd.conf"
    conf.write_text(f'server.document-root = "{www}"\nserver.bind = "{HOST}"\nserver.port = {{port}}\n'
                    'server.modules = ("mod_openssl")\nssl.engine = "enable"\n'
                    f'ssl.pemfile = "{k["lighttpd_pem"]}"\nssl.ca-file = "{k["int_pem"]}"\n'
                    'ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.3")\n')
    return {
        "openssl s_server, TLS 1.2+1.3, ECDSA, chain": [
            "openssl", "s_server", "-accept", f"{HOST}:{{port}}", "-cert", str(k["leaf_pem"]),
            "-key", str(k["leaf_key"]), "-cert_chain", str(k["int_pem"]), "-no_tls1", "-no_tls1_1", "-quiet"],
        "openssl s_server, legacy (TLS 1.0-1.3, ALL suites, RSA-1024/SHA-1)": [
            "openssl", "s_server", "-accept", f"{HOST}:{{port}}", "-cert", str(k["legacy_pem"]), "-key",
            str(k["legacy_key"]), "-cipher", "ALL:@SECLEVEL=0", "-quiet"],
        "lighttpd, TLS 1.3 only, chain": ["lighttpd", "-D", "-f", str(conf)],
    }


def ssh_servers(work: Path) -> dict[str, list[str]]:
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    out = {}
    for name, extra, keys in (
            ("OpenSSH 9.2, Debian defaults", [], [("ed25519", ""), ("rsa", "3072"), ("ecdsa", "256")]),
            ("OpenSSH 9.2, legacy algorithms added",
             ["KexAlgorithms +diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,"
              "diffie-hellman-group-exchange-sha1",
              "Ciphers +3des-cbc,aes128-cbc", "MACs +hmac-md5,hmac-sha1-96", "HostKeyAlgorithms +ssh-rsa,ssh-dss"],
             [("rsa", "1024"), ("dsa", ""), ("ed25519", "")])):
        d = work / name.split(",")[1].strip().split()[0]
        d.mkdir()
        lines = []
        for ktype, bits in keys:
            subprocess.run(["ssh-keygen", "-q", "-t", ktype, "-N", "", "-f", str(d / f"hk_{ktype}")]
                           + (["-b", bits] if bits else []), check=True, capture_output=True)
            lines.append(f"HostKey {d / f'hk_{ktype}'}")
        cfg = d / "sshd_config"
        base = ["PidFile none", "UsePAM no", f"ListenAddress {HOST}", "Port {port}"]
        cfg.write_text("\n".join(lines + base + extra) + "\n")
        out[name] = ["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)]
    d = work / "dropbear"
    d.mkdir()
    subprocess.run(["dropbearkey", "-t", "ed25519", "-f", str(d / "ed")], check=True, capture_output=True)
    subprocess.run(["dropbearkey", "-t", "rsa", "-s", "2048", "-f", str(d / "rsa")], check=True, capture_output=True)
    out["dropbear 2022.83"] = ["/usr/sbin/dropbear", "-F", "-E", "-p", f"{HOST}:{{port}}", "-r", str(d / "ed"),
                               "-r", str(d / "rsa"), "-P", str(d / "pid")]
    return out


@contextlib.contextmanager
def started(cmd: list[str]) -> Iterator[int]:
    port = free_port()
    argv = []
    for a in cmd:
        argv.append(a.replace("{port}", str(port)))
    cfg = next((Path(a) for a in argv if a.endswith(("sshd_config", "lighttpd.conf"))), None)
    if cfg is not None:  # config files carry the port too
        text = cfg.read_text()
        templ = cfg.with_suffix(".template")
        if not templ.exists():
            templ.write_text(text)
        cfg.write_text(templ.read_text().replace("{port}", str(port)))
    with server(argv, port) as p:
        yield p


PROBE_VENV = REPO / "bench" / ".venv-probe"
PYTHON = sys.executable  # the interpreter probe is measured with (main() may switch it to PROBE_VENV's)


def ensure_probe_venv() -> str:
    """probe installed the way users install it: `pip install .` into a plain venv (no system site
    packages) on the system's python3, as sslyze's venv is and as Debian's ssh-audit runs. Start-up
    then carries only probe's own imports, not a development machine's hooks (an editable
    install's import finder, other packages' .pth files: ~25 ms per start here). The tree is
    reinstalled on every bench run, so the code measured is the code checked out."""
    py = PROBE_VENV / "bin" / "python"
    if not py.exists() or not venv_on(PROBE_VENV):  # on the peers' interpreter (bench.TOOLS_PYTHON)
        shutil.rmtree(PROBE_VENV, ignore_errors=True)
        subprocess.run([TOOLS_PYTHON, "-m", "venv", str(PROBE_VENV)], check=True, timeout=120)
        subprocess.run([str(py), "-m", "pip", "install", "-q", str(REPO)], check=True, timeout=900)
    else:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(REPO)],
                       check=True, timeout=600)
    return str(py)


def interleaved(cmds: dict[str, list[str]], runs: int) -> dict[str, Measure]:
    """The median of `runs` measurements of each command, the commands taken in turn (probe, peer,
    probe, peer...): whatever drifts during a sitting (load, CPU clock, caches) then falls on every
    tool alike, not on whichever block ran first."""
    got: dict[str, list[Measure]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, argv in cmds.items():
            got[name].append(measure(argv))
    return {name: median(ms) for name, ms in got.items()}


def probe_cmd(port: int, profile: Path, out: Path) -> list[str]:
    return [str(Path(PYTHON).parent / "probe"), "run", "--target", HOST, "--ports", str(port),
            "--udp-ports", "none", "--profile", str(profile), "--no-credentials", "--no-nmap", "--quiet",
            "--scan-method", "connect", "--out", str(out)]


def checks_cmd(port: int, protocol: str, *checks: str) -> list[str]:
    """probe's checks on the known service (no discovery), process start-up included."""
    return [PYTHON, str(REPO / "bench" / "probe_checks_only.py"), HOST, str(port), protocol, *checks]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--suffix", default="", help="appended to the result file's name (e.g. -startup)")
    ap.add_argument("--probe-from", choices=("install", "here"), default="install",
                    help="install (default): probe `pip install`ed from this tree into bench/.venv-probe, a plain "
                         "venv, as users install it; here: the interpreter running this script")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("crypto_bench: needs root (OpenSSH privilege separation)", file=sys.stderr)
        return 2
    sslyze = ensure_anchor_venv()
    global PYTHON
    if args.probe_from == "install":
        PYTHON = ensure_probe_venv()
    else:
        # Start probe as an installed package would: with its bytecode compiled (pip does this at
        # install time; an editable tree under PYTHONDONTWRITEBYTECODE=1 would recompile every start).
        # The lab's templates are data copied to devices, not code: left alone.
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-x", r"[/\\]templates[/\\]",
                        *(str(REPO / d) for d in ("probe", "checks", "reports", "profiles", "bench"))],
                       check=False, capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="probe-crypto-bench-"))
    keys = pki(work)
    (work / "tls.yaml").write_text(TLS_PROFILE)
    (work / "ssh.yaml").write_text(SSH_PROFILE)
    rows: list[str] = []
    verdicts: list[str] = []
    ratios: list[str] = []
    probe_bin = str(Path(PYTHON).parent / "probe")
    plan = [probe_bin, "plan", "--profile", "home-gateway", "--holding", "jc-star", "--apply-for", "cls"]
    load_before = os.getloadavg()
    try:
        start = {"probe --help": median([measure([probe_bin, "--help"]) for _ in range(args.runs)]),
                 "probe run --help": median([measure([probe_bin, "run", "--help"]) for _ in range(args.runs)]),
                 "probe plan (home-gateway, jc-star -> cls)": median([measure(plan) for _ in range(args.runs)]),
                 "probe plan, data cache off": median([measure([*NO_CACHE, *plan]) for _ in range(args.runs)])}
        for name, m in start.items():
            rows.append(f"| start-up | {name} | {m.wall:.2f} | {m.cpu:.2f} | {m.peak_rss_mb:.1f} |")
            print(f"{name:50} {fmt(m)}")
        for svc, cmd in tls_servers(work, keys).items():
            with started(cmd) as port:
                ev = work / "tls-ev.json"
                cmds = {"probe checks (tls_configuration + tls_certificate)":
                        checks_cmd(port, "https", "tls_configuration", "tls_certificate"),
                        "probe run (discovery + checks + verdicts)": probe_cmd(port, work / "tls.yaml", ev)}
                if sslyze:
                    cmds["sslyze (default: all scan commands)"] = [str(sslyze), "--quiet", f"{HOST}:{port}"]
                    cmds["sslyze (probe's equivalents only)"] = [str(sslyze), "--quiet", *SSLYZE_LIKE_PROBE,
                                                                 f"{HOST}:{port}"]
                results = interleaved(cmds, args.runs)
                verdicts.append(f"- {svc}: " + _verdicts(ev))
            _rows(rows, ratios, "TLS", svc, results)
        ssh = ssh_servers(work)
        for svc, cmd in [*ssh.items(), ("TinySSH 20230101 (inetd-style)", None)]:
            ctx = tinyssh(work) if cmd is None else started(cmd)
            with ctx as port:
                ev = work / "ssh-ev.json"
                cmds = {"probe checks (ssh_algorithms)": checks_cmd(port, "ssh", "ssh_algorithms"),
                        "probe checks (ssh_algorithms), data cache off":
                        [*NO_CACHE, *checks_cmd(port, "ssh", "ssh_algorithms")],
                        "probe run (discovery + checks + verdicts)": probe_cmd(port, work / "ssh.yaml", ev)}
                if shutil.which("ssh-audit"):
                    cmds["ssh-audit"] = ["ssh-audit", "-n", "-p", str(port), HOST]
                results = interleaved(cmds, args.runs)
                verdicts.append(f"- {svc}: " + _verdicts(ev))
            _rows(rows, ratios, "SSH", svc, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    sa_v = subprocess.run(["ssh-audit", "-h"], capture_output=True, text=True).stdout.split("\n")[0] \
        if shutil.which("ssh-audit") else ""
    sa_v = re.sub(r"\x1b\[[0-9;]*m", "", sa_v)  # it colours its banner even when not on a terminal
    lines = [f"# probe crypto benchmark {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}", "",
             f"Machine: {machine()}", f"Runs per measurement: {args.runs} (medians). Peers: sslyze "
             f"({_sslyze_version(sslyze)}), ssh-audit ({sa_v.strip('# ').strip() or 'not installed'}).",
             "All servers on 127.0.0.1; every command measured through GNU time, start-up included.",
             "probe measured from: " + (f"`pip install .` of this tree into {PROBE_VENV.relative_to(REPO)} "
                                        f"(a plain venv on {TOOLS_PYTHON}, as users install it; sslyze's venv "
                                        "is on the same interpreter, Debian's ssh-audit runs on the system "
                                        "python3)" if args.probe_from == "install"
                                        else f"{PYTHON} (the interpreter running the bench)") + ".",
             "Load average (1, 5, 15 min): " + " ".join(f"{x:.2f}" for x in load_before) + " before, "
             + " ".join(f"{x:.2f}" for x in load_after) + " after.", "",
             "## Ratios: probe wall time / peer wall time, per service (target: ≤ 1)", "", *ratios, "",
             "## Measurements", "", "| kind | service / tool | wall s | CPU s | peak MB |", "|---|---|---|---|---|",
             *rows, "", "## probe's verdicts on these servers", "", *verdicts, ""]
    args.out.mkdir(parents=True, exist_ok=True)
    dest = args.out / f"{datetime.now(UTC).strftime('%Y-%m-%d')}-crypto{args.suffix}.md"
    dest.write_text("\n".join(lines))
    print(f"\nresults: {dest}")
    return 0


def _sslyze_version(sslyze: Path | None) -> str:
    if not sslyze:
        return "not installed"
    r = subprocess.run([str(sslyze.parent / "python"), "-c",
                        "import importlib.metadata as m; print(m.version('sslyze'))"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown version"


def _verdicts(evidence: Path) -> str:
    import json

    try:
        doc = json.loads(evidence.read_text())
    except (OSError, ValueError):
        return "no evidence written"
    return "; ".join(f"{f['check_id']} {f['status']}" for f in doc["findings"]
                     if f["check_id"] in ("tls_configuration", "tls_certificate", "ssh_algorithms"))


def _rows(rows: list[str], ratios: list[str], kind: str, svc: str, results: dict) -> None:
    for tool, m in results.items():
        rows.append(f"| {kind}: {svc} | {tool} | {m.wall:.2f} | {m.cpu:.2f} | {m.peak_rss_mb:.1f} |")
        print(f"{kind}: {svc[:40]:40} {tool:45} {fmt(m)}")
    for probe_key in (k for k in results if k.startswith("probe")):
        p = results[probe_key]
        for tool, m in results.items():
            if tool.startswith("probe"):
                continue
            r = p.wall / m.wall
            ratios.append(f"- {kind} {svc}: {probe_key} / {tool} = **{r:.2f}** ({'met' if r <= 1 else 'NOT met'})")


if __name__ == "__main__":
    sys.exit(main())
