"""The interfaces the manufacturer declares, compared with the services the device shows.

ETSI TS 103 701 has the manufacturer declare the device's interfaces (ICS/IXIT) and the lab check
the device against them. An open service the declaration does not list is an interface nobody
declared the product needs: the evidence the unused-interfaces clause (jc-star:S1.1-13) asks for.
Every finding cites the declaration file (its line) and what discovery recorded (the service's
banner or handshake), plus one artefact listing both sides as compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from probe.compliance.declaration import Declared, DeclaredInterface
from probe.context import CheckContext
from probe.models import DeviceState, Finding, InconclusiveReason, Service, Status
from probe.plugins import Check

# identification that only guessed from the port number, or found TLS without what it carries:
# the declared protocol cannot be contradicted by it
_UNSURE = ("port",)
_OPAQUE = ("tls", "unknown")


def _declared_where(d: DeclaredInterface, decl: Declared) -> str:
    return f"{decl.file}" + (f" line {d.line}" if d.line else "")


class DeclaredInterfaces(Check):
    check_id = "declared_interfaces"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        decl = ctx.declaration
        if decl is None or decl.interfaces is None:  # the engine does not schedule this check then
            yield ctx.inconclusive("No declared interfaces to compare.", "the declaration lists no interfaces",
                                   InconclusiveReason.NO_INPUT)
            return
        declared = {d.key(): d for d in decl.interfaces}
        observed = {f"{s.transport}/{s.port}": s for s in ctx.services}
        comparison = ctx.artefact("comparison", f"{ctx.host} declared vs observed interfaces", json.dumps({
            "declaration": {"file": decl.file, "sha256": decl.sha256, "artefact": decl.artefact},
            "declared": [d.to_json() for d in decl.interfaces],
            "observed": [s.to_json() for s in ctx.services],
            "discovery_complete": ctx.discovery_complete,
        }, indent=1, sort_keys=True), media_type="application/json")
        base = [comparison] + ([decl.artefact] if decl.artefact else [])
        factory = ctx.run.device_state is DeviceState.FACTORY
        for key in sorted(observed, key=lambda k: (k.split("/")[0], int(k.split("/")[1]))):
            ctx.check_cancelled()
            yield self._observed(ctx, observed[key], declared.get(key), decl, base, factory)
        tcp, udp = ctx.run.tcp_ports, ctx.run.udp_ports
        for key in sorted(set(declared) - set(observed)):
            d = declared[key]
            yield self._absent(ctx, d, decl, base, d.port in (tcp if d.transport == "tcp" else udp))

    def _observed(self, ctx: CheckContext, svc: Service, d: DeclaredInterface | None, decl: Declared,
                  base: list[str], factory: bool) -> Finding:
        arts = base + ([svc.banner_artefact] if svc.banner_artefact else [])
        seen = f"{svc.protocol} on {svc.port}/{svc.transport} (found by {svc.method}, {svc.confidence})"
        if d is None:
            return ctx.finding(
                Status.FAIL, "Open service not in the declared interfaces",
                f"{seen} is open, but the manufacturer's declaration ({decl.file}) lists no interface on "
                f"{svc.transport}/{svc.port}: an interface nobody declared the product needs, to be disabled or "
                "declared with its purpose.",
                details={"service": svc.key(), "observed_protocol": svc.protocol, "declared": None},
                artefacts=arts, service=svc)
        details = {"service": svc.key(), "observed_protocol": svc.protocol, "declared": d.to_json()}
        where = _declared_where(d, decl)
        if d.protocol != svc.protocol and svc.confidence not in _UNSURE and svc.protocol not in _OPAQUE:
            return ctx.finding(
                Status.FAIL, "Service differs from the declared interface",
                f"{seen}, but {where} declares {d.protocol} there ({d.purpose}): the service on this port is "
                "not the interface the manufacturer declared.", details=details, artefacts=arts, service=svc)
        if not d.enabled_by_default and factory:
            return ctx.finding(
                Status.FAIL, "Interface declared off by default is open",
                f"{seen}; {where} declares {d.protocol} ({d.purpose}) as disabled by default, and the operator "
                "states the device is in its factory default state (--device-state factory).",
                details=details, artefacts=arts, service=svc)
        note = "" if d.protocol == svc.protocol else (
            f" probe identified it only as {svc.protocol} ({svc.confidence}), which does not contradict the "
            "declared protocol.")
        off = "" if d.enabled_by_default else " It is declared off by default: enabled after set-up, as the device " \
            "state allows (initialised)."
        return ctx.finding(Status.PASS, "Open service is a declared interface",
                           f"{seen} is declared in {where}: {d.protocol}, {d.purpose}.{note}{off}",
                           details=details, artefacts=arts, service=svc, severity="info")

    def _absent(self, ctx: CheckContext, d: DeclaredInterface, decl: Declared, base: list[str],
                scanned: bool) -> Finding:
        where = Service(ctx.host, d.port, d.transport, d.protocol, method="declared")
        details = {"service": where.key(), "observed_protocol": None, "declared": d.to_json()}
        text = f"{d.protocol} on {d.transport}/{d.port} ({d.purpose}), declared in {_declared_where(d, decl)}"
        if not ctx.discovery_complete:
            return ctx.inconclusive(f"{text}, was not found, but discovery did not complete.",
                                    "discovery did not complete, so absence is not proven",
                                    InconclusiveReason.INTERRUPTED, details=details, artefacts=base, service=where,
                                    title="Declared interface not confirmed")
        if not scanned:
            return ctx.inconclusive(f"{text}: the port was not in the scanned range, so it was not compared.",
                                    f"{d.transport}/{d.port} not scanned (see --ports / --udp-ports)",
                                    InconclusiveReason.NO_INPUT, details=details, artefacts=base, service=where,
                                    title="Declared interface not scanned")
        state = "" if d.enabled_by_default else " It is declared off by default, as found."
        return ctx.finding(Status.NOT_APPLICABLE, "Declared interface not found open",
                           f"{text}, was not found open although its port was scanned.{state}",
                           reason="the declared interface is not open on the device (reported, not a weakness)",
                           details=details, artefacts=base, service=where, severity="info")
