"""The ranked candidate list for one service of one device: the operator's pairs, then the device's
own maker's or product's defaults (selected by its fingerprint), then the general list.

This is the glue between what the scan saw (probe.services.device_clues, the login discovery's
unauthenticated HTTP answers) and the data that turns it into pairs (probe.compliance.vendor_defaults
with probe's vendor list and the installed nmap's http-default-accounts fingerprints). It only
orders: the budget, the trials and the proof of a login stay the check's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from probe.compliance import vendor_defaults
from probe.compliance.nmap_fingerprints import WebAnswer
from probe.context import CheckContext
from probe.services import credentials, device_clues
from probe.services.credentials import Credential


@dataclass
class Ranking:
    candidates: list[Credential]
    details: dict[str, Any] = field(default_factory=dict)  # what the evidence records under "fingerprint"


def web_answers(pages: dict[str, object]) -> list[WebAnswer]:
    """The login discovery's unauthenticated answers (path -> protocols.http.Response) as WebAnswers."""
    out = []
    for path, resp in pages.items():
        status = getattr(resp, "status", None)
        pairs = getattr(resp, "headers", None)
        if not isinstance(status, int) or not isinstance(pairs, list):
            continue
        headers: dict[str, str] = {}
        for k, v in pairs:
            key = str(k).lower()
            headers[key] = f"{headers[key]}\n{v}" if key in headers else str(v)
        out.append(WebAnswer(path, status, headers, bytes(getattr(resp, "body", b"") or b"")))
    return out


def nmap_source(ctx: CheckContext, protocol: str) -> tuple[vendor_defaults.NmapData | None, dict[str, Any]]:
    """nmap's fingerprints for a web service, and what the evidence says about them."""
    if protocol not in ("http", "https"):
        return None, {"status": "not-used", "why": "nmap's http-default-accounts fingerprints are web logins"}
    if not ctx.options.discovery.use_nmap:
        return None, {"status": "disabled", "why": "--no-nmap: nmap and its data are not used"}
    data = vendor_defaults.nmap_data()
    status = data.describe()
    if data.status != "read":
        status["why"] = (data.error or "unreadable") + "; probe's own lists were used without it"
        return None, status
    return data, status


def candidates(ctx: CheckContext, pages: dict[str, object]) -> Ranking:
    """The ranked candidates for ctx.service (pages: the login discovery's answers, for web services)."""
    svc = ctx.service
    assert svc is not None, "a service-scoped check"
    user_file = ctx.options.credentials.user_file
    if svc.protocol == "snmp":  # communities are not a maker's product default list
        return Ranking(credentials.for_service(svc.protocol, user_file))
    # the maker list applies to the remote shells only: other services need not wait for the clues
    wanted = svc.protocol in vendor_defaults.vendor_services()
    clues = [c.to_json() for c in device_clues.gather(ctx)] if wanted else []
    nmap, nmap_status = nmap_source(ctx, svc.protocol)
    sel = vendor_defaults.select(svc.protocol, clues, web_answers(pages), nmap)
    selected = [Credential(svc.protocol, p.username, p.password, p.source, 0, selected_by=p.why) for p in sel.picks]
    details = {"clues": clues, "matches": sel.matches, "selected_pairs": len(selected),
               "nmap_fingerprints": nmap_status}
    return Ranking(credentials.ranked(svc.protocol, user_file, selected), details)

