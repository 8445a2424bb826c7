"""Fetching the URLs a manufacturer declared (disclosure policy, support period), on opt-in only.

These URLs are not the device and may be on the internet, so `probe run` fetches them only with
--fetch-declared-urls. Each is one GET, no redirects followed, body capped, read bounded in time;
what came back is recorded as an artefact (status, headers, sha256) so an assessor sees what was
published then. Unlike the device, these are named hosts: resolving them is the point.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from probe.protocols import http

MAX_FETCH_BYTES = 2 * 1024 * 1024


def fetch_url(url: str, timeout: float) -> tuple[dict[str, Any], bytes]:
    """GET one declared URL (operator opt-in): status, final headers, body sha256. No redirects followed.

    Through the one HTTP client (protocols.http): the read is bounded in total time and bytes,
    and https is verified against the system trust store with the URL's host name.
    """
    parts = urlsplit(url)
    result: dict[str, Any] = {"url": url, "status": None, "sha256": None, "size": None, "location": None,
                              "error": None}
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if tls else 80)

    @contextlib.contextmanager
    def connect() -> Iterator[socket.socket]:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            yield sock

    client = http.Client(connect, host, port, tls, timeout=timeout, max_bytes=MAX_FETCH_BYTES,
                         verify=ssl.create_default_context() if tls else None)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        ex = client.exchange("GET", path)
    except OSError as exc:
        result["error"] = f"{exc.__class__.__name__}: {exc}"
        return result, b""
    resp = ex.response
    if resp is None:
        result["error"] = ex.error
        return result, b""
    result.update(status=resp.status, sha256=hashlib.sha256(resp.body).hexdigest(), size=len(resp.body),
                  location=resp.header("Location"), content_type=resp.header("Content-Type"))
    return result, resp.body


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
