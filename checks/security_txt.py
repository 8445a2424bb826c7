"""Does the device publish a valid security.txt (RFC 9116) pointing to its vulnerability contact?"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import Check
from probe.protocols import securitytxt
from probe.services import web

PATHS = ("/.well-known/security.txt", "/security.txt")


class SecurityTxt(Check):
    check_id = "security_txt"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        services = [s for s in ctx.services_for("http", "https") if s.transport == "tcp"]
        services.sort(key=lambda s: (not web.is_tls(s), s.port))  # https first (RFC 9116 §3)
        if not services:
            if ctx.discovery_complete:
                yield ctx.finding(Status.NOT_APPLICABLE, "security.txt: no web service",
                                  "The device has no http or https service to publish a security.txt on.",
                                  reason="no http/https service found by discovery")
            else:
                yield ctx.inconclusive("security.txt: not run.", "discovery did not complete",
                                       InconclusiveReason.INTERRUPTED)
            return
        tried: list[dict[str, Any]] = []
        found: list[tuple[web.HttpResult, securitytxt.SecurityTxt, bool]] = []
        answered = False
        silent: list[str] = []  # services that answered neither path: what they serve is unknown
        for svc in services[:6]:
            heard = False
            for path in PATHS:
                ctx.check_cancelled()
                res = web.get(ctx, svc.port, path, tls=web.is_tls(svc), max_bytes=32 * 1024)
                tried.append({"url": res.url, "status": res.status, "error": res.error, "artefact": res.artefact})
                if res.status is not None:
                    answered = heard = True
                if not res.ok or not _looks_like_text(res):
                    continue
                parsed = securitytxt.parse(res.text(), fetched_from=res.url)
                if web.is_tls(svc) is False:
                    parsed.errors.append("served over plain HTTP: RFC 9116 §3 requires HTTPS")
                if path == "/security.txt":
                    parsed.warnings.append("found at the legacy top-level path, not /.well-known/ (RFC 9116 §3)")
                found.append((res, parsed, web.is_tls(svc)))
                break  # the first location that answers on a service is the one that counts there
            if not heard:
                silent.append(f"{svc.protocol}/{svc.port}")
        if not answered:
            yield ctx.inconclusive("Could not read the device's web services.",
                                   "; ".join(f"{t['url']}: {t['error']}" for t in tried[:4]),
                                   InconclusiveReason.CONNECTIVITY, details={"tried": tried})
            return
        if not found and silent:
            # "not served" needs every web service to have answered; a silent one may serve it
            yield ctx.inconclusive("Some of the device's web services could not be read.",
                                   f"no security.txt where an answer came, and no answer at all from "
                                   f"{', '.join(silent)}", InconclusiveReason.CONNECTIVITY, details={"tried": tried},
                                   artefacts=[t["artefact"] for t in tried if t["artefact"]][:6])
            return
        if not found:
            yield ctx.finding(Status.NOT_APPLICABLE, "No security.txt on the device",
                              "No security.txt at /.well-known/security.txt or /security.txt on any web service. "
                              "The vulnerability disclosure policy may be published elsewhere: give its URL in the "
                              "manufacturer declaration (vulnerability_disclosure_policy_url).",
                              reason="no security.txt served by the device", details={"tried": tried},
                              artefacts=[t["artefact"] for t in tried if t["artefact"]][:6])
            return
        best = next((f for f in found if f[1].valid), found[0])
        res, parsed, _tls = best
        details = {"url": res.url, **parsed.to_json(), "tried": tried,
                   "all_found": [{"url": r.url, "valid": p.valid, "errors": p.errors} for r, p, _t in found]}
        arts = [r.artefact for r, _p, _t in found if r.artefact]
        if parsed.valid:
            contact = ", ".join(parsed.fields.get("contact", []))
            policy = ", ".join(parsed.fields.get("policy", [])) or "none given"
            yield ctx.finding(Status.PASS, "Valid security.txt",
                              f"{res.url} is a valid security.txt: Contact {contact}; Policy {policy}; Expires "
                              f"{parsed.expires.isoformat() if parsed.expires else '?'}"
                              + (" (OpenPGP-signed, signature not verified)" if parsed.signed else "") + ".",
                              details=details, artefacts=arts, severity="info")
            return
        yield ctx.finding(Status.FAIL, "security.txt present but not valid",
                          f"{res.url} is not a valid security.txt: {'; '.join(parsed.errors)}.",
                          details=details, artefacts=arts, severity="low")


def _looks_like_text(res: web.HttpResult) -> bool:
    """A catch-all web UI answers 200 with its HTML page for any path: that is not a security.txt."""
    ctype = res.headers.get("content-type", "").lower()
    head = res.body.lstrip()[:64].lower()
    return "html" not in ctype and not head.startswith((b"<!doctype", b"<html", b"<?xml", b"{"))
