"""Does the device's UPnP gateway control (IGD) show a proven weakness, and what UPnP does it expose?

Read-only IGD actions answering on the LAN are what IGD is for: they are recorded as exposure
(supporting evidence for the inventory review), never a FAIL. A FAIL needs proof: the control
answering on the gateway's WAN-side address (the address scanned is the external address the IGD
reports), a mapping for another host accepted without authentication (only under the operator's
opt-in, --allow-upnp-mapping-test, which adds one mapping and deletes it at once), or, where the
device profile forbids UPnP state changes for its class (`upnp_port_mapping: forbidden`), any
mapping accepted in that test.
"""

from __future__ import annotations

import secrets
import socket
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
        external: list[str] = []  # external addresses the IGD reports for itself
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
                    ip = upnp.response_field(r.body, "NewExternalIPAddress") if action == "GetExternalIPAddress" \
                        else None
                    if ip and ip not in external:
                        external.append(ip)
                elif outcome == "refused":
                    refused.append(action)
        details["igd"] = calls
        details["state_changing_actions_advertised"] = advertised_changers
        details["external_addresses"] = external
        services = [s.service_type for d in info.descriptions for s in d.services]
        made = [c for e in calls for c in e["calls"]]
        if igd and not open_actions and not refused and (not made or all(c["outcome"] == "error" for c in made)):
            yield ctx.inconclusive("The IGD control service did not answer the read-only actions.",
                                   "; ".join(f"{c['action']}: {c['error'] or c['http_status']}" for c in made)
                                   or "no control URL on the device", InconclusiveReason.DEVICE_MISBEHAVED,
                                   details=details, artefacts=arts)
            return
        proofs: list[str] = []
        # 1. control on the WAN side: the address we scanned is the one the IGD calls its external address
        if open_actions and any(_same_ip(ip, ctx.host) for ip in external):
            proofs.append(f"its gateway control answers on its WAN-side address {ctx.host} (GetExternalIPAddress "
                          "names the scanned address as the external address), so anyone on the internet side can "
                          "use it")
        # 2. the opt-in mapping test
        ctl = next((e for e in calls if e["control_url"] and "not_called" not in e and e["calls"]), None)
        forbidden = str((ctx.profile or {}).get("upnp_port_mapping", "allowed")) == "forbidden"
        if ctx.options.safety.upnp_mapping_test and ctl is not None and open_actions:
            test = _mapping_tests(ctx, ctl["control_url"], ctl["service_type"], forbidden, cfg)
            details["mapping_test"] = test
            arts += [a for step in test["steps"] for a in [step.get("artefact")] if a]
            for t in test["trials"]:
                if t["outcome"] == "accepted" and t["for"] == "another host":
                    proofs.append(f"it accepted, without authentication, a port mapping for another host "
                                  f"({t['internal_client']}, external port {t['external_port']})")
                elif t["outcome"] == "accepted" and forbidden:
                    proofs.append(f"it accepted a port mapping (external port {t['external_port']}) without "
                                  f"authentication, a state change the device profile forbids for this device class")
            if test.get("left_behind"):
                ctx.store.note(f"{ctx.host}: UPnP mapping test: the mapping(s) {test['left_behind']} could not be "
                               f"verified as deleted; they expire after {test['lease_seconds']} s")
            if test["error"] and not proofs:
                yield ctx.inconclusive("The opt-in UPnP mapping test could not complete.", test["error"],
                                       InconclusiveReason.DEVICE_MISBEHAVED, details=details, artefacts=arts)
                return
        else:
            details["mapping_test"] = {"run": False, "why": "not opted in (--allow-upnp-mapping-test)"
                                       if not ctx.options.safety.upnp_mapping_test
                                       else "no IGD control on the device answered"}
        exposure = (f"its IGD control answered {', '.join(open_actions)} without authentication on the LAN side"
                    if open_actions else "")
        if proofs:
            more = f" Also: {exposure}." if exposure else ""
            behind = details["mapping_test"].get("left_behind") or []
            left = (f" The test mapping(s) could not be verified as deleted ({', '.join(behind)}); they expire "
                    f"after {details['mapping_test']['lease_seconds']} s." if behind else "")
            yield ctx.finding(Status.FAIL, "UPnP gateway control open to abuse",
                              "The device's UPnP " + "; and ".join(proofs) + "." + more + left,
                              details=details, artefacts=arts, severity="high")
            return
        tested = details["mapping_test"]
        if tested.get("run"):
            mapped = "; ".join(f"a mapping for {t['for']} ({t['internal_client']}): {t['outcome']}"
                               + (f" (UPnP error {t['upnp_error']})" if t.get("upnp_error") else "")
                               for t in tested["trials"])
            tested_text = f" The opt-in mapping test asked for {mapped}."
        else:
            tested_text = (" Whether it maps ports for other hosts was not tested (opt in with "
                           "--allow-upnp-mapping-test)." if open_actions else "")
        if open_actions:
            wan = (f" Its external address is {', '.join(external)}, not the scanned address, so the control "
                   "answered on the LAN side." if external else "")
            summary = (f"No weakness proven: {exposure}, which is what a gateway's IGD is for on the LAN; this is "
                       f"recorded as exposure (supporting evidence), not a failure.{wan}{tested_text}")
            if advertised_changers:
                summary += f" The SCPD advertises {', '.join(advertised_changers)}."
            title = "UPnP gateway control answers on the LAN (exposure, no proven weakness)"
        else:
            summary = (f"The device speaks UPnP (services: {', '.join(services) or 'none listed'}); "
                       + ("its IGD control refused unauthenticated read-only actions."
                          if refused else "it offers no Internet Gateway Device control service."))
            title = "UPnP exposed without open gateway control"
        yield ctx.finding(Status.PASS, title, summary + " The UPnP inventory is in the evidence for the "
                          "unused-services review.", details=details, artefacts=arts, severity="info")


def _same_ip(a: str, b: str) -> bool:
    return a.strip().strip("[]").lower() == b.strip().strip("[]").lower()


def _requester_address(host: str) -> str | None:
    """The local address probe's packets to `host` leave from (a UDP connect sends nothing)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((host, 9))
            return str(s.getsockname()[0])
    except OSError:
        return None


def _mapping_tests(ctx: CheckContext, control_url: str, service_type: str, forbidden: bool,
                   cfg: dict[str, Any]) -> dict[str, Any]:
    """The opt-in test: one mapping for another host (the device's own address, so no third party
    ever receives traffic); where the profile forbids state changes, one more for probe's own
    address. Each accepted mapping is deleted at once and looked up again to prove it is gone."""
    mt = cfg["mapping_test"]
    out: dict[str, Any] = {"run": True, "lease_seconds": int(mt["lease_seconds"]), "trials": [], "steps": [],
                           "left_behind": [], "error": None}
    plans = [("another host", ctx.host)]
    if forbidden:
        me = _requester_address(ctx.host)
        if me:
            plans.append(("the requesting host", me))
    for who, client in plans:
        ctx.check_cancelled()
        trial = _one_mapping(ctx, control_url, service_type, client, out, mt, cfg)
        trial["for"] = who
        out["trials"].append(trial)
        if trial["outcome"] == "error":
            out["error"] = trial.get("detail") or "no usable answer"
            break
        if trial["outcome"] == "accepted" and who == "another host":
            break  # proven: no need to change the device's state again
    return out


def _one_mapping(ctx: CheckContext, control_url: str, service_type: str, client: str, out: dict[str, Any],
                 mt: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    def step(action: str, r: web.HttpResult, port: int) -> int | None:
        code = upnp.upnp_error_code(r.body) if r.status and r.status >= 400 else None
        out["steps"].append({"action": action, "external_port": port, "http_status": r.status, "upnp_error": code,
                             "error": r.error, "artefact": r.artefact})
        return code

    lo, hi = (int(x) for x in mt["port_range"])
    for _ in range(int(mt["max_port_tries"])):
        ctx.check_cancelled()
        port = lo + secrets.randbelow(hi - lo + 1)
        key = {"NewRemoteHost": "", "NewExternalPort": str(port), "NewProtocol": "TCP"}
        r = upnp.soap_call(ctx, control_url, service_type, "GetSpecificPortMappingEntry", key)
        code = step("GetSpecificPortMappingEntry", r, port)
        if r.status == 200 and b"Response" in r.body:
            continue  # taken by someone: never overwrite an existing mapping
        if code != 714:  # NoSuchEntryInArray: the only proof the port is free
            return {"outcome": "error", "internal_client": client, "external_port": port,
                    "detail": f"could not prove external port {port} free before mapping it "
                              f"(HTTP {r.status}, UPnP error {code}, {r.error or 'no error text'})"}
        add = dict(key, NewInternalPort=str(port), NewInternalClient=client, NewEnabled="1",
                   NewPortMappingDescription=str(mt["description"]), NewLeaseDuration=str(mt["lease_seconds"]))
        r = upnp.mapping_call(ctx, control_url, service_type, "AddPortMapping", add)
        code = step("AddPortMapping", r, port)
        trial: dict[str, Any] = {"internal_client": client, "external_port": port, "upnp_error": code}
        if not (r.status == 200 and b"AddPortMappingResponse" in r.body):
            refused = code in cfg["mapping_refused_error_codes"] or r.status in (401, 403)
            trial["outcome"] = "refused" if refused else "error"
            if not refused:
                trial["detail"] = f"AddPortMapping answered HTTP {r.status}, UPnP error {code}: {r.error or ''}"
            return trial
        trial["outcome"] = "accepted"
        r = upnp.mapping_call(ctx, control_url, service_type, "DeletePortMapping", key)
        step("DeletePortMapping", r, port)
        r = upnp.soap_call(ctx, control_url, service_type, "GetSpecificPortMappingEntry", key)
        trial["deleted"] = step("GetSpecificPortMappingEntry", r, port) == 714
        if not trial["deleted"]:
            out["left_behind"].append(f"TCP {port} -> {client}")
        return trial
    return {"outcome": "error", "internal_client": client, "external_port": None,
            "detail": f"no free external port found in {mt['max_port_tries']} tries"}


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
