"""`probe run` against every lab variant must match the variant's ground truth.

All variants are scanned at once (separate `probe run` processes, as a lab would run them), then
each check's network result and each clause verdict is compared with the truth file. Only what
the installed checks cover is compared: a check named in the truth but not installed is skipped
for that check, and a clause is compared only when every check mapped to it is installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from probe.catalog import load_catalog
from probe.evidence import validate
from probe.lab import LabDevice
from probe.plugins import registry
from probe.verdicts import network_result
from probe.models import Finding, Status

SCAN_TIMEOUT = 900


def _truth(dev: LabDevice) -> dict[str, Any]:
    assert dev.truth, f"{dev.name} has no ground-truth file"
    return yaml.safe_load(Path(dev.truth).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scans(lab: dict[str, LabDevice], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out_dir = tmp_path_factory.mktemp("truth-scans")
    procs = {}
    for name, dev in lab.items():
        truth = _truth(dev)
        argv = [sys.executable, "-m", "probe", "run", "--target", dev.address, "--profile", truth["profile"],
                "--out", str(out_dir / f"{name}.json"), "--quiet", *[str(o) for o in truth.get("options", [])]]
        if dev.ca_cert:
            argv += ["--ca-file", dev.ca_cert]
        procs[name] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for name, proc in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=SCAN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        evidence = out_dir / f"{name}.json"
        results[name] = {"rc": proc.returncode, "stderr": stderr,
                         "doc": json.loads(evidence.read_text()) if evidence.exists() else None}
    return results


def _findings(doc: dict[str, Any], check_id: str) -> list[Finding]:
    return [Finding(id=f["id"], check_id=f["check_id"], status=Status(f["status"]), host=f["host"], title=f["title"],
                    summary=f["summary"], reason=f["reason"]) for f in doc["findings"] if f["check_id"] == check_id]


def _describe(doc: dict[str, Any], check_ids: list[str]) -> str:
    rows = [f"  {f['check_id']} {f['protocol']}/{f['port']}: {f['status']} {f['reason'] or f['summary']}"
            for f in doc["findings"] if f["check_id"] in check_ids]
    return "\n".join(rows[:30])


@pytest.mark.lab
@pytest.mark.parametrize("variant", ["weak-gateway", "hardened-gateway", "camera"])
def test_scan_completes_with_valid_evidence(scans: dict[str, dict[str, Any]], variant: str) -> None:
    res = scans[variant]
    assert res["doc"] is not None, res["stderr"][-2000:]
    validate(res["doc"])
    assert res["doc"]["run"]["complete"], res["doc"]["run"]["incomplete_reasons"]
    assert "Traceback" not in res["stderr"]


@pytest.mark.lab
@pytest.mark.parametrize("variant", ["weak-gateway", "hardened-gateway", "camera"])
def test_checks_match_ground_truth(lab: dict[str, LabDevice], scans: dict[str, dict[str, Any]], variant: str) -> None:
    doc = scans[variant]["doc"]
    assert doc is not None
    installed = set(registry())
    mismatches = []
    compared = 0
    for check_id, want in _truth(lab[variant])["checks"].items():
        if check_id not in installed or check_id not in doc["profile"]["checks"]:
            continue
        got = network_result(_findings(doc, check_id))
        expected = None if want["status"] == "none" else Status(want["status"])
        if want["status"] == "none" and got is Status.NOT_APPLICABLE:
            got = None  # the truth allows "no finding or NOT_APPLICABLE"
        compared += 1
        if got != expected:
            mismatches.append(f"{check_id}: got {got}, truth {expected} ({want['why']})\n"
                              + _describe(doc, [check_id]))
    assert compared >= 5, "too few checks compared: is the profile running the checks?"
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.lab
@pytest.mark.parametrize("variant", ["weak-gateway", "hardened-gateway", "camera"])
def test_clause_verdicts_match_ground_truth(lab: dict[str, LabDevice], scans: dict[str, dict[str, Any]],
                                            variant: str) -> None:
    doc = scans[variant]["doc"]
    assert doc is not None
    catalog = load_catalog()
    installed = set(registry())
    truth = _truth(lab[variant])["clauses"]
    got = {c["id"]: c for c in doc["clauses"]}
    assert set(truth) == set(got), "the truth file and the scan disagree on the clauses in scope"
    mismatches = []
    compared = 0
    for clause_id, want in truth.items():
        mapped = [c for c in catalog.get(clause_id).checks if c in doc["profile"]["checks"] or c not in installed]
        if any(c not in installed for c in mapped):
            continue  # a check this clause needs is not built yet
        compared += 1
        if got[clause_id]["verdict"] != want["verdict"]:
            mismatches.append(f"{clause_id}: got {got[clause_id]['verdict']} ({got[clause_id]['reason']}), "
                              f"truth {want['verdict']} ({want['why']})")
    assert compared >= 10
    assert not mismatches, "\n".join(mismatches)
