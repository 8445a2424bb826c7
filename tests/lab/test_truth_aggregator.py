"""The ground-truth test's own aggregation (tests/lab/truth.py), on synthetic catalogs, truths and
evidence documents written to the evidence contract: rule selection by check and role, each
effect, each assessment, unconfirmed texts, the factory state, and reading probe's evidence.
No root, no lab, no probe code."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from . import truth as T

ROLES = {"tcp/22": frozenset({"management"}), "tcp/80": frozenset({"management", "update"}),
         "tcp/1883": frozenset({"device-api"}), "tcp/8443": frozenset()}


def clause(assessment: str = "network", rules: list[tuple[str, list[str], str]] | None = None,
           confirmed: bool = True, cid: str = "x:1") -> T.Clause:
    built = tuple(T.Rule(f"{cid}#{i}", check, frozenset(roles), effect)
                  for i, (check, roles, effect) in enumerate(rules or []))
    return T.Clause(cid, assessment, confirmed, frozenset(), built)


def verdict(c: T.Clause, *findings: tuple[str, str, str], state: str = "initialised") -> str:
    return T.clause_verdict(c, findings, ROLES, state)


def test_a_rule_selects_by_check_and_role() -> None:
    c = clause(rules=[("tls_configuration", ["update"], "decides")])
    assert verdict(c, ("tls_configuration", "tcp/80", "FAIL")) == "FAIL"      # 80 has the update role
    assert verdict(c, ("tls_configuration", "tcp/8443", "FAIL")) == "INCONCLUSIVE"  # no role: not selected
    assert verdict(c, ("ssh_algorithms", "tcp/80", "FAIL")) == "INCONCLUSIVE"      # other check


def test_device_level_findings_match_only_rules_without_roles() -> None:
    with_roles = clause(rules=[("update_channel", ["update"], "decides")])
    any_role = clause(rules=[("update_channel", [], "decides")])
    assert verdict(with_roles, ("update_channel", "device", "FAIL")) == "INCONCLUSIVE"
    assert verdict(any_role, ("update_channel", "device", "FAIL")) == "FAIL"
    assert verdict(any_role, ("update_channel", "tcp/8443", "FAIL")) == "FAIL"  # roles [] = any service


def test_fails_only_can_fail_but_never_pass_a_network_clause() -> None:
    c = clause(rules=[("cleartext_authentication", [], "fails-only")])
    assert verdict(c, ("cleartext_authentication", "tcp/80", "FAIL")) == "FAIL"
    assert verdict(c, ("cleartext_authentication", "tcp/80", "PASS")) == "INCONCLUSIVE"
    assert verdict(c, ("cleartext_authentication", "tcp/80", "INCONCLUSIVE")) == "INCONCLUSIVE"


def test_supports_never_decides() -> None:
    c = clause(rules=[("model_designation", [], "supports")])
    assert verdict(c, ("model_designation", "device", "FAIL")) == "INCONCLUSIVE"
    assert verdict(clause("partly-network", [("model_designation", [], "supports")]),
                   ("model_designation", "device", "FAIL")) == "MANUAL"


def test_network_clause_pass_not_applicable_and_no_finding() -> None:
    c = clause(rules=[("ssh_algorithms", ["management"], "decides"), ("tls_certificate", [], "fails-only")])
    assert verdict(c, ("ssh_algorithms", "tcp/22", "PASS"), ("tls_certificate", "tcp/8443", "PASS")) == "PASS"
    assert verdict(c, ("ssh_algorithms", "tcp/22", "NOT_APPLICABLE")) == "NOT_APPLICABLE"
    assert verdict(c) == "INCONCLUSIVE"
    assert verdict(c, ("ssh_algorithms", "tcp/22", "PASS"), ("tls_certificate", "tcp/8443", "INCONCLUSIVE")) \
        == "INCONCLUSIVE"
    assert verdict(c, ("ssh_algorithms", "tcp/22", "INCONCLUSIVE"), ("tls_certificate", "tcp/8443", "FAIL")) == "FAIL"


def test_partly_network_clause_is_manual_unless_fail_or_inconclusive() -> None:
    c = clause("partly-network", [("default_credentials", [], "decides")])
    assert verdict(c, ("default_credentials", "tcp/22", "PASS")) == "MANUAL"
    assert verdict(c) == "MANUAL"
    assert verdict(c, ("default_credentials", "tcp/22", "INCONCLUSIVE")) == "INCONCLUSIVE"
    assert verdict(c, ("default_credentials", "tcp/22", "FAIL"), ("default_credentials", "tcp/80", "PASS")) == "FAIL"


def test_unconfirmed_text_and_documents_only_are_manual_whatever_the_findings() -> None:
    rules = [("service_inventory", [], "decides")]
    assert verdict(clause("network", rules, confirmed=False), ("service_inventory", "device", "FAIL")) == "MANUAL"
    assert verdict(clause("documents-only", rules), ("service_inventory", "device", "FAIL")) == "MANUAL"


def test_factory_state_turns_a_default_password_fail_into_inconclusive_on_the_password_clauses() -> None:
    rules = [("default_credentials", [], "decides"), ("unauthenticated_access", [], "decides")]
    pw = clause("partly-network", rules, cid="cls:5.1-1")
    other = clause("partly-network", rules, cid="jc-star:S1.1-01")
    dflt = ("default_credentials", "tcp/22", "FAIL")
    assert verdict(pw, dflt, state="factory") == "INCONCLUSIVE"
    assert verdict(pw, dflt) == "FAIL"
    assert verdict(other, dflt, state="factory") == "FAIL"
    assert verdict(pw, dflt, ("unauthenticated_access", "tcp/1883", "FAIL"), state="factory") == "FAIL"


def test_a_clause_without_rules_cannot_be_judged() -> None:
    with pytest.raises(ValueError, match="no evidence rules"):
        T.clause_verdict(T.Clause("x:1", "network", True, frozenset(), None), [], {})


def _write(path: Path, doc: object) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_catalog_rules_are_read_from_the_data(tmp_path: Path) -> None:
    _write(tmp_path / "s.yaml", {"scheme": "s", "clauses": [
        {"number": "1", "assessment": "network", "text_confirmed": True, "device_classes": ["home-gateway"],
         "evidence": [{"id": "tls", "check": "tls_configuration", "roles": ["update"], "effect": "decides",
                       "why": "update crypto"}]},
        {"number": "2", "assessment": "documents-only", "checks": []}]})
    cat = T.load_catalog(tmp_path)
    assert cat["s:1"].rules == (T.Rule("s:1#tls", "tls_configuration", frozenset({"update"}), "decides"),)
    assert cat["s:1"].applies_to("home-gateway") and not cat["s:1"].applies_to("general-iot")
    assert cat["s:2"].rules == () and T.catalog_has_rules(cat)  # no rules of its own: nothing decides it
    _write(tmp_path / "s.yaml", {"scheme": "s", "clauses": [
        {"number": "1", "assessment": "network", "checks": ["tls_configuration"]}]})
    assert T.load_catalog(tmp_path)["s:1"].rules is None and not T.catalog_has_rules(T.load_catalog(tmp_path))
    _write(tmp_path / "s.yaml", {"scheme": "s", "clauses": [
        {"number": "1", "assessment": "network", "evidence": [{"id": "a", "check": "c", "effect": "maybe"}]}]})
    with pytest.raises(ValueError, match="unknown evidence effect"):
        T.load_catalog(tmp_path)


TRUTH = {
    "variant": "toy", "profile": "home-gateway",
    "scans": {"default": [], "brute-force": ["--allow-brute-force-test"]},
    "services": {
        "tcp/22": {"protocol": "ssh", "cite": ["README.md:1 # probe"],
                   "roles": {"management": {"source": "x", "why": "SSH"}}},
        "tcp/443": {"protocol": "https", "cite": ["README.md:1 # probe"],
                    "roles": {"management": {"source": "x", "why": "login"},
                              "update": {"source": "x", "why": "upload page", "needs_login": True}}},
    },
    "findings": {
        "ssh_algorithms": {"tcp/22": {"status": "FAIL", "source": "x", "why": "sha1"}},
        "tls_configuration": {"tcp/443": {"status": "FAIL", "source": "x", "why": "tls1.0"}},
        "brute_force_protection": {
            "device": {"status": "INCONCLUSIVE", "scans": ["default"], "source": "x", "why": "opt-in"},
            "tcp/22": {"status": "FAIL", "scans": ["brute-force"], "source": "x", "why": "none"}},
    },
    "must": [{"clause": "s:upd", "not": "FAIL", "source": "x", "why": "no visible update role"}],
}


def test_truth_expectations_per_scan_and_visible_roles(tmp_path: Path) -> None:
    t = T.load_truth(_write(tmp_path / "toy.truth.yaml", TRUTH))
    assert t.expected("default") == {("ssh_algorithms", "tcp/22"): "FAIL", ("tls_configuration", "tcp/443"): "FAIL",
                                     ("brute_force_protection", "device"): "INCONCLUSIVE"}
    assert t.expected("brute-force")[("brute_force_protection", "tcp/22")] == "FAIL"
    assert t.visible_roles() == {"tcp/22": {"management"}, "tcp/443": {"management"}}  # upload page needs a login
    m = t.must[0]
    assert m.holds("MANUAL") and not m.holds("FAIL") and m.scans == {"default", "brute-force"}


def test_weak_tls_on_a_service_without_a_visible_update_role_does_not_fail_update_crypto(tmp_path: Path) -> None:
    t = T.load_truth(_write(tmp_path / "toy.truth.yaml", TRUTH))
    upd = clause("partly-network", [("tls_configuration", ["update"], "decides"), ("update_channel", [], "decides")],
                 cid="s:upd")
    auth = clause("network", [("tls_configuration", ["management"], "decides")], cid="s:auth")
    findings = [(c, k, s) for (c, k), s in t.expected("default").items()]
    assert T.clause_verdict(upd, findings, t.visible_roles()) == "MANUAL"
    assert T.clause_verdict(auth, findings, t.visible_roles()) == "FAIL"


@pytest.mark.parametrize(("change", "message"), [
    ({"findings": {"ssh_algorithms": {"tcp/2222": {"status": "FAIL", "source": "x", "why": "y"}}}}, "not among"),
    ({"findings": {"ssh_algorithms": {"tcp/22": {"status": "BROKEN", "source": "x", "why": "y"}}}}, "status must"),
    ({"findings": {"ssh_algorithms": {"tcp/22": {"status": "FAIL", "why": "y"}}}}, "needs 'cite'"),
    ({"findings": {"ssh_algorithms": {"tcp/22": {"status": "FAIL", "source": "x", "why": "y", "scans": ["x"]}}}},
     "'scans' must"),
    ({"services": {"22": {"protocol": "ssh", "source": "x"}}}, "keys are 'tcp/PORT'"),
    ({"services": {"tcp/22": {"protocol": "ssh", "source": "x", "roles": {"admin": {"source": "x", "why": "y"}}}}},
     "unknown role"),
    ({"must": [{"clause": "s:1", "is": "GOOD", "source": "x", "why": "y"}]}, "exactly one of"),
    ({"clauses": {}}, "unknown keys"),
    ({"shared_state": {"source": "x", "why": "lockout"}, "parallel_scans": {"source": "x", "why": "no state"}},
     "cannot run in parallel"),
    ({"shared_state": "lockout"}, "needs 'why'"),
])
def test_malformed_truth_is_one_clear_error(tmp_path: Path, change: dict, message: str) -> None:
    doc = {**TRUTH, **change}
    with pytest.raises(T.TruthError, match=message):
        T.load_truth(_write(tmp_path / "toy.truth.yaml", doc))


def test_a_repeated_key_is_refused_not_silently_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path / "toy.truth.yaml", TRUTH)
    repeated = "findings:\n  ssh_algorithms:\n    tcp/22: {status: PASS, source: x, why: y}\n"
    path.write_text(path.read_text().replace("findings:\n", repeated, 1))
    with pytest.raises(T.TruthError, match="repeated key 'ssh_algorithms'"):
        T.load_truth(path)


def test_citations_are_checked_against_the_file_line() -> None:
    assert T.citation_problem("README.md:1 # probe") is None
    assert "does not say" in (T.citation_problem("README.md:1 # not probe") or "")
    assert "has no line" in (T.citation_problem("README.md:99999 x") or "")
    assert "no file" in (T.citation_problem("nope.conf:1 x") or "")
    assert "not 'path:LINE text'" in (T.citation_problem("README.md x") or "")


EVIDENCE = {
    "services": [
        {"host": "h", "port": 22, "transport": "tcp", "protocol": "ssh",
         "roles": [{"role": "management", "why": "ssh", "evidence": []}]},
        {"host": "h", "port": 161, "transport": "udp", "protocol": "snmp",
         "roles": [{"role": "management", "why": "snmp", "evidence": []}]},
    ],
    "findings": [
        {"check_id": "default_credentials", "port": 22, "transport": "tcp", "status": "PASS"},
        {"check_id": "default_credentials", "port": 161, "transport": "udp", "status": "FAIL"},
        {"check_id": "update_channel", "port": None, "transport": None, "status": "PASS"},
        {"check_id": "update_channel", "port": None, "transport": None, "status": "FAIL"},
        {"check_id": "update_channel", "port": None, "transport": None, "status": "INCONCLUSIVE"},
        {"check_id": "not_in_profile", "port": 22, "transport": "tcp", "status": "FAIL"},
    ],
    "clauses": [{"id": "cls:5.1-1", "verdict": "FAIL", "rules": [], "supporting": [], "text_confirmed": True,
                 "reason_code": None}],
}


def test_evidence_is_read_per_service_key_with_the_worst_status() -> None:
    got = T.observed_findings(EVIDENCE, ["default_credentials", "update_channel"])
    assert got == {("default_credentials", "tcp/22"): "PASS", ("default_credentials", "udp/161"): "FAIL",
                   ("update_channel", "device"): "FAIL"}
    assert T.observed_services(EVIDENCE) == {"tcp/22": "ssh", "udp/161": "snmp"}
    assert T.observed_roles(EVIDENCE) == {"tcp/22": {"management"}, "udp/161": {"management"}}
    assert T.observed_verdicts(EVIDENCE) == {"cls:5.1-1": "FAIL"}
    old = {"services": [{"port": 22, "transport": "tcp", "protocol": "ssh"}]}
    assert T.observed_roles(old) is None  # schema before 2.0.0: no roles to compare


def test_differences_name_missing_extra_and_changed_entries() -> None:
    lines = T.differences({"a": "PASS", "b": "FAIL"}, {"b": "PASS", "c": "FAIL"}, "finding",
                          {"a": "why a", "b": "why b"})
    assert lines == ["finding a: probe wrote nothing, truth PASS (why a)",
                     "finding b: probe PASS, truth FAIL (why b)",
                     "finding c: probe wrote FAIL, the truth expects nothing there"]
