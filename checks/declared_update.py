"""The declared update mechanism, compared with the update URLs and pages the device shows.

Reads update_channel's and update_mechanism's findings (this check runs after them and sends
nothing): the update URLs the device names for itself, and the update pages the crawl recognised
by their content. Each compared item (an observed URL, a declared URL, the update page) is one
finding whose details name the item, so `probe diff` matches it across runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from probe.compliance.declaration import Declared, DeclaredUpdate
from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import Check


def _norm(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme.lower()}://{p.netloc.lower()}{p.path.rstrip('/') or '/'}"


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


class DeclaredUpdateCheck(Check):
    check_id = "declared_update"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        decl = ctx.declaration
        if decl is None or decl.update is None:  # the engine does not schedule this check then
            yield ctx.inconclusive("No declared update mechanism to compare.", "the declaration states no update",
                                   InconclusiveReason.NO_INPUT)
            return
        upd = decl.update
        prior = ctx.findings_so_far()
        channel = [f for f in prior if f.check_id == "update_channel"]
        mechanism = [f for f in prior if f.check_id == "update_mechanism"]
        head = [decl.artefact] if decl.artefact else []
        declared_urls = {_norm(u): u for u in (upd.check_url, upd.download_url) if u}
        observed: dict[str, list[Finding]] = {}
        for f in channel + mechanism:
            for url in self._urls(f):
                observed.setdefault(_norm(url), []).append(f)
        if not channel and not mechanism:
            yield ctx.inconclusive("The update checks did not run, so there is nothing to compare.",
                                   "no update_channel or update_mechanism finding on this target",
                                   InconclusiveReason.NO_INPUT, details={"item": "update mechanism"}, artefacts=head)
            return
        for norm in sorted(observed):
            ctx.check_cancelled()
            yield self._observed_url(ctx, observed[norm], norm, declared_urls, upd, decl, head)
        for norm, url in sorted(declared_urls.items()):
            if norm in observed:
                continue
            yield ctx.finding(Status.NOT_APPLICABLE, "Declared update URL not named by the device",
                              f"{self._where(decl, upd, 'check_url' if url == upd.check_url else 'download_url')} "
                              f"declares {url}; the device does not name it in the pages and API answers probe read. "
                              "A device need not reveal its update URL: nothing contradicts the declaration.",
                              reason="the declared update URL is not visible over the network",
                              details={"item": f"declared-url {url}", "declared": upd.to_json()}, artefacts=head,
                              severity="info")
        if upd.local_update_page is not None:
            yield self._page(ctx, mechanism, upd, decl, head)

    @staticmethod
    def _urls(f: Finding) -> list[str]:
        urls: list[str] = []
        if isinstance(f.details.get("update_url"), str):
            urls.append(f.details["update_url"])
        for item in f.details.get("update_urls") or []:
            if isinstance(item, dict) and isinstance(item.get("value"), str):
                urls.append(item["value"])
        return urls

    @staticmethod
    def _where(decl: Declared, upd: DeclaredUpdate, key: str) -> str:
        line = upd.lines.get(key)
        return f"{decl.file}" + (f" line {line}" if line else "")

    def _observed_url(self, ctx: CheckContext, fs: list[Finding], norm: str, declared_urls: dict[str, str],
                      upd: DeclaredUpdate, decl: Declared, head: list[str]) -> Finding:
        url = next(u for f in fs for u in self._urls(f) if _norm(u) == norm)
        arts = head + sorted({a for f in fs for a in f.artefacts})
        details: dict[str, Any] = {"item": f"url {url}", "observed_url": url, "declared": upd.to_json(),
                                   "observed_in": sorted({f.id for f in fs})}
        if upd.protocol and _scheme(url) != upd.protocol.lower():
            return ctx.finding(Status.FAIL, "Update URL over another protocol than declared",
                               f"The device names {url} as an update URL ({_scheme(url)}), but "
                               f"{self._where(decl, upd, 'protocol')} declares updates over {upd.protocol}.",
                               details=details, artefacts=arts, severity="high")
        if norm not in declared_urls:
            return ctx.finding(Status.FAIL, "Update URL not in the declaration",
                               f"The device names {url} as an update URL, which the declared update mechanism "
                               f"({decl.file}) does not list: an update path the manufacturer did not declare.",
                               details=details, artefacts=arts)
        return ctx.finding(Status.PASS, "Update URL as declared",
                           f"The device names {url} as an update URL, as declared in {decl.file}.",
                           details=details, artefacts=arts, severity="info")

    def _page(self, ctx: CheckContext, mechanism: list[Finding], upd: DeclaredUpdate, decl: Declared,
              head: list[str]) -> Finding:
        pages = [p for f in mechanism for p in f.details.get("update_pages") or [] if isinstance(p, dict)]
        arts = head + sorted({a for f in mechanism for a in f.artefacts})
        where = self._where(decl, upd, "local_update_page")
        details = {"item": "update page", "declared": upd.to_json(), "pages_seen": pages}
        listed = ", ".join(str(p.get("value") or p.get("source")) for p in pages[:3])
        if upd.local_update_page and pages:
            return ctx.finding(Status.PASS, "Update page as declared", f"{where} declares an update page; the "
                               f"device serves one ({listed}).", details=details, artefacts=arts, severity="info")
        if not upd.local_update_page and pages:
            return ctx.finding(Status.FAIL, "Update page not in the declaration",
                               f"{where} declares no update page, but the device serves one ({listed}).",
                               details=details, artefacts=arts)
        if not upd.local_update_page:
            return ctx.finding(Status.PASS, "No update page, as declared",
                               f"{where} declares no update page, and the crawl recognised none.",
                               details=details, artefacts=arts, severity="info")
        return ctx.inconclusive(f"{where} declares an update page; the bounded crawl recognised none (it may sit "
                                "behind the login).", "declared update page not seen", InconclusiveReason.NO_INPUT,
                                details=details, artefacts=arts)
