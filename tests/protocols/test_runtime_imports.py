"""What probe imports at run time: no packet library (README, dependency table: scapy is a test
dependency only, and importing it reads the routing table and costs ~0.25 s and ~24 MB)."""

from __future__ import annotations

import subprocess
import sys

RUNTIME = ("import sys, pkgutil, importlib, probe, probe.cli, probe.engine, probe.plugins\n"
           "for pkg in ('probe.protocols', 'probe.services', 'probe.discovery', 'probe.commands', 'probe.reports'):\n"
           "    p = importlib.import_module(pkg)\n"
           "    for m in pkgutil.iter_modules(p.__path__):\n"
           "        importlib.import_module(f'{pkg}.{m.name}')\n"
           "list(probe.plugins.registry().values())  # every check module\n"
           "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scapy'))\n")


def test_no_run_time_module_imports_scapy() -> None:
    out = subprocess.run([sys.executable, "-c", RUNTIME], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout
