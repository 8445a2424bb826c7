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
from probe.protocols.transcript import Transcript
from probe.services import credentials, device_clues, web
from probe.services.credentials import Credential

MAX_FINGERPRINT_PATHS = 40  # GETs per web login service for the paths nmap's fingerprints look at


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


def ask_fingerprint_paths(ctx: CheckContext, nmap: vendor_defaults.NmapData,
                          pages: dict[str, object]) -> tuple[dict[str, object], dict[str, Any]]:
    """One unauthenticated GET on each path nmap's fingerprints look at that the login discovery did
    not read (at most MAX_FINGERPRINT_PATHS; nothing else is sent), so that a product recognised
    only by its own login path (a camera's viewer page, a vendor API) is recognised. Stops at the
    first refusal to talk (429/503) and when the port stalls. The exchanges are one transcript."""
    svc = ctx.service
    assert svc is not None
    wanted = [p for p in dict.fromkeys(p for fp in nmap.fingerprints for p in fp.paths) if p not in pages]
    t = Transcript(svc.protocol, ctx.host, svc.port)
    t.note(f"unauthenticated GETs of the login paths nmap's http-default-accounts fingerprints name "
           f"({min(len(wanted), MAX_FINGERPRINT_PATHS)} of {len(wanted)} not read by the login discovery)")
    client = web.client(ctx, svc, t)
    got: dict[str, object] = {}
    asked = 0
    for path in wanted[:MAX_FINGERPRINT_PATHS]:
        ctx.check_cancelled()
        asked += 1
        try:
            resp = client.request("GET", path)
        except (OSError, ValueError) as exc:
            t.note(f"GET {path}: {exc}")
            if client.stalls.blocked((client.host, client.port, client.tls)):
                break  # the port stopped answering: every further path would cost a full timeout
            continue
        got[path] = resp
        if resp.status in (429, 503):
            t.note("the device refused to talk (429/503): no more paths asked")
            break
    art = ctx.artefact("transcript", f"{svc.protocol} nmap fingerprint paths", t.render()) if asked else None
    return got, {"paths_asked": asked, "paths_artefact": art}


def candidates(ctx: CheckContext, pages: dict[str, object], *, ask_paths: bool = False) -> Ranking:
    """The ranked candidates for ctx.service (pages: the login discovery's answers, for web services;
    ask_paths: the service asks for a login, so the fingerprints' own paths may be asked too)."""
    svc = ctx.service
    assert svc is not None, "a service-scoped check"
    user_file = ctx.options.credentials.user_file
    if svc.protocol == "snmp":  # communities are not a maker's product default list
        return Ranking(credentials.for_service(svc.protocol, user_file))
    # the maker list applies to the remote shells only: other services need not wait for the clues
    wanted = svc.protocol in vendor_defaults.vendor_services()
    clues = [c.to_json() for c in device_clues.gather(ctx)] if wanted else []
    nmap, nmap_status = nmap_source(ctx, svc.protocol)
    if nmap is not None and ask_paths:
        more, asked = ask_fingerprint_paths(ctx, nmap, pages)
        pages = {**pages, **more}
        nmap_status.update(asked)
    sel = vendor_defaults.select(svc.protocol, clues, web_answers(pages), nmap)
    selected = [Credential(svc.protocol, p.username, p.password, p.source, 0, selected_by=p.why) for p in sel.picks]
    details = {"clues": clues, "matches": sel.matches, "selected_pairs": len(selected),
               "nmap_fingerprints": nmap_status}
    return Ranking(credentials.ranked(svc.protocol, user_file, selected), details)

