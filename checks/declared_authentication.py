"""The authentication the manufacturer declares per interface, compared with what the checks saw.

Reads the findings of default_credentials, unauthenticated_access and cleartext_authentication on
each declared port (this check runs after them and sends nothing). A declared unique or user-set
password is contradicted by a publicly known default credential that logs in, or by access
without any login; "none" is contradicted by a login the device asks for. Every finding cites the
declaration and the evidence of the findings it compares.
"""

from __future__ import annotations

from collections.abc import Iterator

from probe.compliance.declaration import Declared, DeclaredInterface
from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Service, Status
from probe.plugins import Check

OBSERVERS = ("default_credentials", "unauthenticated_access", "cleartext_authentication")
SECRET = ("unique-per-device", "user-set-at-first-use")


class DeclaredAuthentication(Check):
    check_id = "declared_authentication"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        decl = ctx.declaration
        if decl is None or decl.interfaces is None:  # the engine does not schedule this check then
            yield ctx.inconclusive("No declared interfaces to compare.", "the declaration lists no interfaces",
                                   InconclusiveReason.NO_INPUT)
            return
        services = {(s.transport, s.port): s for s in ctx.services}
        prior = [f for f in ctx.findings_so_far() if f.check_id in OBSERVERS]
        compared = 0
        for d in decl.interfaces:
            svc = services.get((d.transport, d.port))
            if d.authentication is None or svc is None:
                continue  # nothing stated, or not open (declared_interfaces reports that)
            ctx.check_cancelled()
            compared += 1
            mine = [f for f in prior if f.port == d.port and (f.transport or "tcp") == d.transport]
            yield self._compare(ctx, d, svc, mine, decl)
        if not compared:
            yield ctx.finding(Status.NOT_APPLICABLE, "No declared authentication to compare",
                              "No open service is a declared interface with a stated authentication.",
                              reason="no declared interface with `authentication` is open on the device",
                              artefacts=[decl.artefact] if decl.artefact else [], severity="info")

    def _compare(self, ctx: CheckContext, d: DeclaredInterface, svc: Service, mine: list[Finding],
                 decl: Declared) -> Finding:
        def of(check: str, status: Status) -> list[Finding]:
            return [f for f in mine if f.check_id == check and f.status is status]

        where = f"{decl.file}" + (f" line {d.line}" if d.line else "")
        seen = f"{svc.protocol} on {svc.transport}/{svc.port}"
        observed = [{"finding": f.id, "check": f.check_id, "status": str(f.status), "title": f.title} for f in mine]
        details = {"service": svc.key(), "declared": d.to_json(), "observed": observed}
        head = [decl.artefact] if decl.artefact else []

        def cite(fs: list[Finding]) -> list[str]:
            return head + sorted({a for f in fs for a in f.artefacts})

        default_fail = of("default_credentials", Status.FAIL)
        open_fail = of("unauthenticated_access", Status.FAIL)
        login_asked = default_fail + of("default_credentials", Status.PASS) + of("cleartext_authentication",
                                                                                  Status.FAIL)
        if d.authentication in SECRET:
            said = f"{where} declares {d.authentication} authentication on {seen}"
            if default_fail:
                return ctx.finding(Status.FAIL, "Declared authentication contradicted: default credential works",
                                   f"{said}, but a publicly known default credential logs in "
                                   f"({'; '.join(f.summary for f in default_fail)[:400]}).",
                                   details=details, artefacts=cite(default_fail), service=svc, severity="high")
            if open_fail:
                return ctx.finding(Status.FAIL, "Declared authentication contradicted: access without login",
                                   f"{said}, but it serves access without any login "
                                   f"({'; '.join(f.summary for f in open_fail)[:400]}).",
                                   details=details, artefacts=cite(open_fail), service=svc, severity="high")
            passed = of("default_credentials", Status.PASS)
            if passed:
                return ctx.finding(Status.PASS, "Declared authentication consistent with the device",
                                   f"{said}: the device asks for a login there and no publicly known default "
                                   "credential was accepted. Whether each unit's password is really unique or set "
                                   "by the user is for the documents.", details=details, artefacts=cite(passed),
                                   service=svc, severity="info")
            return ctx.inconclusive(f"{said}; no check observed a login there to compare with.",
                                    "no default-credential result on this port (" +
                                    (", ".join(f"{o['check']} {o['status']}" for o in observed) or "none") + ")",
                                    InconclusiveReason.NO_INPUT, details=details, artefacts=cite(mine), service=svc)
        said = f"{where} declares no authentication on {seen}"
        if login_asked:
            return ctx.finding(Status.FAIL, "Declared authentication contradicted: a login is asked",
                               f"{said}, but the device asks for credentials there "
                               f"({'; '.join(f.summary for f in login_asked)[:400]}).",
                               details=details, artefacts=cite(login_asked), service=svc)
        consistent = open_fail + [f for f in mine if f.check_id == "default_credentials"
                                  and f.status is Status.NOT_APPLICABLE]
        if consistent:
            return ctx.finding(Status.PASS, "Declared authentication consistent with the device",
                               f"{said}: no login is asked there, as declared "
                               f"({'; '.join(f.title for f in consistent)[:300]}).",
                               details=details, artefacts=cite(consistent), service=svc, severity="info")
        if not mine:
            return ctx.finding(Status.NOT_APPLICABLE, "Authentication not observable on this protocol",
                               f"{said}; probe has no check that observes logins on {svc.protocol}.",
                               reason=f"no check observes authentication on {svc.protocol}",
                               details=details, artefacts=head, service=svc, severity="info")
        return ctx.inconclusive(f"{said}; the checks on this port could not show whether a login is asked.",
                                ", ".join(f"{o['check']} {o['status']}" for o in observed),
                                InconclusiveReason.NO_INPUT, details=details, artefacts=cite(mine), service=svc)
