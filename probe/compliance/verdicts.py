"""From findings to clause verdicts: the rules in docs/verdicts.md, in one place.

A clause's evidence rules (probe/data/catalog/*.yaml) select the findings that count for it, by
check and by the role of the service each finding is about (probe/compliance/roles.py). Only
those findings can change the clause's verdict, each in the direction its rule allows:
`decides` and `fails-only` findings decide, `supports` findings are attached and never decide.
A check never writes a verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from probe.compliance.catalog import Clause, EvidenceRule
from probe.compliance.roles import finding_roles
from probe.models import (
    Assessment,
    ClauseVerdict,
    DeviceState,
    Effect,
    Finding,
    InconclusiveReason,
    RuleResult,
    ServiceRole,
    Status,
)

Roles = dict[str, tuple[ServiceRole, ...]]


def network_result(findings: Iterable[Finding]) -> Status | None:
    statuses = {f.status for f in findings}
    for s in (Status.FAIL, Status.INCONCLUSIVE, Status.PASS, Status.NOT_APPLICABLE):
        if s in statuses:
            return s
    return None


def selects(rule: EvidenceRule, finding: Finding, roles: Roles | None) -> bool:
    """Does the rule select the finding: the same check, and (when the rule names roles) a finding
    about a service that has one of them. A device-scoped finding has no service, so only a rule
    without roles selects it."""
    if finding.check_id != rule.check:
        return False
    if not rule.roles:
        return True
    have = finding_roles(finding, roles or {})
    return bool(have and have.intersection(rule.roles))


def clauses_for_finding(finding: Finding, clauses: Iterable[Clause], roles: Roles | None) -> tuple[str, ...]:
    """The clauses whose rules select this finding (what `findings[].clauses` records)."""
    return tuple(c.id for c in clauses if any(selects(r, finding, roles) for r in c.rules))


def _summarise(findings: list[Finding], status: Status) -> str:
    hits = [f for f in findings if f.status is status]
    parts = []
    for f in hits[:4]:
        where = f"{f.protocol or ''}/{f.port}" if f.port else "device"
        parts.append(f"{f.check_id} on {where}: {f.reason or f.summary}")
    more = f" (+{len(hits) - 4} more)" if len(hits) > 4 else ""
    return "; ".join(parts) + more


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: dict[str, Finding] = {}
    for f in findings:
        seen.setdefault(f.id, f)
    return list(seen.values())


def clause_verdict(clause: Clause, target: str, findings: list[Finding], scheduled_checks: Iterable[str],
                   declaration: dict[str, Any] | None, *, roles: Roles | None = None,
                   device_state: DeviceState = DeviceState.INITIALISED) -> ClauseVerdict:
    """The verdict for one clause on one target, from the target's findings its rules select."""
    scheduled = set(scheduled_checks)
    checks = tuple(c for c in clause.checks if c in scheduled)
    mine = [f for f in findings if f.host == target]
    selected: list[tuple[EvidenceRule, list[Finding]]] = [
        (r, [f for f in mine if selects(r, f, roles)]) for r in clause.rules]
    deciding = [(r, fs) for r, fs in selected if r.effect is not Effect.SUPPORTS]
    d = _unique(f for _, fs in deciding for f in fs)
    decides = _unique(f for r, fs in deciding if r.effect is Effect.DECIDES for f in fs)
    d_ids = {f.id for f in d}
    supporting = tuple(f.id for f in _unique(f for r, fs in selected if r.effect is Effect.SUPPORTS for f in fs)
                       if f.id not in d_ids)
    rule_results = tuple(RuleResult(clause.rule_id(r), r.check, r.roles, r.effect, tuple(f.id for f in fs))
                         for r, fs in selected)
    net = network_result([f for f in d if f.status in (Status.FAIL, Status.INCONCLUSIVE)] + decides)
    fails = [f for f in d if f.status is Status.FAIL]
    # a FAIL is excused by the factory default state only when every rule that selected it says so
    exempt_ids = {f.id for f in fails if all(r.factory_default_exempt for r, fs in deciding if f in fs)}
    code: InconclusiveReason | None = None
    a = clause.assessment
    if not clause.text_confirmed:
        verdict = Status.MANUAL
        reason = ("the clause text is not confirmed, so network findings are attached but decide nothing"
                  + (f" (network result {net})" if net else "")
                  + "; confirm the official text with --catalog FILE (docs/catalog.md)")
    elif a is Assessment.DOCUMENTS:
        verdict = Status.MANUAL
        reason = "needs the manufacturer's documents"
        if net is not None or supporting:
            reason += "; network findings attached as supporting evidence" + (f" (network result {net})" if net else "")
    elif fails and (device_state is DeviceState.INITIALISED or len(exempt_ids) < len(fails)):
        verdict, reason = Status.FAIL, _summarise([f for f in fails if f.id not in exempt_ids] or fails, Status.FAIL)
    elif fails:
        verdict, code = Status.INCONCLUSIVE, InconclusiveReason.DEVICE_STATE
        reason = ("re-test after initial set-up: the operator states the device is in its factory default state "
                  "(--device-state factory), which this clause exempts; the working default login stays reported: "
                  + _summarise(fails, Status.FAIL))
    elif any(f.status is Status.INCONCLUSIVE for f in d):
        verdict = Status.INCONCLUSIVE
        reason = "could not be tested: " + _summarise(d, Status.INCONCLUSIVE)
        code = next(f.reason_code for f in d if f.status is Status.INCONCLUSIVE) or InconclusiveReason.NO_INPUT
    elif a is Assessment.NETWORK:
        if any(f.status is Status.PASS for f in decides):
            verdict, reason = Status.PASS, "every deciding finding passed: " + _summarise(decides, Status.PASS)
        elif decides:
            verdict, reason = Status.NOT_APPLICABLE, _summarise(decides, Status.NOT_APPLICABLE)
        else:
            verdict, code = Status.INCONCLUSIVE, InconclusiveReason.NO_INPUT
            ran = any(r.check in scheduled for r, _ in deciding)
            reason = ("the checks that decide this clause produced no finding" if ran
                      else "no check that decides this clause ran")
    else:  # partly-network, no failure seen
        verdict = Status.MANUAL
        seen = {Status.PASS: "the network showed no failure", Status.NOT_APPLICABLE: "nothing on the network to test",
                Status.FAIL: "", Status.INCONCLUSIVE: "", None: "no deciding network finding"}[net]
        reason = f"{seen}; the rest of the clause needs the manufacturer's documents"
    if declaration and verdict is Status.MANUAL:
        reason += "; declared by the manufacturer (not tested)"
    return ClauseVerdict(clause.id, target, verdict, reason, net, tuple(f.id for f in d), checks, declaration,
                         rules=rule_results, supporting=supporting, reason_code=code)
