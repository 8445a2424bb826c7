#!/usr/bin/env python3
"""nmap's http-default-accounts knowledge, two ways: run the NSE script, or read its fingerprints.

    sudo python3 bench/nmap_defaults_bench.py [--runs 3]

Starts two lighttpd web UIs on 127.0.0.1 (the test helpers' daemons; nothing leaves the machine),
each with the whole site behind HTTP Basic under the realm nmap's Comtrend fingerprint names
("DSL Router"): one with the product's default apuser/apuser, one with a strong password. For each:

A. `nmap -n -Pn -sV -p PORT --script http-default-accounts 127.0.0.1` through python-nmap (what an
   operator would run), timed, with the device's own count of the requests it received (lighttpd's
   access log) and what nmap reported;
B. probe's way: read the installed fingerprint file (probe.compliance.nmap_fingerprints), match it
   against the answer probe's login discovery already holds, and run default_credentials, which
   tries the selected pairs first within its budget and proves a login by its own rules. Timed
   the same way, with the requests the device received.

Prints a table; docs/default-credentials.md records the results and the choice.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import nmap  # noqa: E402

from probe.compliance import nmap_fingerprints  # noqa: E402
from probe.compliance.nmap_fingerprints import WebAnswer  # noqa: E402
from tests.helpers.checks import check_service, one  # noqa: E402
from tests.helpers.daemons import STRONG_PASSWORD, LocalDaemons  # noqa: E402


def web_ui(d: LocalDaemons, password: str) -> tuple[int, Path]:
    """The Comtrend-like UI and its access log."""
    w = d._dir("bench-ui")
    (w / "plain.users").write_text(f"apuser:{password}\n")
    log = w / "access.log"
    port = d.lighttpd({"/index.html": "<html><body>Device status</body></html>\n"}, conf=[
        'server.modules += ("mod_auth", "mod_authn_file", "mod_accesslog")',
        f'accesslog.filename = "{log}"',
        'auth.backend = "plain"', f'auth.backend.plain.userfile = "{w}/plain.users"',
        'auth.require = ("/" => ("method" => "basic", "realm" => "DSL Router", "require" => "valid-user"))'])
    return port, log


def lines(log: Path) -> int:
    time.sleep(0.3)  # lighttpd writes its log asynchronously
    return len(log.read_text().splitlines()) if log.exists() else 0


def run_nse(port: int, log: Path) -> tuple[float, int, str]:
    before = lines(log)
    start = time.monotonic()
    scanner = nmap.PortScanner()
    res = scanner.scan("127.0.0.1", str(port), arguments="-n -Pn -sV --script http-default-accounts", timeout=300)
    wall = time.monotonic() - start
    out = ""
    for host in res.get("scan", {}).values():
        out = host.get("tcp", {}).get(port, {}).get("script", {}).get("http-default-accounts", "")
    return wall, lines(log) - before, " ".join(out.split())[:160] or "(nothing reported)"


def run_probe(port: int, log: Path) -> tuple[float, int, str]:
    before = lines(log)
    start = time.monotonic()
    data = nmap_fingerprints.load()
    read = time.monotonic() - start
    f, _ = check_service("default_credentials", port, "http")
    f = one(f)
    wall = time.monotonic() - start
    first = f.details["planned"][0]
    return wall, lines(log) - before, (f"{f.status}: {f.summary[:100]} | read+translate {read * 1000:.0f} ms, "
                                       f"{len(data.fingerprints)} usable; first pair {first['username']}/"
                                       f"{first['password']} ({first.get('selected_by', 'general list')[:50]})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    assert WebAnswer  # the matcher's input type, used by check_service's run
    with LocalDaemons(Path(tempfile.mkdtemp(prefix="probe-nmapbench-"))) as d:
        for label, password in (("default apuser/apuser", "apuser"), ("strong password", STRONG_PASSWORD)):
            port, log = web_ui(d, password)
            for name, fn in (("A. NSE script", run_nse), ("B. probe reads fingerprints", run_probe)):
                rows = [fn(port, log) for _ in range(args.runs)]
                wall = statistics.median(r[0] for r in rows)
                reqs = statistics.median(r[1] for r in rows)
                print(f"| {label} | {name} | {wall:.2f} s | {reqs:.0f} | {rows[-1][2]} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
