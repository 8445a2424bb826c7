"""`probe run` end to end against real daemons on loopback, and its user-error paths."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from probe.output.evidence import validate
from tests.helpers.cli import InProcessCli, run_subprocess
from tests.helpers.daemons import LocalDaemons
from tests.helpers.netns import available
from tests.helpers.ports import free_port


@pytest.fixture
def telnet_and_ftp(daemons: LocalDaemons) -> tuple[int, int]:
    return daemons.telnetd(), daemons.vsftpd(anonymous=True)


def test_run_produces_schema_valid_evidence_with_real_findings(cli: InProcessCli, telnet_and_ftp: tuple[int, int],
                                                               tmp_path: Path) -> None:
    t_port, f_port = telnet_and_ftp
    out = tmp_path / "ev.json"
    r = cli("run", "--target", "127.0.0.1", "--profile", "home-gateway", "--ports", f"{t_port},{f_port}",
                "--out", str(out), "--no-credentials")
    assert r.returncode == 1, r.stderr  # a clause FAILs
    doc = json.loads(out.read_text())
    validate(doc)
    assert doc["run"]["complete"] is True
    protos = {(s["port"], s["protocol"]) for s in doc["services"]}
    assert (t_port, "telnet") in protos and (f_port, "ftp") in protos
    # schema 2: each service's roles, with why; the operator's device state (not stated: the default)
    roles = {s["port"]: [r["role"] for r in s["roles"]] for s in doc["services"]}
    assert roles[t_port] == ["management"] and roles[f_port] == ["data"]
    assert doc["schema_version"].startswith("2.") and doc["catalog"]["overlays"] == []
    assert (doc["run"]["device_state"], doc["run"]["device_state_source"]) == ("initialised", "default")
    by_port = {(f["check_id"], f["port"]): f for f in doc["findings"]}
    ftp = by_port[("cleartext_authentication", f_port)]
    assert ftp["status"] == "FAIL" and "331" in ftp["summary"]
    telnet = by_port[("cleartext_authentication", t_port)]
    assert telnet["status"] == "FAIL"
    arts = {a["id"]: a for a in doc["artefacts"]}
    # the transcript is there, verbatim, with its digest
    t = arts[ftp["evidence"][0]]
    assert "USER probe-cleartext-check" in t["content"]
    assert hashlib.sha256(t["content"].encode()).hexdigest() == t["sha256"]
    verdicts = {c["id"]: c for c in doc["clauses"]}
    assert verdicts["cls:5.1-3"]["verdict"] == "FAIL"
    assert ftp["id"] in verdicts["cls:5.1-3"]["findings"]
    rule = next(r for r in verdicts["cls:5.1-3"]["rules"] if r["id"] == "cls:5.1-3#cleartext-login")
    assert ftp["id"] in rule["findings"] and rule["effect"] == "decides"
    assert verdicts["cls:5.3-13"]["verdict"] == "MANUAL"
    # every recognition path's gap set is in the evidence even without --apply-for
    assert any(p["holding"] == "jc-star" and p["apply_for"] == "cls" for p in doc["recognition"]["paths"])
    assert "cls:5.1-3" in r.stdout and "FAIL" in r.stdout


def test_gap_set_run_judges_only_the_gap(cli: InProcessCli, telnet_and_ftp: tuple[int, int], tmp_path: Path) -> None:
    t_port, f_port = telnet_and_ftp
    out = tmp_path / "ev.json"
    r = cli("run", "--target", "127.0.0.1", "--profile", "home-gateway", "--holding", "cls",
                "--apply-for", "jc-star", "--ports", f"{t_port},{f_port}", "--out", str(out))
    doc = json.loads(out.read_text())
    validate(doc)
    assert {c["id"] for c in doc["clauses"]} == {g["id"] for g in doc["recognition"]["chosen_path"]["gap_set"]}
    assert next(c for c in doc["clauses"] if c["id"] == "jc-star:S1.1-12")["verdict"] == "FAIL"
    assert r.returncode == 1


def test_closed_ports_only_is_reachable_but_nothing_to_test(cli: InProcessCli, tmp_path: Path) -> None:
    port = free_port()  # nothing listens: the host answers with RST
    out = tmp_path / "ev.json"
    r = cli("run", "--target", "127.0.0.1", "--profile", "general-iot", "--ports", str(port), "--out", str(out))
    doc = json.loads(out.read_text())
    validate(doc)
    cl = next(f for f in doc["findings"] if f["check_id"] == "cleartext_authentication")
    assert cl["status"] == "NOT_APPLICABLE"
    assert doc["run"]["complete"]
    # exit 4, not 0: the brute-force clauses stay INCONCLUSIVE without the operator's opt-in
    assert r.returncode == 4, r.stdout
    assert {c["id"] for c in doc["clauses"] if c["verdict"] == "INCONCLUSIVE"} == {"jc-star:S1.1-04", "cls:5.1-5"}


@pytest.mark.skipif(available() is not None, reason=str(available()))
def test_unreachable_target_exits_3_with_incomplete_evidence(tmp_path: Path) -> None:
    """In a fresh network namespace (`unshare --net`: only a down loopback, no routes) nothing can
    leave: the target is unreachable. A subprocess: an incomplete run ends the process itself."""
    out = tmp_path / "ev.json"
    r = run_subprocess("run", "--target", "10.231.254.9", "--ports", "1-200", "--out", str(out),
                       prefix=["unshare", "--net"], timeout=120)
    assert r.returncode == 3, r.stderr
    doc = json.loads(out.read_text())
    validate(doc)
    assert doc["run"]["complete"] is False
    assert "unreachable" in " ".join(doc["run"]["incomplete_reasons"])
    assert all(c["verdict"] != "PASS" for c in doc["clauses"])


@pytest.mark.parametrize("args,needle", [
    (["run", "--target", "127.0.0.1", "--profile", "no-such-profile"], "unknown profile"),
    (["run", "--target", "127.0.0.0/24"], "not a network"),
    (["run", "--target", "255.255.255.255"], "broadcast"),
    (["run", "--target", "127.0.0.1", "--max-connections", "0"], "--max-connections"),
    (["run", "--target", "127.0.0.1", "--out", "/nonexistent-dir/x.json"], "does not exist"),
    (["run", "--profile", "home-gateway"], "no target"),
    (["run", "--target", "127.0.0.1", "--bogus"], "unrecognized arguments"),
    (["plan", "--holding", "cls"], "--apply-for"),
    (["run", "--target", "127.0.0.1", "--ports", "70000"], "outside"),
])
def test_user_errors_are_one_line_exit_2(cli: InProcessCli, args: list[str], needle: str) -> None:
    r = cli(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_malformed_profile_names_file_and_problem(cli: InProcessCli, tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("name: x\ndevice_class: toaster\nschemes: [cls]\ndiscovery: {tcp_ports: '1-10'}\nchecks: []\n")
    r = cli("plan", "--profile", str(bad))
    assert r.returncode == 2 and str(bad) in r.stderr and "device_class" in r.stderr
    bad.write_text("name: [unclosed\n")
    r = cli("plan", "--profile", str(bad))
    assert r.returncode == 2 and "line" in r.stderr and "Traceback" not in r.stderr
