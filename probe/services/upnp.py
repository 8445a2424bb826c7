"""UPnP as the device exposes it: unicast SSDP, the description XML, SCPDs and read-only SOAP calls.

Network safety: M-SEARCH goes by *unicast* to the target's own address only (a multicast
M-SEARCH from the host would follow the default route out of the machine), and description,
SCPD and control URLs are only fetched when their host is the target itself. A LOCATION that
points anywhere else is recorded, never fetched.

Device XML is hostile input: it is parsed with defusedxml, which refuses entity expansion
(billion laughs), external entities and DTD retrieval.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from probe import yamlfile
from probe.context import CheckContext
from probe.discovery import udp_probe
from probe.protocols import ssdp
from probe.services import web

MAX_SSDP_RESPONSES = udp_probe.MAX_SSDP_ANSWERS
SSDP_LISTEN_SECONDS = 2.0
MAX_XML_BYTES = 256 * 1024
MAX_SERVICES = 64


def data() -> dict[str, Any]:
    text = (importlib.resources.files("probe") / "data" / "upnp.yaml").read_text("utf-8")
    return yamlfile.safe_load(text)


@dataclass
class UpnpService:
    service_type: str
    service_id: str
    control_url: str | None
    scpd_url: str | None
    device_type: str


@dataclass
class UpnpDescription:
    location: str
    fetched: bool
    artefact: str | None = None
    error: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # root device: friendlyName, modelName, ...
    services: list[UpnpService] = field(default_factory=list)
    urls: list[tuple[str, str]] = field(default_factory=list)  # (element, URL) of every URL-valued element


@dataclass
class UpnpInfo:
    """What the device said over SSDP and in its description; shared by several checks."""

    ssdp_ports: list[int] = field(default_factory=list)
    ssdp_answered: bool = False
    ssdp_artefact: str | None = None
    ssdp_error: str | None = None
    responses: list[dict[str, str]] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    foreign_locations: list[str] = field(default_factory=list)  # not the target: recorded, never fetched
    descriptions: list[UpnpDescription] = field(default_factory=list)

    def fields(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for d in self.descriptions:
            for k, v in d.fields.items():
                out.setdefault(k, v)
        return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(el: Element, name: str) -> str | None:
    for c in el:
        if _local(c.tag) == name:
            return (c.text or "").strip()
    return None


def parse_xml(raw: bytes) -> Element:
    """Parse untrusted XML; raises ValueError on anything unsafe or malformed."""
    try:
        return SafeET.fromstring(raw[:MAX_XML_BYTES])
    except (DefusedXmlException, SafeET.ParseError) as exc:
        raise ValueError(f"{exc.__class__.__name__}: {exc}") from None


def parse_description(raw: bytes, location: str) -> tuple[dict[str, str], list[UpnpService]]:
    root = parse_xml(raw)
    base = location
    for el in root.iter():
        if _local(el.tag) == "URLBase" and el.text:
            base = el.text.strip()
            break
    fields: dict[str, str] = {}
    services: list[UpnpService] = []
    wanted = set(data()["description_fields"])
    first_device = True
    for dev in root.iter():
        if _local(dev.tag) != "device":
            continue
        dtype = _child_text(dev, "deviceType") or ""
        if first_device:
            for c in dev:
                name = _local(c.tag)
                if name in wanted and (c.text or "").strip():
                    fields[name] = (c.text or "").strip()[:300]
            first_device = False
        for sl in dev:
            if _local(sl.tag) != "serviceList":
                continue
            for s in sl:
                if _local(s.tag) != "service" or len(services) >= MAX_SERVICES:
                    continue
                ctl = _child_text(s, "controlURL")
                scpd = _child_text(s, "SCPDURL")
                services.append(UpnpService(
                    service_type=_child_text(s, "serviceType") or "",
                    service_id=_child_text(s, "serviceId") or "",
                    control_url=urljoin(base, ctl) if ctl else None,
                    scpd_url=urljoin(base, scpd) if scpd else None,
                    device_type=dtype))
    return fields, services


MAX_DESCRIPTION_URLS = 64
_URL_SCHEMES = ("http://", "https://", "ftp://", "tftp://")


def description_urls(raw: bytes) -> list[tuple[str, str]]:
    """(element name, URL) for every element of a description whose text is an absolute URL, at
    most MAX_DESCRIPTION_URLS: vendors put their update-check or firmware URL in elements of their
    own (a firmware-update URL beside modelNumber), which the update survey reads by name."""
    out: list[tuple[str, str]] = []
    for el in parse_xml(raw).iter():
        text = (el.text or "").strip()
        if text.lower().startswith(_URL_SCHEMES) and len(text) <= 500:
            out.append((_local(el.tag), text))
            if len(out) >= MAX_DESCRIPTION_URLS:
                break
    return out


def parse_scpd_actions(raw: bytes) -> list[str]:
    root = parse_xml(raw)
    names = []
    for el in root.iter():
        if _local(el.tag) == "action":
            n = _child_text(el, "name")
            if n:
                names.append(n)
        if len(names) > 500:
            break
    return names


def msearch(ctx: CheckContext, port: int) -> ssdp.Search:
    """Unicast M-SEARCH to the target only (probe.protocols.ssdp), inside one connection slot.

    The device's answers on a port are asked once per target and shared: when discovery's UDP
    probe has already asked this port (udp/1900 on every built-in profile), its answers are
    read here and the device is not asked, nor waited for, again."""
    return udp_probe.shared_ssdp_search(ctx.once, ctx.host, port, listen=ctx.remaining(SSDP_LISTEN_SECONDS),
                                        slot=ctx.slot, check_cancelled=ctx.check_cancelled)


def soap_call(ctx: CheckContext, control_url: str, service_type: str, action: str,
              args: dict[str, str] | None = None) -> web.HttpResult:
    """One read-only SOAP action on the target's control URL; anything else is refused here."""
    if action not in data()["read_only_actions"]:
        raise ValueError(f"refusing to call {action}: not on the read-only list")
    return _soap(ctx, control_url, service_type, action, args)


def mapping_call(ctx: CheckContext, control_url: str, service_type: str, action: str,
                 args: dict[str, str]) -> web.HttpResult:
    """AddPortMapping / DeletePortMapping for the opt-in mapping test only (--allow-upnp-mapping-test)."""
    if not ctx.options.safety.upnp_mapping_test:
        raise ValueError(f"refusing to call {action}: the mapping test needs the operator's opt-in")
    if action not in data()["mapping_test_actions"]:
        raise ValueError(f"refusing to call {action}: not a mapping-test action")
    return _soap(ctx, control_url, service_type, action, args)


def _soap(ctx: CheckContext, control_url: str, service_type: str, action: str,
          args: dict[str, str] | None) -> web.HttpResult:
    if not web.same_host(control_url, ctx.host):
        raise ValueError(f"refusing to call {control_url}: not the device under test")
    _host, port, tls, path = web.split_target_url(control_url)
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in (args or {}).items())
    body = ('<?xml version="1.0"?>\r\n'
            '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
            f'<u:{action} xmlns:u="{service_type}">{inner}</u:{action}>'
            "</s:Body></s:Envelope>\r\n").encode()
    return web.request(ctx, port, path, tls=tls, method="POST", body=body, max_bytes=64 * 1024,
                       headers={"Content-Type": 'text/xml; charset="utf-8"',
                                "SOAPAction": f'"{service_type}#{action}"'})


def response_field(body: bytes, name: str) -> str | None:
    """The text of one out-argument (e.g. NewExternalIPAddress) in a SOAP response, or None."""
    try:
        root = parse_xml(body)
    except ValueError:
        return None
    for el in root.iter():
        if _local(el.tag) == name:
            return (el.text or "").strip()[:200]
    return None


def upnp_error_code(body: bytes) -> int | None:
    try:
        root = parse_xml(body)
    except ValueError:
        return None
    for el in root.iter():
        if _local(el.tag) == "errorCode" and el.text:
            try:
                return int(el.text.strip())
            except ValueError:
                return None
    return None


def ssdp_ports(ctx: CheckContext) -> list[int]:
    ports = sorted({s.port for s in ctx.services if s.protocol == "ssdp" and s.transport == "udp"})
    override = ctx.options.discovery.ssdp_port
    if override is not None:
        return [override]
    return ports or [1900]


def _gather(ctx: CheckContext) -> UpnpInfo:
    info = UpnpInfo(ssdp_ports=ssdp_ports(ctx))
    raw_all = bytearray()
    for port in info.ssdp_ports:
        ctx.check_cancelled()
        heard = msearch(ctx, port)
        if heard.error:
            info.ssdp_error = heard.error
        for a in heard.answers:
            raw_all += a + b"\r\n----\r\n"
            info.responses.append(ssdp.parse(a).to_json())
    if info.responses:
        info.ssdp_answered = True
        info.ssdp_artefact = ctx.artefact("ssdp", f"unicast M-SEARCH answers from {ctx.host}", bytes(raw_all),
                                          port=info.ssdp_ports[0])
    seen: set[str] = set()
    for r in info.responses:
        loc = r.get("location")
        if not loc or loc in seen:
            continue
        seen.add(loc)
        (info.locations if web.same_host(loc, ctx.host) else info.foreign_locations).append(loc)
    # UPnP description ports found over TCP (no SSDP answer needed): try the usual paths.
    if not info.locations:
        for svc in ctx.services_for("upnp"):
            for path in data()["description_paths"]:
                ctx.check_cancelled()
                resp = web.get(ctx, svc.port, path, tls=web.is_tls(svc), max_bytes=MAX_XML_BYTES)
                if resp.ok and b"<root" in resp.body[:2000]:
                    info.locations.append(web.service_url(svc, path))
                    break
    for loc in info.locations[:4]:
        ctx.check_cancelled()
        _host, port, tls, path = web.split_target_url(loc)
        resp = web.get(ctx, port, path, tls=tls, max_bytes=MAX_XML_BYTES)
        d = UpnpDescription(location=loc, fetched=resp.status is not None, artefact=resp.artefact)
        if not resp.ok:
            d.error = resp.error or f"HTTP {resp.status}"
        else:
            try:
                d.fields, d.services = parse_description(resp.body, loc)
                d.urls = description_urls(resp.body)
            except ValueError as exc:
                d.error = f"description XML refused: {exc}"
        info.descriptions.append(d)
    return info


def gather(ctx: CheckContext) -> UpnpInfo:
    """SSDP + descriptions for ctx.host, done once per run and shared by the checks that need it."""
    return ctx.once(("upnp", ctx.host), lambda: _gather(ctx))
