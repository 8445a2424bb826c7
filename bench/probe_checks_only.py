#!/usr/bin/env python3
"""probe's crypto checks on one known service, without discovery: what `probe run` spends on
the checks themselves, start-up (imports, catalog, plugins) included, for bench/crypto_bench.py.

    python3 bench/probe_checks_only.py HOST PORT PROTOCOL CHECK [CHECK ...]

Uses the public plugin API (`probe.api.run_single_check`), the same path the engine takes for a
service it discovered; prints one status line per finding.
"""

from __future__ import annotations

import sys

from probe.api import Service, run_single_check
from probe.compliance.catalog import load_catalog


def main() -> int:
    host, port, protocol, *checks = sys.argv[1:]
    svc = Service(host=host, port=int(port), transport="tcp", protocol=protocol, method="given",
                  tls=protocol in ("https", "tls", "mqtts"))
    catalog = load_catalog()
    for check in checks:
        findings, _store = run_single_check(check, host, [svc], service=svc, catalog=catalog)
        for f in findings:
            print(f"{check} {f.status}: {f.summary[:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
