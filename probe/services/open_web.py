"""What a device's web service hands out without a login: folder listings, WebDAV, camera pictures.

Asked through the check context like every web read (probe.services.web: the device's connection
slots, byte and time caps, the run's stall guard, each answer kept as an artefact). Everything is
bounded by probe/data/open_data.yaml: the folders asked, the listing pages read (count, bytes,
depth), the files fetched to prove they are served (count, first bytes only), the WebDAV paths
(one PROPFIND each) and the snapshot paths. Only GET and PROPFIND are sent; nothing is written.
"""

from __future__ import annotations

import importlib.resources
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from probe import yamlfile
from probe.context import CheckContext
from probe.models import Service
from probe.protocols import dirlisting, html, media, webdav
from probe.services import web


@cache
def config() -> dict[str, Any]:
    text = (importlib.resources.files("probe") / "data" / "open_data.yaml").read_text("utf-8")
    data: dict[str, Any] = yamlfile.load_data(text, "probe/data/open_data.yaml")
    return data


@dataclass
class OpenListings:
    """Directory listings found on one web service, and the files fetched from them."""

    listings: list[dict[str, Any]] = field(default_factory=list)  # path, title, entries, artefact
    files: list[dict[str, Any]] = field(default_factory=list)  # path, status, content_type, bytes, artefact
    protected: list[str] = field(default_factory=list)  # folders that asked for credentials
    pages_read: int = 0


def _listing_at(ctx: CheckContext, svc: Service, path: str,
                cap: int) -> tuple[web.HttpResult, dirlisting.Listing | None]:
    res = web.get(ctx, svc.port, path, tls=web.is_tls(svc), max_bytes=cap)
    if res.status != 200 or "html" not in res.headers.get("content-type", "text/html"):
        return res, None
    return res, dirlisting.parse(path, res.text(), tuple(config()["listing_titles"]))


def listings(ctx: CheckContext, svc: Service) -> OpenListings:
    """Listings at "/", at the common share folders and at folders "/" links to; then a bounded
    crawl below each (pages, depth, bytes), and a few files fetched as proof."""
    cfg = config()
    crawl = cfg["crawl"]
    cap, max_pages, max_depth = int(crawl["max_bytes_per_page"]), int(crawl["max_pages"]), int(crawl["max_depth"])
    out = OpenListings()
    start: list[str] = ["/"]
    root = web.get(ctx, svc.port, "/", tls=web.is_tls(svc), max_bytes=cap)
    if root.status == 200 and "html" in root.headers.get("content-type", "text/html"):
        for href, _label in html.parse(root.text()).links[:200]:
            p = urlsplit(href)
            if not p.scheme and not p.netloc and p.path.startswith("/") and p.path.endswith("/") and p.path != "/" \
                    and not web.names_an_action(p.path):
                start.append(p.path)
    start += [p for p in cfg["listing_folders"] if p not in start]
    queue: deque[tuple[str, int]] = deque((p, 0) for p in start[:40])
    seen: set[str] = set()
    files: list[str] = []
    while queue and len(out.listings) < max_pages and out.pages_read < len(start) + max_pages:
        ctx.check_cancelled()
        path, depth = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        res, listing = _listing_at(ctx, svc, path, cap)
        out.pages_read += 1
        if res.status in (401, 403) and depth == 0 and path != "/":
            out.protected.append(path)
        if listing is None:
            continue
        out.listings.append({"path": listing.path, "title": listing.title, "folders": listing.folders[:20],
                             "files": listing.files[:20], "entries": len(listing.folders) + len(listing.files),
                             "artefact": res.artefact})
        # a listed .cgi named "reboot" runs when fetched: entries that name an action are never asked
        files += [f for f in listing.files if f not in files and not web.names_an_action(f)]
        if depth < max_depth:
            queue.extend((f, depth + 1) for f in listing.folders[:10] if not web.names_an_action(f))
    for path in files[:int(crawl["max_files"])]:
        ctx.check_cancelled()
        res = web.get(ctx, svc.port, path, tls=web.is_tls(svc), max_bytes=int(crawl["max_file_bytes"]))
        out.files.append({"path": path, "status": res.status, "content_type": res.headers.get("content-type"),
                          "bytes_read": len(res.body), "artefact": res.artefact, "error": res.error})
    return out


def webdav_listings(ctx: CheckContext, svc: Service, extra: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """(open WebDAV folders, folders that asked for credentials): one PROPFIND Depth 1 per path."""
    found: list[dict[str, Any]] = []
    protected: list[str] = []
    paths = list(dict.fromkeys([*config()["webdav_paths"], *extra]))[:10]
    for path in paths:
        ctx.check_cancelled()
        res = web.request(ctx, svc.port, path, tls=web.is_tls(svc), method="PROPFIND", body=webdav.PROPFIND_BODY,
                          headers=dict(webdav.HEADERS), max_bytes=int(config()["crawl"]["max_bytes_per_page"]))
        if res.status in (401, 403):
            protected.append(path)
            continue
        if res.status != 207:
            continue
        hrefs = webdav.parse_multistatus(res.body)
        if hrefs:
            found.append({"path": path, "entries": hrefs[:20], "count": len(hrefs), "artefact": res.artefact})
    return found, protected


def snapshots(ctx: CheckContext, svc: Service) -> tuple[list[dict[str, Any]], list[str]]:
    """(pictures/streams served without credentials, snapshot paths that asked for credentials)."""
    cfg = config()
    found: list[dict[str, Any]] = []
    protected: list[str] = []
    for path in cfg["snapshot_paths"]:
        ctx.check_cancelled()
        res = web.get(ctx, svc.port, path, tls=web.is_tls(svc), max_bytes=int(cfg["snapshot_max_bytes"]))
        if res.status in (401, 403):
            protected.append(path)
            continue
        if res.status != 200:
            continue
        ctype = res.headers.get("content-type", "")
        kind = media.recognise(ctype, res.body)
        if kind:
            found.append({"path": path, "kind": kind, "content_type": ctype, "bytes_read": len(res.body),
                          "artefact": res.artefact})
            if len(found) >= 2:
                break
    return found, protected
