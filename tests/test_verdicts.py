"""Unit tests of the aggregation rules in docs/verdicts.md (pure logic over findings)."""

import pytest

from probe.compliance.catalog import load_catalog
from probe.compliance.verdicts import clause_verdict
from probe.models import Finding, Status


def f(status: Status, check: str = "cleartext_authentication") -> Finding:
    return Finding(id=f"f-{status}", check_id=check, status=status, host="h", title="t", summary="s",
                   reason=None if status in (Status.PASS, Status.FAIL) else "why")


CAT = load_catalog()
NET = CAT.get("cls:5.1-3")  # network
PART = CAT.get("cls:5.1-1")  # partly-network
DOCS = CAT.get("cls:5.3-13")  # documents-only


@pytest.mark.parametrize("clause,findings,want", [
    (NET, [f(Status.PASS)], Status.PASS),
    (NET, [f(Status.PASS), f(Status.FAIL)], Status.FAIL),
    (NET, [f(Status.PASS), f(Status.INCONCLUSIVE)], Status.INCONCLUSIVE),
    (NET, [f(Status.NOT_APPLICABLE)], Status.NOT_APPLICABLE),
    (NET, [f(Status.NOT_APPLICABLE), f(Status.PASS)], Status.PASS),
    (NET, [], Status.INCONCLUSIVE),
    (PART, [f(Status.FAIL)], Status.FAIL),
    (PART, [f(Status.PASS)], Status.MANUAL),
    (PART, [f(Status.INCONCLUSIVE)], Status.INCONCLUSIVE),
    (PART, [], Status.MANUAL),
    (DOCS, [f(Status.FAIL)], Status.MANUAL),
    (DOCS, [], Status.MANUAL),
])
def test_rules(clause, findings, want) -> None:
    v = clause_verdict(clause, "h", findings, clause.checks, None)
    assert v.verdict is want
    assert v.reason


def test_never_pass_when_part_needs_documents() -> None:
    for clause in CAT.clauses:
        if clause.assessment.value != "network":
            v = clause_verdict(clause, "h", [f(Status.PASS)], clause.checks, None)
            assert v.verdict is not Status.PASS


def test_declaration_is_attached_not_a_pass() -> None:
    v = clause_verdict(DOCS, "h", [], DOCS.checks, {"support_period_end": "2030-01-01"})
    assert v.verdict is Status.MANUAL and v.basis == "declared"
    assert clause_verdict(DOCS, "h", [], DOCS.checks, None).basis == "manual"
