"""`probe run` against every lab variant, compared with the truth written from its configuration.

Each variant is scanned twice, with default options and with the brute-force opt-in (the options
are in its truth file, tests/lab/truth.py reads it). For every scan the test compares, with its own
code and never probe's aggregation: the services probe found, the roles it gave them, every
check's finding on every service, every clause verdict (derived from the truth's findings by the
catalog's evidence rules) and the truth's "must" statements.

The scans use the session's lab (conftest.lab). Devices are scanned in parallel, but each device
by one scan at a time, as a lab would: probe caps its connections per device within a run, and two
runs at once would double that and meet the device's own per-client limits (dropbear takes 5
unauthenticated connections per client address and resets the rest). Where the truth says the
scans share state (the hardened admin locks a client out after repeated failures), the lab forgets
the device's login failures before each scan, as a reboot would. Only a truth that says why its
device cannot be disturbed by it (the hostile device: probe's own servers, no per-client state,
32 connections each) has its scans run together.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from probe.lab import LabDevice, reset_login_state
from probe.lab.variants import known_variants
from probe.output.evidence import validate

from . import truth as T

SCAN_TIMEOUT = 600  # per scan; a scan's own --max-time, where its truth sets one, is far shorter
# the first test also brings the session's lab up and waits for every scan
pytestmark = [pytest.mark.lab, pytest.mark.timeout(2 * SCAN_TIMEOUT + 180)]
TRUTHS = {v: T.load_truth(T.truth_path(v)) for v in known_variants()}
CASES = [(v, s) for v, t in TRUTHS.items() for s in t.scans]
IDS = [f"{v}-{s}" for v, s in CASES]


def _scan(dev: LabDevice, truth: T.Truth, scan: str, out_dir: Path) -> dict[str, Any]:
    out = out_dir / f"{dev.name}-{scan}.json"
    argv = [sys.executable, "-m", "probe", "run", "--target", dev.address, "--profile", truth.profile,
            "--out", str(out), "--quiet", *truth.scans[scan]]
    if truth.ca_file:
        argv += ["--ca-file", str(dev.ca_cert)]
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=SCAN_TIMEOUT)
        rc, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, stderr = None, f"killed after {SCAN_TIMEOUT}s: {exc.stderr!r}"
    elapsed = time.monotonic() - started
    doc = json.loads(out.read_text()) if out.exists() else None
    return {"rc": rc, "stderr": stderr, "elapsed": elapsed, "doc": doc, "argv": argv}


@pytest.fixture(scope="module")
def scans(lab: dict[str, LabDevice], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    out_dir = tmp_path_factory.mktemp("truth-scans")
    chains: list[list[tuple[str, str]]] = []
    for name, truth in TRUTHS.items():
        if truth.parallel_scans:
            chains += [[(name, scan)] for scan in truth.scans]
        else:
            chains.append([(name, scan) for scan in truth.scans])
    results: dict[tuple[str, str], Any] = {}

    def run_chain(chain: list[tuple[str, str]]) -> None:
        for name, scan in chain:
            try:
                if TRUTHS[name].shared_state:
                    reset_login_state(lab[name])
                results[(name, scan)] = _scan(lab[name], TRUTHS[name], scan, out_dir)
            except Exception as exc:  # recorded, so the tests of this scan say what went wrong
                results[(name, scan)] = {"rc": None, "stderr": repr(exc), "elapsed": 0.0, "doc": None}

    threads = [threading.Thread(target=run_chain, args=(c,), daemon=True) for c in chains]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=2 * SCAN_TIMEOUT + 60)
    for name, truth in TRUTHS.items():  # hand the lab on as the scans found it (no client locked out)
        if truth.shared_state:
            reset_login_state(lab[name])
    return results


def _doc(scans: dict[tuple[str, str], Any], variant: str, scan: str) -> dict[str, Any]:
    res = scans[(variant, scan)]
    assert res["doc"] is not None, f"no evidence written (rc {res['rc']}): {res['stderr'][-2000:]}"
    return res["doc"]


@pytest.mark.parametrize(("variant", "scan"), CASES, ids=IDS)
def test_scan_completes_with_valid_evidence(scans: dict[tuple[str, str], Any], variant: str, scan: str) -> None:
    doc = _doc(scans, variant, scan)
    validate(doc)
    assert doc["run"]["complete"], doc["run"]["incomplete_reasons"]
    assert "Traceback" not in scans[(variant, scan)]["stderr"]


@pytest.mark.parametrize(("variant", "scan"), CASES, ids=IDS)
def test_services_match_truth(scans: dict[tuple[str, str], Any], variant: str, scan: str) -> None:
    truth = TRUTHS[variant]
    expected = {k: s.protocol for k, s in truth.services.items()}
    diff = T.differences(expected, T.observed_services(_doc(scans, variant, scan)), "service")
    assert not diff, "\n".join(diff)


@pytest.mark.parametrize(("variant", "scan"), CASES, ids=IDS)
def test_service_roles_match_truth(scans: dict[tuple[str, str], Any], variant: str, scan: str) -> None:
    truth = TRUTHS[variant]
    got = T.observed_roles(_doc(scans, variant, scan))
    if got is None:
        pytest.skip("the evidence has no service roles yet (schema 2.0.0, issue 11 sections 1-2)")
    want = {k: sorted(v) for k, v in truth.visible_roles().items()}
    diff = T.differences(want, {k: sorted(v) for k, v in got.items()}, "roles of")
    assert not diff, "\n".join(diff)


@pytest.mark.parametrize(("variant", "scan"), CASES, ids=IDS)
def test_findings_match_truth(scans: dict[tuple[str, str], Any], variant: str, scan: str) -> None:
    """Every check of the profile, on every service: the worst status probe wrote there."""
    truth = TRUTHS[variant]
    doc = _doc(scans, variant, scan)
    checks = T.profile(truth.profile)["checks"]
    assert doc["profile"]["checks"] == checks, "the scan ran other checks than the profile lists"
    diff = T.differences(truth.expected(scan), T.observed_findings(doc, checks), "finding", T.reasons(truth, scan))
    assert not diff, "\n".join(diff)


@pytest.mark.parametrize(("variant", "scan"), CASES, ids=IDS)
def test_clause_verdicts_match_truth(scans: dict[tuple[str, str], Any], variant: str, scan: str) -> None:
    """Every clause in scope: probe's verdict against the one the truth's findings imply."""
    catalog = T.load_catalog()
    if not T.catalog_has_rules(catalog):
        pytest.skip("the catalog has no evidence rules yet (issue 11 sections 1-2, branch rules)")
    derived = T.derive_verdicts(TRUTHS[variant], scan, catalog)
    diff = T.differences(derived, T.observed_verdicts(_doc(scans, variant, scan)), "clause")
    assert not diff, "\n".join(diff)


@pytest.mark.parametrize(("variant", "scan"), CASES, ids=IDS)
def test_must_statements_hold(scans: dict[tuple[str, str], Any], variant: str, scan: str) -> None:
    got = T.observed_verdicts(_doc(scans, variant, scan))
    broken = [f"{m.describe()}; probe says {got.get(m.clause)}" for m in TRUTHS[variant].must
              if scan in m.scans and not m.holds(got.get(m.clause, "missing"))]
    assert not broken, "\n".join(broken)


def _max_time(options: tuple[str, ...]) -> float | None:
    return float(options[options.index("--max-time") + 1]) if "--max-time" in options else None


@pytest.mark.parametrize("scan", list(TRUTHS["hostile"].scans))
def test_hostile_scan_is_bounded_and_passes_no_broken_port(lab: dict[str, LabDevice],
                                                           scans: dict[tuple[str, str], Any], scan: str) -> None:
    """The broken device: the run finishes inside its --max-time (plus the stop grace and the
    evidence write), every service is identified as what it pretends to be, and the only PASS is
    the one real, working daemon (OpenSSH on 222, whose banner is hostile but whose algorithms are
    fine)."""
    dev, res = lab["hostile"], scans[("hostile", scan)]
    doc = _doc(scans, "hostile", scan)
    bound = _max_time(TRUTHS["hostile"].scans[scan])
    assert bound is not None, "the hostile truth must bound its runs with --max-time"
    assert res["elapsed"] < bound + 15, f"hostile scan took {res['elapsed']:.0f}s"
    assert doc["run"]["complete"], "the truth assumes a complete run: make the scan faster, not the bound longer"
    expected = {s.port: s.protocol for s in dev.services}
    found = {s["port"]: s["protocol"] for s in doc["services"] if s["transport"] == "tcp"}
    assert found == expected
    passes = [(f["check_id"], f["port"]) for f in doc["findings"] if f["status"] == "PASS"]
    assert passes == [("ssh_algorithms", dev.port("ssh-hostile-banner"))], passes
    broken = {s.port for s in dev.services if s.daemon == "hostile"}
    for f in doc["findings"]:
        if f["port"] in broken and f["status"] == "NOT_APPLICABLE":
            raise AssertionError(f"{f['check_id']} on broken port {f['port']}: NOT_APPLICABLE ({f['reason']})")
        if f["status"] == "INCONCLUSIVE":
            assert f["reason_code"] and f["reason"], f
    # the hostile bytes stay verbatim in the evidence, and never reach the terminal raw
    assert "\x1b" not in res["stderr"]
