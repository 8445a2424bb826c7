"""Which model designation the device shows over the network, and exactly where."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import Check
from probe.protocols import html, snmp
from probe.protocols.transcript import Transcript
from probe.services import updates, upnp, web

# A model-like token: letters and digits together, e.g. RT-AX58U, DIR-615, TL-WR841N, C7.
_MODEL_TOKEN = re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_-]{1,31}\b")
_NOT_MODEL = re.compile(r"(?i)^(http|https|html|utf-8|ipv4|ipv6|x86_64|i386|\d+[a-z]{1,2})$")


def model_tokens(text: str) -> list[str]:
    return [t for t in _MODEL_TOKEN.findall(text) if not _NOT_MODEL.match(t)][:5]


# "Model: HG-3100", "Model No. NV-408", "Product name RT-AX58U" in a page's visible text
_LABELLED = re.compile(r"(?i)\b(?:model(?:\s*(?:name|no\.?|number|#))?|product(?:\s*name)?|device\s*model|"
                       r"hardware\s*model)\s*[:#.]?\s+([A-Za-z0-9][\w\-./]{1,31})")
# in a header or footer a model token must look like one: letters and digits joined by a hyphen or
# a letter prefix on a number (HG-3100, NV408, C7), not a technology (WPA2, IPv4, 5GHz, H.264, 802.11ac)
_HEADER_MODEL = re.compile(r"\b(?=[A-Za-z0-9-]*\d)[A-Z][A-Za-z]{0,5}-?\d{1,5}[A-Za-z]{0,4}\b")
_TECH = re.compile(r"(?i)^(wpa\d|wep\d*|ipv\d|\d+(?:\.\d+)?g?hz|h\d{3}|mp\d|md5|sha\d*|aes\d*|x\d{2,3}|"
                   r"tls\d*|ssl\d*|utf\d*|iso\d*|rfc\d+|ieee\d*|usb\d*|hdmi\d*|lte\d*|[a-z]\d)$")


def visible_models(page: html.Page) -> list[tuple[str, str]]:
    """(model, how) from a page's visible text: labelled model fields, then header/footer tokens."""
    out: list[tuple[str, str]] = []
    texts = [*page.marked_text, *page.headings]
    for text in texts:
        for m in _LABELLED.finditer(text):
            if not _TECH.match(m.group(1)) and any(c.isdigit() for c in m.group(1)):
                out.append((m.group(1), "html-text:labelled"))
    for text in page.marked_text:
        for tok in _HEADER_MODEL.findall(text):
            if not _TECH.match(tok) and tok not in [o[0] for o in out]:
                out.append((tok, "html-text:header-footer"))
    return out[:5]


class ModelDesignation(Check):
    check_id = "model_designation"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        seen: list[dict[str, Any]] = []  # every string, where it was seen, and whether it names a model
        arts: list[str] = []

        def add(value: str, where: str, how: str, art: str | None, explicit: bool) -> None:
            value = " ".join(value.split())[:200]
            if value and not any(s["value"] == value and s["where"] == where for s in seen):
                seen.append({"value": value, "where": where, "how": how, "artefact": art,
                             "designation": explicit or bool(model_tokens(value))})
                if art and art not in arts:
                    arts.append(art)

        web_or_upnp = ctx.services_for("http", "https", "upnp")
        reached = False
        unread: list[str] = []  # places a designation could be that did not answer readably
        if web_or_upnp:
            s = updates.survey(ctx)
            reached = s.any_reachable
            unread = s.unreadable()
            for p in s.pages:
                title = p.value.split(" ", 1)[1] if " " in p.value else ""
                if title:
                    add(title, p.source, "html-title", p.artefact, False)
            for m in s.models:
                add(m.value, m.source, m.how, m.artefact, True)
            for p in s.pages:  # the visible text of every page read (login page first): footers, headers
                if not p.value.startswith("200"):
                    continue
                host, port, tls, path = web.split_target_url(p.source)
                res = web.get(ctx, port, path, tls=tls)  # memoised: the survey already read it
                if res.status == 200 and "html" in res.headers.get("content-type", "text/html"):
                    for model, how in visible_models(html.parse(res.text())):
                        add(model, p.source, how, res.artefact or p.artefact, True)
            info = s.upnp
        else:
            info = upnp.gather(ctx)
            if info:
                unread = [f"{d.location}: {d.error}" for d in info.descriptions if d.error]
        if info:
            for d in info.descriptions:
                if d.fetched:
                    reached = True
                for k in ("modelName", "modelNumber"):
                    if k in d.fields:
                        add(d.fields[k], d.location, f"upnp:{k}", d.artefact, True)
                for k in ("friendlyName", "manufacturer", "modelDescription"):
                    if k in d.fields:
                        add(d.fields[k], d.location, f"upnp:{k}", d.artefact, False)
            for r in info.responses:
                if r.get("server"):
                    add(r["server"], f"ssdp udp/{info.ssdp_ports[0]}", "ssdp:SERVER", info.ssdp_artefact, False)
            reached = reached or info.ssdp_answered
        snmp_notes: list[str] = []
        for svc in [x for x in ctx.services if x.protocol == "snmp" and x.transport == "udp"][:2]:
            ctx.check_cancelled()
            t = Transcript("snmp", ctx.host, svc.port)
            with ctx.slot():  # community "public" only: the well-known default, read-only GET
                reply = snmp.Client(ctx.host, svc.port, t, timeout=ctx.remaining(2.0)).request(
                    1, b"public", snmp.GET, snmp.SYS_DESCR)
            art = ctx.artefact("transcript", f"SNMPv2c GET sysDescr.0 (community public) udp/{svc.port}",
                               t.render(), port=svc.port)
            if reply is None:
                snmp_notes.append(f"udp/{svc.port}: no answer to community public")
                continue
            reached = True
            value = reply.varbinds[0][2] if reply.varbinds and not reply.error_status else None
            if isinstance(value, bytes) and value:
                add(value.decode("utf-8", "replace")[:300], f"snmp udp/{svc.port}", "snmp:sysDescr", art, False)
            else:
                snmp_notes.append(f"udp/{svc.port}: {reply.error if reply.error_status else 'no sysDescr value'}")
        for svc in ctx.services:
            if svc.product:
                add(f"{svc.product} {svc.version or ''}".strip(), f"{svc.protocol} {svc.transport}/{svc.port}",
                    "banner", svc.banner_artefact, False)
        details = {"strings": seen, "snmp": snmp_notes}
        designations = [s for s in seen if s["designation"] and s["how"] != "banner"]
        if designations:
            first = designations[0]
            yield ctx.finding(Status.PASS, "Model designation visible over the network",
                              f"Model designation {first['value']!r} seen in {first['where']} ({first['how']})"
                              + (f" and {len(designations) - 1} other place(s)" if len(designations) > 1 else "")
                              + ". Supporting evidence only: the label on the product is checked from documents.",
                              details=details, artefacts=arts, severity="info")
            return
        if not reached and (web_or_upnp or not ctx.discovery_complete):
            yield ctx.inconclusive("No device interface could be read for a model designation.",
                                   "web, UPnP and SNMP interfaces did not answer", InconclusiveReason.CONNECTIVITY,
                                   details=details)
            return
        if unread:
            yield ctx.inconclusive("No model designation seen, but not every device interface could be read.",
                                   "could not read " + "; ".join(unread[:4]), InconclusiveReason.CONNECTIVITY,
                                   details=details, artefacts=arts)
            return
        yield ctx.finding(Status.NOT_APPLICABLE, "No model designation over the network",
                          "No model designation was seen in the web UI title, meta tags or visible header/footer "
                          "text, the UPnP description, "
                          "SNMP sysDescr or service banners"
                          + (f" (strings seen: {', '.join(repr(s['value']) for s in seen[:4])})" if seen else "")
                          + ". The product label or app is the evidence for this clause.",
                          reason="no model designation exposed over the network", details=details, artefacts=arts)
