"""From findings to clause verdicts: the rules in docs/verdicts.md, in one place.

Verdicts are computed from findings plus the catalog mapping; a check never writes one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from probe.compliance.catalog import Clause
from probe.models import Assessment, ClauseVerdict, Finding, Status


def network_result(findings: Iterable[Finding]) -> Status | None:
    statuses = {f.status for f in findings}
    for s in (Status.FAIL, Status.INCONCLUSIVE, Status.PASS, Status.NOT_APPLICABLE):
        if s in statuses:
            return s
    return None


def _summarise(findings: list[Finding], status: Status) -> str:
    hits = [f for f in findings if f.status is status]
    parts = []
    for f in hits[:4]:
        where = f"{f.protocol or ''}/{f.port}" if f.port else "device"
        parts.append(f"{f.check_id} on {where}: {f.reason or f.summary}")
    more = f" (+{len(hits) - 4} more)" if len(hits) > 4 else ""
    return "; ".join(parts) + more


def clause_verdict(clause: Clause, target: str, findings: list[Finding], scheduled_checks: Iterable[str],
                   declaration: dict[str, Any] | None) -> ClauseVerdict:
    """The verdict for one clause on one target (findings already filtered to this clause/target)."""
    checks = tuple(c for c in clause.checks if c in set(scheduled_checks))
    net = network_result(findings)
    ids = tuple(f.id for f in findings)
    a = clause.assessment
    if a is Assessment.DOCUMENTS:
        verdict = Status.MANUAL
        reason = "needs the manufacturer's documents"
        if net is not None:
            reason += f"; network findings attached as supporting evidence (network result {net})"
    elif net is Status.FAIL:
        verdict, reason = Status.FAIL, _summarise(findings, Status.FAIL)
    elif net is Status.INCONCLUSIVE:
        verdict, reason = Status.INCONCLUSIVE, "could not be tested: " + _summarise(findings, Status.INCONCLUSIVE)
    elif a is Assessment.NETWORK:
        if net is None:
            verdict = Status.INCONCLUSIVE
            reason = ("no check that evidences this clause ran" if not checks
                      else "the checks that evidence this clause produced no finding")
        elif net is Status.PASS:
            verdict, reason = Status.PASS, "every applicable check passed: " + _summarise(findings, Status.PASS)
        else:
            verdict, reason = Status.NOT_APPLICABLE, _summarise(findings, Status.NOT_APPLICABLE)
    else:  # partly-network, no failure seen
        verdict = Status.MANUAL
        seen = {Status.PASS: "the network showed no failure", Status.NOT_APPLICABLE: "nothing on the network to test",
                None: "no network check ran"}[net]
        reason = f"{seen}; the rest of the clause needs the manufacturer's documents"
    if declaration and verdict is Status.MANUAL:
        reason += "; declared by the manufacturer (not tested)"
    return ClauseVerdict(clause.id, target, verdict, reason, net, ids, checks, declaration)
