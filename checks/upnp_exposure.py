"""Does the device expose UPnP, and does its gateway control (IGD) answer without authentication?"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import Check
from probe.services import upnp, web


class UpnpExposure(Check):
    check_id = "upnp_exposure"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        info = upnp.gather(ctx)
        cfg = upnp.data()
        arts = [a for a in [info.ssdp_artefact, *(d.artefact for d in info.descriptions)] if a]
        details: dict[str, Any] = {
            "ssdp_ports": info.ssdp_ports, "ssdp_answered": info.ssdp_answered, "ssdp_error": info.ssdp_error,
            "ssdp_responses": info.responses[:10], "locations": info.locations,
            "foreign_locations_not_fetched": info.foreign_locations,
            "descriptions": [{"location": d.location, "error": d.error, "fields": d.fields,
                              "services": [vars(s) for s in d.services]} for d in info.descriptions],
        }
        if not info.ssdp_answered and not info.descriptions:
            if ctx.services_for("upnp") or not ctx.discovery_complete:
                yield ctx.inconclusive("A UPnP port is open but neither SSDP nor a description could be read.",
                                       info.ssdp_error or "no SSDP answer and no description at the usual paths",
                                       InconclusiveReason.DEVICE_MISBEHAVED if ctx.services_for("upnp")
                                       else InconclusiveReason.INTERRUPTED, details=details)
                return
            yield ctx.finding(Status.NOT_APPLICABLE, "No UPnP on the device",
                              f"No answer to a unicast SSDP M-SEARCH on udp/{', '.join(map(str, info.ssdp_ports))} "
                              "and no UPnP description service was discovered.",
                              reason="no UPnP answered (" + (info.ssdp_error or "no SSDP answer") + ")",
                              details=details)
            return
        if not info.descriptions:
            why = ("its LOCATION points to another host, which probe never contacts: "
                   + ", ".join(info.foreign_locations[:3])) if info.foreign_locations else "no LOCATION was given"
            yield ctx.inconclusive("The device answers SSDP, but its UPnP description was not read.", why,
                                   InconclusiveReason.DEVICE_MISBEHAVED if not info.foreign_locations
                                   else InconclusiveReason.UNSUPPORTED, details=details, artefacts=arts)
            return
        if not any(d.services or d.fields for d in info.descriptions):
            errs = "; ".join(f"{d.location}: {d.error}" for d in info.descriptions)
            yield ctx.inconclusive("The device answers SSDP but its description could not be read.", errs,
                                   InconclusiveReason.DEVICE_MISBEHAVED, details=details, artefacts=arts)
            return
        igd = [s for d in info.descriptions for s in d.services
               if any(s.service_type.startswith(t) for t in cfg["igd_service_types"])]
        calls: list[dict[str, Any]] = []
        open_actions: list[str] = []
        refused: list[str] = []
        advertised_changers: list[str] = []
        for svc in igd[:4]:
            ctx.check_cancelled()
            entry: dict[str, Any] = {"service_type": svc.service_type, "control_url": svc.control_url,
                                     "scpd_url": svc.scpd_url, "actions": None, "calls": []}
            calls.append(entry)
            if svc.scpd_url and web.same_host(svc.scpd_url, ctx.host):
                _h, port, tls, path = web.split_target_url(svc.scpd_url)
                r = web.get(ctx, port, path, tls=tls, max_bytes=upnp.MAX_XML_BYTES)
                if r.artefact:
                    arts.append(r.artefact)
                if r.ok:
                    try:
                        entry["actions"] = upnp.parse_scpd_actions(r.body)
                    except ValueError as exc:
                        entry["scpd_error"] = str(exc)
                    for a in entry["actions"] or []:
                        if a in cfg["state_changing_actions"] and a not in advertised_changers:
                            advertised_changers.append(a)
            if not svc.control_url or not web.same_host(svc.control_url, ctx.host):
                entry["not_called"] = "control URL is not on the device under test: recorded, never contacted"
                continue
            for action, args in (("GetExternalIPAddress", {}), ("GetStatusInfo", {}),
                                 ("GetGenericPortMappingEntry", {"NewPortMappingIndex": "0"})):
                ctx.check_cancelled()
                if entry["actions"] is not None and action not in entry["actions"]:
                    continue
                r = upnp.soap_call(ctx, svc.control_url, svc.service_type, action, args)
                if r.artefact:
                    arts.append(r.artefact)
                code = upnp.upnp_error_code(r.body) if r.status and r.status >= 400 else None
                outcome = _classify(r, code, cfg)
                entry["calls"].append({"action": action, "http_status": r.status, "upnp_error": code,
                                       "outcome": outcome, "error": r.error, "artefact": r.artefact})
                if outcome == "answered":
                    open_actions.append(f"{action} ({svc.service_type.rsplit(':', 2)[-2]})")
                elif outcome == "refused":
                    refused.append(action)
        details["igd"] = calls
        details["state_changing_actions_advertised"] = advertised_changers
        services = [s.service_type for d in info.descriptions for s in d.services]
        if open_actions:
            adv = (f" The SCPD also advertises {', '.join(advertised_changers)} (not called): any host on the LAN "
                   "can presumably change port mappings the same way." if advertised_changers else "")
            yield ctx.finding(Status.FAIL, "UPnP gateway control answers without authentication",
                              f"The device's UPnP IGD control answered {', '.join(open_actions)} with no "
                              f"authentication.{adv}", details=details, artefacts=arts, severity="high")
            return
        if igd and not refused and all(c["outcome"] != "answered" for e in calls for c in e["calls"]):
            made = [c for e in calls for c in e["calls"]]
            if not made or all(c["outcome"] == "error" for c in made):
                yield ctx.inconclusive("The IGD control service did not answer the read-only actions.",
                                       "; ".join(f"{c['action']}: {c['error'] or c['http_status']}" for c in made)
                                       or "no control URL on the device", InconclusiveReason.DEVICE_MISBEHAVED,
                                       details=details, artefacts=arts)
                return
        yield ctx.finding(Status.PASS, "UPnP exposed without open gateway control",
                          f"The device speaks UPnP (services: {', '.join(services) or 'none listed'}); "
                          + ("its IGD control refused unauthenticated read-only actions."
                             if refused else "it offers no Internet Gateway Device control service.")
                          + " The UPnP inventory is in the evidence for the unused-services review.",
                          details=details, artefacts=arts, severity="info")


def _classify(r: web.HttpResult, code: int | None, cfg: dict[str, Any]) -> str:
    if r.status is None:
        return "error"
    if r.status == 200 and b"Response" in r.body:
        return "answered"
    if code is not None and code in cfg["answered_error_codes"]:
        return "answered"
    if r.status in (401, 403) or (code is not None and code in cfg["refused_error_codes"]):
        return "refused"
    return "error"
