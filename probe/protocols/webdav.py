"""WebDAV (RFC 4918) PROPFIND: which resources a folder lists, read from a 207 Multi-Status answer.

PROPFIND with `Depth: 1` asks for a folder's members and their properties; it reads and changes
nothing. The answer is XML from the device, hostile input: parsed with defusedxml (no entity
expansion, no external entities), the number of entries capped.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

MAX_HREFS = 200
PROPFIND_BODY = (b'<?xml version="1.0" encoding="utf-8"?>\n'
                 b'<propfind xmlns="DAV:"><prop><resourcetype/><getcontentlength/></prop></propfind>\n')
HEADERS = {"Depth": "1", "Content-Type": 'application/xml; charset="utf-8"'}


def parse_multistatus(body: bytes) -> list[str] | None:
    """The URL paths in a multistatus answer (folder first, as servers send it), or None if the body
    is not a DAV multistatus document."""
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        return None
    if not root.tag.endswith("multistatus"):
        return None
    out: list[str] = []
    for el in root.iter():
        if el.tag.endswith("}href") or el.tag == "href":
            text = (el.text or "").strip()
            if text:
                out.append(unquote(urlsplit(text).path or text))
            if len(out) >= MAX_HREFS:
                break
    return out
