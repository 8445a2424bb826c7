"""HTTP directory listings: recognise an auto-generated index page and read its entries.

A web server with directory listing switched on (lighttpd `dir-listing.activate`, Apache
`Options +Indexes`, nginx `autoindex`, BusyBox httpd, Python's http.server) serves every file
under the folder to anyone. The page is recognised by its title ("Index of /...", "Directory
listing for /...") together with links to the folder's own entries; the entries are the links
that stay inside the folder (sorting links, absolute URLs and the parent folder are not entries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

from probe.protocols import html

MAX_ENTRIES = 200


@dataclass
class Listing:
    path: str  # the folder (URL path) the page lists
    title: str
    folders: list[str] = field(default_factory=list)  # URL paths of sub-folders
    files: list[str] = field(default_factory=list)  # URL paths of files


def title_marks_listing(title: str, markers: tuple[str, ...]) -> bool:
    t = title.strip().lower()
    return any(t.startswith(m.lower()) for m in markers)


def parse(page_path: str, text: str, markers: tuple[str, ...]) -> Listing | None:
    """The listing on the page at `page_path`, or None when the page is not a directory listing."""
    page = html.parse(text)
    if not title_marks_listing(page.title, markers):
        return None
    base = page_path if page_path.endswith("/") else page_path + "/"
    out = Listing(base, page.title[:200])
    seen: set[str] = set()
    for href, _label in page.links:
        href = href.strip()
        if not href or href.startswith(("?", "#", "javascript:", "mailto:")) or "://" in href:
            continue
        target = urlsplit(urljoin(base, href))
        path = target.path
        if target.query or not path.startswith(base) or path == base or path in seen:
            continue  # sorting links, the parent folder, links out of the folder
        seen.add(path)
        rest = unquote(path[len(base):])
        if rest.count("/") > 1 or (rest.count("/") == 1 and not rest.endswith("/")):
            continue  # not a direct entry of this folder
        (out.folders if path.endswith("/") else out.files).append(path)
        if len(seen) >= MAX_ENTRIES:
            break
    return out if (out.folders or out.files) or "index of" in page.title.lower() else None
