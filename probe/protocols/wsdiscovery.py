"""WS-Discovery (OASIS/Microsoft 2005/04, UDP 3702): a unicast Probe and the ProbeMatches answer.

Printers, cameras (ONVIF), NAS boxes and Windows hosts announce themselves with WS-Discovery. The
Probe is a SOAP envelope asking "which endpoints of these types are here?": it reads and changes
nothing. Network safety: it is sent *unicast* to the device under test only, never to the
239.255.255.250 multicast group. A target matches a Probe without Types whatever its types
(section 5.2); some implementations (wsdd) answer only a Probe naming `wsdp:Device`, so discovery
sends both. The answer is device XML, i.e. hostile input, parsed with defusedxml.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

PORT = 3702
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSDP = "http://schemas.xmlsoap.org/ws/2006/02/devprof"
SOAP = "http://www.w3.org/2003/05/soap-envelope"
TO = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
MAX_BYTES = 65535


def probe_message(types: str | None = None) -> tuple[bytes, str]:
    """(a Probe envelope, its MessageID); `types` e.g. "wsdp:Device", or None for any type."""
    mid = f"urn:uuid:{uuid.uuid4()}"
    body = f"<wsd:Types>{types}</wsd:Types>" if types else ""
    xml = (f'<?xml version="1.0" encoding="utf-8"?>'
           f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:wsa="{WSA}" xmlns:wsd="{WSD}" xmlns:wsdp="{WSDP}">'
           f"<soap:Header><wsa:To>{TO}</wsa:To><wsa:Action>{WSD}/Probe</wsa:Action>"
           f"<wsa:MessageID>{mid}</wsa:MessageID></soap:Header>"
           f"<soap:Body><wsd:Probe>{body}</wsd:Probe></soap:Body></soap:Envelope>")
    return xml.encode("utf-8"), mid


@dataclass
class Match:
    endpoint: str = ""
    types: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    xaddrs: list[str] = field(default_factory=list)


@dataclass
class ProbeMatches:
    relates_to: str
    matches: list[Match] = field(default_factory=list)


def _text(el: Element | None) -> str:
    return (el.text or "").strip()[:1000] if el is not None else ""


def parse_matches(data: bytes) -> ProbeMatches | None:
    """The ProbeMatches in a datagram (SOAP 1.2 or 1.1 envelope), else None."""
    if len(data) > MAX_BYTES or b"ProbeMatch" not in data:
        return None
    # imported here, not at module load: discovery imports this module, and discovery must also run
    # where only the standard library is importable before any answer comes (an unprivileged run
    # whose third-party packages sit in a directory it cannot read, tests/discovery/test_syn_scan.py)
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        return None
    relates = ""
    for el in root.iter():
        if el.tag.endswith("}RelatesTo"):
            relates = _text(el)
    out = ProbeMatches(relates)
    for pm in root.iter(f"{{{WSD}}}ProbeMatch"):
        m = Match()
        for el in pm.iter():
            name = el.tag.rsplit("}", 1)[-1]
            if name == "Address":
                m.endpoint = _text(el)
            elif name == "Types":
                m.types = _text(el).split()[:20]
            elif name == "Scopes":
                m.scopes = _text(el).split()[:20]
            elif name == "XAddrs":
                m.xaddrs = _text(el).split()[:10]
        out.matches.append(m)
        if len(out.matches) >= 8:
            break
    return out if out.matches else None
