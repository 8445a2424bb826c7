"""information_exposure: status pages, NTP control and discovery answers that tell anyone the device's
identifiers, firmware or secrets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import Check
from probe.services import open_web, status_pages

IDENTIFYING = ("secret", "serial", "mac")  # what FAILs: secrets, and identifiers passwords and tracking rest on
RANK = {"high": 3, "medium": 2, "low": 1, "info": 0}


class InformationExposure(Check):
    check_id = "information_exposure"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        webs = [s for s in ctx.services if s.protocol in ("http", "https") and s.transport == "tcp"]
        webs.sort(key=lambda s: s.port)
        udp = [s for s in ctx.services if s.transport == "udp" and s.protocol in ("ntp", "ubnt-discovery")]
        if not webs and not udp:
            if ctx.discovery_complete:
                yield ctx.finding(Status.NOT_APPLICABLE, "No web service to read status pages from",
                                  "The device has no http or https service, and no NTP or discovery service "
                                  "that tells who it is.",
                                  reason="no http/https, ntp or ubnt-discovery service found by discovery")
            else:
                yield ctx.inconclusive("Status pages not read.", "discovery did not complete, so the absence "
                                       "of web services is not proven", InconclusiveReason.INTERRUPTED)
            return
        results = []
        for svc in webs[:6]:
            ctx.check_cancelled()
            results.append(status_pages.survey(ctx, svc))
        results.extend(status_pages.udp_survey(ctx))
        exposures = [e for r in results for e in r.exposures]
        categories = sorted({c for e in exposures for c in e.found})
        severity_of = open_web.config()["severity"]
        details: dict[str, Any] = {
            "services": [{"url": r.url, "readable": r.readable, "error": r.error, "paths_asked": r.asked,
                          "script_endpoints": r.script_endpoints} for r in results],
            "exposures": [e.to_json() for e in exposures], "categories": categories}
        arts = [e.artefact for e in exposures if e.artefact][:20]
        bad = [c for c in categories if c in IDENTIFYING]
        if bad:
            severity = max((str(severity_of.get(c, "medium")) for c in bad), key=lambda s: RANK.get(s, 2))
            where = "; ".join(f"{e.url}: " + ", ".join(f"{i['key']}={i['value']}" for c in IDENTIFYING
                                                      for i in e.found.get(c, [])[:3])
                              for e in exposures if any(c in e.found for c in IDENTIFYING))
            yield ctx.finding(Status.FAIL, "Device identifiers exposed without login",
                              f"Without any credentials the device told its {', '.join(bad)}: {where}.",
                              details=details, artefacts=arts, severity=severity)
            return
        unread = [f"{r.url}: {r.error}" for r in results if not r.readable]
        web_results = results[:len(webs[:6])]
        # what an NTP or discovery answer did not tell says nothing about unread status pages
        if unread and not any(r.readable for r in (web_results or results)):
            yield ctx.inconclusive("No web service could be read for status pages.", "; ".join(unread[:4]),
                                   InconclusiveReason.CONNECTIVITY, details=details)
            return
        asked = sum(r.asked for r in results)
        shown = f" It does show {', '.join(categories)} (reported as supporting evidence)." if categories else ""
        yield ctx.finding(Status.PASS, "No identifiers or secrets on open status pages",
                          f"{asked} status, version and script-named paths (and NTP/discovery answers) were asked "
                          f"on {len(results)} service(s); none exposed a serial number, MAC address or secret "
                          "without login."
                          + shown + (f" Not readable: {'; '.join(unread[:3])}." if unread else ""),
                          details=details, artefacts=arts, severity="info")
