"""The lab's truth files, without root: the format holds, every citation says what it claims,
every service the configuration opens is described, and every check of the profile has an
expectation for every service it judges in every scan. When the catalog carries evidence rules,
the clause verdicts the truth implies also satisfy the truth's own "must" statements.
"""

from __future__ import annotations

import pytest
import yaml

from probe.lab.variants import known_variants, load_variant

from . import truth as T

VARIANTS = known_variants()


@pytest.fixture(scope="module", params=VARIANTS)
def truth(request: pytest.FixtureRequest) -> T.Truth:
    return T.load_truth(T.truth_path(request.param))


def test_every_variant_has_a_truth_file() -> None:
    for name in VARIANTS:
        assert T.truth_path(name).is_file(), name


def test_truth_names_its_variant_and_profile(truth: T.Truth) -> None:
    variant = load_variant(truth.path.name.removesuffix(".truth.yaml"))
    assert truth.variant == variant.name and truth.profile == variant.profile


def test_every_citation_says_what_it_claims(truth: T.Truth) -> None:
    problems = [f"{where}: {p}" for where, cite in T.citations(truth.raw) if (p := T.citation_problem(cite))]
    assert list(T.citations(truth.raw)), "a truth file without citations"
    assert not problems, "\n".join(problems)


def test_services_are_every_port_the_configuration_opens(truth: T.Truth) -> None:
    variant = load_variant(truth.variant)
    declared = {f"{p.transport}/{p.port}": p.protocol for s in variant.services for p in s.ports}
    got = {k: s.protocol for k, s in truth.services.items()}
    assert got.keys() == declared.keys()
    # the variant file names some protocols its own way (upnp-http, mqtt-tls): the truth uses the
    # evidence vocabulary, so only the port set must agree


def test_every_check_of_the_profile_has_an_expectation_per_service_and_scan(truth: T.Truth) -> None:
    checks = T.profile(truth.profile)["checks"]
    problems = []
    for scan in truth.scans:
        expected = truth.expected(scan)
        for check in checks:
            want = T.covered_keys(truth, check, scan) or {T.DEVICE}  # no service to judge: device N/A
            have = {key for (c, key) in expected if c == check}
            if have != want:
                problems.append(f"{scan}/{check}: expectations for {sorted(have)}, needs {sorted(want)}")
            if not T.covered_keys(truth, check, scan) and expected.get((check, T.DEVICE)) != "NOT_APPLICABLE":
                problems.append(f"{scan}/{check}: no service to judge, so the device-level expectation is "
                                "NOT_APPLICABLE")
        extra = {c for (c, _k) in expected} - set(checks)
        if extra:
            problems.append(f"{scan}: expectations for checks the profile does not run: {sorted(extra)}")
    assert not problems, "\n".join(problems)


def test_scans_are_default_options_and_the_brute_force_opt_in(truth: T.Truth) -> None:
    assert set(truth.scans) == {"default", "brute-force"}
    assert "--allow-brute-force-test" not in truth.scans["default"]
    assert "--allow-brute-force-test" in truth.scans["brute-force"]


def test_must_statements_name_clauses_in_scope(truth: T.Truth) -> None:
    scope = T.in_scope(T.load_catalog(), truth.profile)
    assert {m.clause for m in truth.must} <= set(scope)


def test_truth_files_hold_no_clause_verdicts() -> None:
    for name in VARIANTS:
        raw = yaml.safe_load(T.truth_path(name).read_text())
        assert "clauses" not in raw and "checks" not in raw, f"{name}: the old format"


def test_clause_verdicts_the_truth_implies_satisfy_its_must_statements(truth: T.Truth) -> None:
    catalog = T.load_catalog()
    if not T.catalog_has_rules(catalog):
        pytest.skip("the catalog has no evidence rules yet (issue 11 sections 1-2, branch rules)")
    broken = []
    for scan in truth.scans:
        derived = T.derive_verdicts(truth, scan, catalog)
        broken += [f"{scan}: {m.describe()}, derived {derived[m.clause]}"
                   for m in truth.must if scan in m.scans and not m.holds(derived[m.clause])]
    assert not broken, "\n".join(broken)


def test_the_issue_s_update_crypto_rule_gives_each_truth_s_5_3_7_must(truth: T.Truth) -> None:
    """Issue 11's own example rule, applied to the real truth files before the catalog has rules:
    cls:5.3-7 is decided by TLS/SSH findings only on services with the update role, and by the
    update channel itself. Every must statement about 5.3-7 follows from the truth under it."""
    crypto = [(check, ["update"], "decides") for check in ("tls_configuration", "tls_certificate", "ssh_algorithms")]
    rules = tuple(T.Rule(f"cls:5.3-7#{i}", check, frozenset(roles), effect)
                  for i, (check, roles, effect) in enumerate([*crypto, ("update_channel", [], "decides")]))
    clause = T.Clause("cls:5.3-7", "partly-network", True, frozenset(), rules)
    musts = [m for m in truth.must if m.clause == "cls:5.3-7"]
    for scan in truth.scans:
        findings = [(c, k, s) for (c, k), s in truth.expected(scan).items()]
        got = T.clause_verdict(clause, findings, truth.visible_roles())
        for m in musts:
            assert m.holds(got), f"{scan}: {m.describe()}, derived {got}"
