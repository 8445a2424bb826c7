"""Fetching the URLs a manufacturer declared (disclosure policy, support period), on opt-in only.

These URLs are not the device and may be on the internet, so `probe run` fetches them only with
--fetch-declared-urls. Each is one GET, no redirects followed, body capped; what came back is
recorded as an artefact (status, headers, sha256) so an assessor sees what was published then.
"""

from __future__ import annotations

import hashlib
import http.client
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

MAX_FETCH_BYTES = 2 * 1024 * 1024


def fetch_url(url: str, timeout: float) -> tuple[dict[str, Any], bytes]:
    """GET one declared URL (operator opt-in): status, final headers, body sha256. No redirects followed."""
    parts = urlsplit(url)
    result: dict[str, Any] = {"url": url, "status": None, "sha256": None, "size": None, "location": None,
                              "error": None}
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    try:
        conn: http.client.HTTPConnection
        if tls:
            conn = http.client.HTTPSConnection(host, parts.port or 443, timeout=timeout,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(host, parts.port or 80, timeout=timeout)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", path, headers={"User-Agent": "probe (declared URL check)"})
            resp = conn.getresponse()
            body = resp.read(MAX_FETCH_BYTES)
            result.update(status=resp.status, sha256=hashlib.sha256(body).hexdigest(), size=len(body),
                          location=resp.getheader("Location"), content_type=resp.getheader("Content-Type"))
            return result, body
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        result["error"] = f"{exc.__class__.__name__}: {exc}"
        return result, b""


def fetch_all(urls: list[str], add_artefact: Callable[..., str], timeout: float) -> dict[str, dict[str, Any]]:
    """url -> fetch result, each answer's body recorded with `add_artefact` (the result cites it)."""
    fetched: dict[str, dict[str, Any]] = {}
    for url in urls:
        res, body = fetch_url(url, timeout)
        if body or res["status"] is not None:
            res["artefact"] = add_artefact("declared-url", f"GET {url}", body,
                                           media_type=res.get("content_type") or "application/octet-stream")
        fetched[url] = res
    return fetched
