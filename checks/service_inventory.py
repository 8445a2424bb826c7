"""Turns discovery's service list into a judged inventory finding.

A service that discovery could not identify is listed as such, with the first bytes it sent (hex
and escaped text) and what was tried, never dropped: an undocumented or proprietary protocol is
an interface an assessor must have explained ("unused interfaces disabled"), so it keeps the
inventory from passing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Service, Status
from probe.plugins import Check
from probe.protocols.transcript import escape

FIRST_BYTES = 64  # of an unidentified service's first answer, shown in the finding


def _unidentified(ctx: CheckContext, s: Service) -> dict[str, Any]:
    art = ctx.store.artefacts.get(s.banner_artefact) if s.banner_artefact else None
    data = art.data[:FIRST_BYTES] if art else b""
    return {"port": s.port, "transport": s.transport, "guess": s.protocol, "method": s.method,
            "probes_tried": list(s.probes) or (["none: identification was cut short"]
                                               if s.method.endswith("-unidentified") else []),
            "first_bytes_hex": data.hex(), "first_bytes_text": escape(data), "banner_artefact": s.banner_artefact,
            "product": s.product}


class ServiceInventory(Check):
    check_id = "service_inventory"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        inventory = [s.to_json() for s in ctx.services]
        art = ctx.artefact("inventory", f"{ctx.host} open services",
                           json.dumps(inventory, indent=1, sort_keys=True), media_type="application/json")
        disallowed = set(ctx.profile.get("disallowed_services") or ())
        bad = [s for s in ctx.services if s.protocol in disallowed]
        # not identified by any probe (a guess from the port number), or named by nmap outside probe's
        # vocabulary (no check can test it either)
        unknown = [s for s in ctx.services
                   if s.transport == "tcp" and (s.confidence == "port" or s.protocol == "unknown")]
        listing = ", ".join(f"{s.protocol}/{s.port}" for s in ctx.services) or "none"
        evidence = [art] + [s.banner_artefact for s in [*bad, *unknown] if s.banner_artefact]
        unidentified = [_unidentified(ctx, s) for s in unknown]
        details = {"services": [f"{s.port}/{s.transport} {s.protocol}" for s in ctx.services],
                   "disallowed_found": [f"{s.port}/{s.transport} {s.protocol}" for s in bad],
                   "unidentified": unidentified}
        if bad:
            yield ctx.finding(Status.FAIL, "Services exposed that the profile says must be off",
                              "Exposed: " + ", ".join(f"{s.protocol} on {s.port}/{s.transport}" for s in bad)
                              + (f"; also unidentified: {', '.join(str(s.port) for s in unknown)}" if unknown else ""),
                              details=details, artefacts=evidence, severity="high")
        elif unknown:
            shown = "; ".join(f"{u['port']}/tcp (first bytes {u['first_bytes_text'][:40] or 'none'!s}, tried "
                              f"{', '.join(u['probes_tried']) or 'nothing'})" for u in unidentified)
            yield ctx.inconclusive(f"Unidentified services: {shown}",
                                   f"{len(unknown)} open port(s) speak a protocol probe could not identify; "
                                   "an assessor must have the manufacturer explain each (undocumented or "
                                   "proprietary interfaces are what the unused-interfaces clauses are about)",
                                   InconclusiveReason.UNSUPPORTED, title="Unidentified services exposed",
                                   details=details, artefacts=evidence)
        elif not ctx.discovery_complete:
            yield ctx.inconclusive(f"Partial inventory: {listing}", "discovery did not complete, so the "
                                   "inventory may miss services", InconclusiveReason.INTERRUPTED,
                                   details=details, artefacts=evidence)
        else:
            yield ctx.finding(Status.PASS, "No disallowed service exposed", f"Open services: {listing}",
                              details=details, artefacts=evidence, severity="info")
