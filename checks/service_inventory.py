"""Turns discovery's service list into a judged inventory finding."""

from __future__ import annotations

import json
from collections.abc import Iterator

from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import Check


class ServiceInventory(Check):
    check_id = "service_inventory"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        inventory = [s.to_json() for s in ctx.services]
        art = ctx.artefact("inventory", f"{ctx.host} open services",
                           json.dumps(inventory, indent=1, sort_keys=True), media_type="application/json")
        disallowed = set(ctx.profile.get("disallowed_services") or ())
        bad = [s for s in ctx.services if s.protocol in disallowed]
        listing = ", ".join(f"{s.protocol}/{s.port}" for s in ctx.services) or "none"
        evidence = [art] + [s.banner_artefact for s in bad if s.banner_artefact]
        details = {"services": [f"{s.port}/{s.transport} {s.protocol}" for s in ctx.services],
                   "disallowed_found": [f"{s.port}/{s.transport} {s.protocol}" for s in bad]}
        if bad:
            yield ctx.finding(Status.FAIL, "Services exposed that the profile says must be off",
                              "Exposed: " + ", ".join(f"{s.protocol} on {s.port}/{s.transport}" for s in bad),
                              details=details, artefacts=evidence, severity="high")
        elif not ctx.discovery_complete:
            yield ctx.inconclusive(f"Partial inventory: {listing}", "discovery did not complete, so the "
                                   "inventory may miss services", InconclusiveReason.INTERRUPTED,
                                   details=details, artefacts=evidence)
        else:
            yield ctx.finding(Status.PASS, "No disallowed service exposed", f"Open services: {listing}",
                              details=details, artefacts=evidence, severity="info")
