"""What the device says about its maker and product, gathered once per target for credential ranking.

A device's own vendor's default pairs are the likeliest, so the default-credential trials put them
first when the device names its maker. The clues are what the scan already reads or reads cheaply:
- every service's banner (its first bytes, from discovery's artefact) and product/version;
- each web service's answer to `GET /` (memoised, shared with the other checks): page title,
  auth realm, Server header, and the subject of the TLS certificate the answer came over;
- the UPnP description's manufacturer, model and friendly name, when the device runs UPnP (the
  same memoised survey the UPnP and model checks read);
- SNMP sysDescr, when discovery's `public` query was answered.
Each clue keeps where it was seen and the artefact that holds it, so the evidence shows why a
vendor's pairs went first. Nothing is logged in to and nothing is sent beyond those reads.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from probe.context import CheckContext
from probe.models import Service
from probe.protocols import html, x509
from probe.services import upnp, web

MAX_TEXT = 300  # characters kept of one clue
MAX_BANNER = 512  # bytes of a banner artefact read for clues
_PRINTABLE_GAPS = re.compile(r"[^\x20-\x7e]+")


@dataclass(frozen=True)
class Clue:
    kind: str  # banner | product | http-title | http-realm | http-server | tls-subject | upnp | snmp-sysdescr
    where: str  # e.g. tcp/22, http://10.0.0.1:80/, the UPnP description URL
    text: str
    artefact: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "where": self.where, "text": self.text, "artefact": self.artefact}


def gather(ctx: CheckContext) -> list[Clue]:
    """The device's clues, computed once per target and shared by every service's trials."""
    clues: list[Clue] = ctx.once(("device-clues", ctx.host), lambda: _gather(ctx))
    return clues


def _short(text: str) -> str:
    return " ".join(text.split())[:MAX_TEXT]


def _front_pages(ctx: CheckContext) -> list[web.HttpResult]:
    """Every TCP web service's `GET /`, read side by side (each in its own connection slot, so the
    device's cap holds): one web port that stalls for a whole timeout no longer delays the next
    port's read, nor every remote shell's trials that wait for these clues. In port order."""
    webs = [s for s in ctx.services_for("http", "https") if s.transport == "tcp"]

    def front(svc: Service) -> web.HttpResult:
        ctx.check_cancelled()
        return web.get(ctx, svc.port, "/", tls=web.is_tls(svc))

    if len(webs) <= 1:
        return [front(s) for s in webs]
    with ThreadPoolExecutor(max_workers=min(len(webs), ctx.options.safety.max_connections)) as pool:
        return list(pool.map(front, webs))


def _gather(ctx: CheckContext) -> list[Clue]:
    out: list[Clue] = []

    def add(kind: str, where: str, text: str | None, artefact: str | None = None) -> None:
        text = _short(text or "")
        if text and not any(c.kind == kind and c.text == text for c in out):
            out.append(Clue(kind, where, text, artefact))

    for svc in ctx.services:
        where = f"{svc.transport}/{svc.port}"
        if svc.product or svc.version:
            add("product", where, f"{svc.product or ''} {svc.version or ''}")
        if svc.banner_artefact and svc.protocol not in ("http", "https"):
            art = ctx.store.artefacts.get(svc.banner_artefact)
            if art is not None:  # the readable runs only: binary greetings (SSH KEXINIT, DNS, SNMP) carry bytes
                add("banner", where, _PRINTABLE_GAPS.sub(" ", art.data[:MAX_BANNER].decode("latin-1")), art.id)
        if svc.details.get("sysdescr"):
            add("snmp-sysdescr", where, svc.details["sysdescr"])
    for res in _front_pages(ctx):
        if res.status is None:
            continue
        url = res.url
        if res.body:
            add("http-title", url, html.parse(res.text()).title, res.artefact)
        challenge = res.headers.get("www-authenticate", "")
        if "realm=" in challenge.lower():
            add("http-realm", url, challenge.split("realm=", 1)[-1].split(",")[0].strip('" '), res.artefact)
        add("http-server", url, res.headers.get("server"), res.artefact)
        if res.peer_cert_artefact:
            cert = ctx.store.artefacts.get(res.peer_cert_artefact)
            if cert is not None:
                info = x509.parse_certificate(cert.data)
                add("tls-subject", url, info.subject, cert.id)
    if ctx.services_for("ssdp", "upnp"):
        ctx.check_cancelled()
        for d in upnp.gather(ctx).descriptions:
            for key in ("manufacturer", "modelName", "modelNumber", "friendlyName", "modelDescription"):
                add("upnp", f"{d.location} {key}", d.fields.get(key), d.artefact)
    return out
