"""bench/bench.py's code path without a lab: what it would run, its address guard and its report.

The benchmark itself needs root, the lab and ~10 minutes, so CI cannot run it; these tests run
everything around the timing (the truth file's scan options, the specialised-tool commands built
from a real, trimmed evidence file, the refusal of any non-lab address, the Markdown report, the
--dry-run command line) so a change that breaks the bench is caught. Nothing here is timed and
nothing sends a packet.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from probe.lab.variants import known_variants

REPO = Path(__file__).resolve().parents[1]
EVIDENCE = REPO / "tests" / "data" / "bench-evidence.json"  # weak-gateway, trimmed to what the bench reads
ADDR = "10.231.226.22"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("probe_bench", REPO / "bench" / "bench.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["probe_bench"] = mod  # dataclasses look their module up while the class is made
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def doc() -> dict[str, Any]:
    return json.loads(EVIDENCE.read_text())


def test_scan_plan_is_the_truth_files_default_scan(bench: ModuleType) -> None:
    plans = {v: bench.scan_plan(v) for v in known_variants()}
    assert plans["hostile"].options == ("--max-time", "90") and plans["hostile"].profile == "general-iot"
    assert plans["weak-gateway"].options == () and plans["weak-gateway"].profile == "home-gateway"
    assert plans["hardened-gateway"].ca_file and plans["hardened-gateway"].shared_state  # lockout: reset each scan


def test_specialised_commands_from_probe_evidence(bench: ModuleType, doc: dict[str, Any], tmp_path: Path) -> None:
    cmds, skipped = bench.specialised_commands(doc, ADDR, tmp_path, Path("sslyze"))
    argvs = {c.tool: [] for c in cmds}
    for c in cmds:
        argvs[c.tool].append(list(c.argv))
    assert argvs["nmap -sS -p-"] == [["nmap", "-n", "-Pn", "-sS", "-p-", ADDR]]
    assert argvs["nmap -sU"] == [["nmap", "-n", "-Pn", "-sU", "-p", "53,161,1900,5351,5353", ADDR]]
    assert argvs["sslyze"] == [["sslyze", "--quiet", f"{ADDR}:8443"]]
    assert sorted(a[3] for a in argvs["ssh-audit"]) == ["22", "2222"]
    hydra = {a[a.index("-s") + 1]: a for a in argvs["hydra"]}
    # every service probe ran trials on; mqtt asked no login, so probe (and hydra) tried nothing there
    assert sorted(hydra, key=int) == ["21", "22", "23", "80", "161", "2222", "8443"] and not skipped
    assert hydra["80"][-2:] == ["http-get", "/admin/"] and hydra["8443"][-2:] == ["https-get", "/admin/"]
    assert "-f" in hydra["22"] and "-f" not in hydra["161"]  # probe tries every SNMP community
    # exactly the pairs probe planned for the service, in its order
    ssh = next(f for f in doc["findings"] if f["check_id"] == "default_credentials" and f["port"] == 22)
    planned = [f"{p['username']}:{p['password']}" for p in ssh["details"]["planned"]]
    assert Path(hydra["22"][hydra["22"].index("-C") + 1]).read_text().splitlines() == planned
    assert Path(hydra["161"][hydra["161"].index("-P") + 1]).read_text().splitlines() == ["public", "private"]


def test_a_login_hydra_cannot_test_is_left_out_and_said(bench: ModuleType, doc: dict[str, Any],
                                                        tmp_path: Path) -> None:
    for f in doc["findings"]:
        if f["check_id"] == "default_credentials" and f["port"] == 80:
            f["details"]["login_kind"] = "form"
    cmds, skipped = bench.specialised_commands(doc, ADDR, tmp_path, Path("sslyze"))
    assert not any(c.tool == "hydra" and "80" in c.argv for c in cmds)
    assert len(skipped) == 1 and skipped[0].startswith("hydra: 80/tcp http")


def test_only_lab_addresses_are_ever_targets(bench: ModuleType, doc: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(bench.BenchError, match="not a lab address"):
        bench.specialised_commands(doc, "192.0.2.7", tmp_path, None)
    with pytest.raises(bench.BenchError, match="not a lab address"):
        bench.probe_cmd(["198.51.100.1"], tmp_path / "x.json", "home-gateway")
    with pytest.raises(bench.BenchError, match="names 10.231.9.9"):
        bench.check_targets(["sslyze", "10.231.9.9:443"], ADDR)
    bench.check_targets(["ssh-audit", "-p", "22", ADDR], ADDR)
    bench.check_targets(["hydra", "-s", "22", "::1", "ssh"], "::1")


def test_report_states_ratio_phases_and_targets(bench: ModuleType, doc: dict[str, Any]) -> None:
    M = bench.Measure
    plan = bench.scan_plan("weak-gateway")
    for f in doc["findings"]:  # a lockout pause, as the hardened gateway's admin login makes probe wait
        if f["check_id"] == "default_credentials" and f["port"] == 22:
            f["details"]["lockout_waits"] = [{"after_attempts": 8, "status": 429, "waited_s": 31.0}]
    ph = bench.phases(doc, ADDR)
    assert (ph.sweep, ph.identify, ph.rate_pps, ph.ports, ph.credential_waits) == (6.885, 3.238, 10000, 65535, 31.0)
    assert next(iter(ph.checks_busy)) == "update_mechanism" and ph.slowest[0] == ("update_mechanism", None, 2.098)
    r = bench.VariantResult("weak-gateway", ADDR, plan, M(12.0, 2.0, 66.0, 1),
                            {"nmap -sS -p-": M(2.0, 0.8, 26.0, 0), "hydra": M(8.0, 0.5, 35.0, 0)}, ph, 12,
                            [(["probe", "run"], M(12.0, 2.0, 66.0, 1))], ["hydra: 1883/tcp mqtt: no module"])
    slow = bench.VariantResult("camera", "10.231.203.6", bench.scan_plan("camera"), M(30.0, 2.0, 70.0, 1),
                               {"hydra": M(10.0, 0.5, 35.0, 0, timed_out=True)}, None, 5, [])
    failed = bench.VariantResult("hostile", "10.231.203.10", bench.scan_plan("hostile"), M(0, 0, 0, -1), {}, None, 0,
                                 [], error="probe wrote no evidence (rc 2)")
    scaling = [bench.Scaling(1, M(12.0, 2.0, 66.0, 1)), bench.Scaling(16, M(30.0, 20.0, 250.0, 1))]
    text = bench.render_report([r, slow, failed], scaling, ["# header"])
    assert "| weak-gateway | 12.00 | 10.00 | **1.20×** | **NOT met** | 66 |" in text
    assert "| camera | 30.00 | >10.00 | ≤**3.00×** | **NOT met** | 70 |" in text  # a cut-off tool: upper bound
    assert "| hostile | – | – | – | not measured: probe wrote no evidence (rc 2) | – |" in text
    assert "16 devices in one run: **2.50×** one device (target ≤ 3×: met)" in text
    assert "peak memory, 16 devices: **250 MB** (target < 200 MB: **NOT met**)" in text
    assert ("| weak-gateway | 6.88 (syn-scan, 65,535 ports, 10,000 pps) | 3.24 | 0.00 | 1.88 | 31.0 | "
            "update_mechanism 2.1, update_channel 2.0, upnp_exposure 2.0, model_designation 1.9 | ") in text
    assert "Left out of the sum: hydra: 1883/tcp mqtt: no module." in text


def test_dry_run_prints_every_variant_and_the_tools(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(REPO / "bench" / "bench.py"), "--dry-run", "--evidence", str(EVIDENCE)],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for v in known_variants():
        assert any(ln.startswith(f"{v}: ") and " -m probe run --profile " in ln for ln in lines), v
    assert any(ln.startswith("hostile: ") and "--max-time 90" in ln for ln in lines)
    assert f"nmap -n -Pn -sS -p- {ADDR}" in r.stdout and "hydra" in r.stdout
    bad = subprocess.run([sys.executable, str(REPO / "bench" / "bench.py"), "--dry-run", "--variants", "toaster"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown variant(s) toaster" in bad.stderr


def test_tools_stop_at_their_timeout_and_the_variants_budget(bench: ModuleType) -> None:
    stall = bench.ToolCommand("stall", ("sleep", "30"), "a tool that hangs, as hydra does on the hostile device")
    after = bench.ToolCommand("next", ("true",), "")
    cut, skipped = bench.run_tools([stall, after], "127.0.0.1", timeout=0.5, budget=0.5)
    assert cut.timed_out and cut.wall < 30  # killed, not waited for
    assert skipped == bench.Measure(0.0, 0.0, 0.0, -1, timed_out=True)  # no budget left: not run, counted 0 s
    assert bench.total([cut, skipped]).timed_out  # so the sum is shown as a lower bound
