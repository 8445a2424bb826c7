"""What the device shows about its firmware and its updates: a bounded survey of its web services.

Shared by `update_mechanism` (is there an update page or endpoint?) and `update_channel` (how do
update checks travel?), so the device is asked once. The survey observes; the checks judge.

Bounds: per web service a random-path baseline, the known vendor paths from
`probe/data/update_paths.yaml`, and a crawl of at most `crawl.max_pages` same-host pages, each
capped in bytes. Only the target's own address is contacted; URLs in its answers that point
anywhere else are recorded and never fetched (they are the vendor's servers, not ours to test).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from probe import yamlfile
from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Service, Status
from probe.protocols import html
from probe.services import upnp, web

_TEXT_VERSION = re.compile(r"(?i)(?:firmware|software|fw)[ _-]?(?:version|ver\.?)\s*[:=]?\s*(?:</?\w+[^>]*>\s*)*"
                           r"v?([0-9][0-9A-Za-z._\-]{0,40})")
_URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>\\]{3,300}")


def config() -> dict[str, Any]:
    text = (importlib.resources.files("probe") / "data" / "update_paths.yaml").read_text("utf-8")
    return yamlfile.safe_load(text)


@dataclass(frozen=True)
class Seen:
    """A value and exactly where it was seen (URL, field, artefact) for the evidence."""

    value: str
    source: str  # URL (or "upnp:<location>")
    how: str  # e.g. json:firmware_version, html-link, upnp:modelNumber, text
    artefact: str | None


@dataclass
class WebService:
    url: str
    reachable: bool = False
    error: str | None = None
    baseline_status: int | None = None
    baseline_digest: str | None = None


@dataclass
class Survey:
    services: list[WebService] = field(default_factory=list)
    pages: list[Seen] = field(default_factory=list)  # every page fetched: value = "<status> <title>"
    update_pages: list[Seen] = field(default_factory=list)  # on-device update pages/endpoints: value = status
    update_urls: list[Seen] = field(default_factory=list)  # update-check/download URLs, on-device or not
    versions: list[Seen] = field(default_factory=list)
    models: list[Seen] = field(default_factory=list)
    upnp: upnp.UpnpInfo | None = None

    @property
    def any_reachable(self) -> bool:
        return any(s.reachable for s in self.services) or bool(self.upnp and any(
            d.fetched for d in self.upnp.descriptions))

    def unreadable(self) -> list[str]:
        """Web services that never answered and UPnP descriptions that could not be read.

        "Nothing seen" (NOT_APPLICABLE) is only honest when every place was read; checks that
        found nothing report these as INCONCLUSIVE instead.
        """
        out = [f"{w.url}: {w.error or 'no answer'}" for w in self.services if not w.reachable or w.error]
        if self.upnp:
            out += [f"{d.location}: {d.error}" for d in self.upnp.descriptions if d.error]
        return out

    def add(self, bucket: list[Seen], item: Seen, cap: int = 50) -> None:
        if len(bucket) < cap and not any(b.value == item.value and b.source == item.source for b in bucket):
            bucket.append(item)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _walk_json(obj: Any, depth: int = 0) -> list[tuple[str, Any]]:
    """(key, value) pairs at any depth, bounded."""
    out: list[tuple[str, Any]] = []
    if depth > 8:
        return out
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:200]:
            out.append((str(k), v))
            out.extend(_walk_json(v, depth + 1))
    elif isinstance(obj, list):
        for v in obj[:200]:
            out.extend(_walk_json(v, depth + 1))
    return out[:2000]


def _norm(key: str) -> str:
    return key.lower().replace("-", "_")


def _scan_json(s: Survey, cfg: dict[str, Any], res: web.HttpResult) -> bool:
    try:
        doc = json.loads(res.body.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return False
    url_keys = {_norm(k) for k in cfg["url_keys"]}
    url_words = tuple(_norm(w) for w in cfg.get("url_key_words", ()))
    ver_keys = {_norm(k) for k in cfg["version_keys"]}
    model_keys = {_norm(k) for k in cfg["model_keys"]}
    for key, value in _walk_json(doc):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            continue
        text = str(value).strip()[:300]
        nk = _norm(key)
        is_url_key = nk in url_keys or (nk.endswith(("url", "uri")) and any(w in nk for w in url_words))
        if is_url_key and text.lower().startswith(("http://", "https://", "ftp://", "tftp://")):
            s.add(s.update_urls, Seen(text, res.url, f"json:{key}", res.artefact))
        elif nk in ver_keys and text and any(ch.isdigit() for ch in text):
            s.add(s.versions, Seen(text[:80], res.url, f"json:{key}", res.artefact))
        elif nk in model_keys and text:
            s.add(s.models, Seen(text[:120], res.url, f"json:{key}", res.artefact))
    return True


def _is_update_word(text: str, cfg: dict[str, Any]) -> bool:
    t = text.lower()
    return any(k in t for k in cfg["keywords"])


def _survey_service(ctx: CheckContext, svc: Service, s: Survey, cfg: dict[str, Any], web_ports: set[int]) -> None:
    tls = web.is_tls(svc)
    ws = WebService(web.service_url(svc))
    s.services.append(ws)
    cap = int(cfg["crawl"]["max_bytes_per_page"])
    # 1. baseline: what does a path that cannot exist answer?
    base = web.get(ctx, svc.port, f"/probe-nonexistent-{secrets.token_hex(6)}", tls=tls, max_bytes=cap)
    if base.status is None:
        ws.error = base.error
        return
    ws.reachable = True
    if base.truncated:
        # Even a path that cannot exist gets an answer longer than the read cap (endless or
        # oversized): no page of this service can be told apart, and each request would only
        # store another cut-off body. Unreadable, so checks say INCONCLUSIVE, never "nothing found".
        ws.error = f"answers a path that cannot exist with a response cut at the {cap}-byte read cap"
        return
    ws.baseline_status = base.status
    ws.baseline_digest = _digest(base.body)

    def catch_all(res: web.HttpResult) -> bool:
        return res.status == ws.baseline_status and _digest(res.body) == ws.baseline_digest

    # 2. known vendor paths
    for path in cfg["paths"]:
        ctx.check_cancelled()
        res = web.get(ctx, svc.port, path, tls=tls, max_bytes=cap)
        if res.status is None or catch_all(res):
            continue
        if res.status in (401, 403):
            s.add(s.update_pages, Seen(f"{res.status} (login required)", res.url, "known-path", res.artefact))
            continue
        if not res.ok:
            continue
        is_json = _scan_json(s, cfg, res) if res.body.lstrip()[:1] in (b"{", b"[") else False
        if not is_json:
            text = res.text()
            if path.endswith(".txt") or "text/plain" in res.headers.get("content-type", ""):
                first = text.strip().splitlines()[0][:80] if text.strip() else ""
                if first and any(ch.isdigit() for ch in first):
                    s.add(s.versions, Seen(first, res.url, "text", res.artefact))
            _scan_text(s, cfg, res, text, ctx.host)
        if _is_update_word(path, cfg):
            s.add(s.update_pages, Seen(str(res.status), res.url, "known-path", res.artefact))
    # 3. bounded crawl from "/"
    queue: deque[str] = deque([ws.url + "/" if not ws.url.endswith("/") else ws.url])
    visited: set[str] = set()
    skip = tuple(cfg["crawl"]["skip_extensions"])
    for _ in range(int(cfg["crawl"]["max_pages"]) * 4):
        ctx.check_cancelled()
        if not queue or len(visited) >= int(cfg["crawl"]["max_pages"]):
            break
        url = queue.popleft()
        if url in visited:
            continue
        visited.add(url)
        _h, port, ptls, path = web.split_target_url(url)
        res = web.get(ctx, port, path, tls=ptls, max_bytes=cap)
        if res.status is None:
            continue
        if 300 <= res.status < 400 and res.headers.get("location"):
            nxt = web.resolve_link(url, res.headers["location"])
            if nxt and web.same_host(nxt, ctx.host) and urlsplit(nxt).port in (None, *web_ports):
                queue.append(nxt)
            continue
        text = res.text()
        page = html.parse(text) if "html" in res.headers.get("content-type", "html") else None
        title = page.title if page else ""
        s.add(s.pages, Seen(f"{res.status} {title}".strip(), url, "crawl", res.artefact))
        if res.status in (401, 403) and _is_update_word(path, cfg):
            s.add(s.update_pages, Seen(f"{res.status} (login required)", url, "linked-page", res.artefact))
        elif res.ok and _is_update_word(path + " " + title, cfg) and not catch_all(res):
            s.add(s.update_pages, Seen(str(res.status), url, "linked-page", res.artefact))
        if res.ok and res.body.lstrip()[:1] in (b"{", b"["):
            _scan_json(s, cfg, res)
        if page is None:
            _scan_text(s, cfg, res, text, ctx.host)
            continue
        for name, content in page.meta:
            if name in ("model", "product", "device", "model-name", "modelname") and content.strip():
                s.add(s.models, Seen(content.strip()[:120], url, f"html-meta:{name}", res.artefact))
        for href, label in page.links:
            link = web.resolve_link(url, href)
            if not link:
                continue
            if not web.same_host(link, ctx.host):
                if _is_update_word(link + " " + label, cfg):
                    s.add(s.update_urls, Seen(link, url, "html-link", res.artefact))
                continue
            lport = urlsplit(link).port or (443 if link.startswith("https") else 80)
            if lport not in web_ports or link.lower().split("?")[0].endswith(skip):
                continue
            if _is_update_word(link + " " + label, cfg) or len(queue) < 32:
                if _is_update_word(link + " " + label, cfg):
                    queue.appendleft(link)  # update pages first: the crawl budget is small
                else:
                    queue.append(link)
        _scan_text(s, cfg, res, text, ctx.host)  # after the links, so a link is recorded as a link


def _scan_text(s: Survey, cfg: dict[str, Any], res: web.HttpResult, text: str, host: str) -> None:
    for m in _TEXT_VERSION.finditer(text[:web.DEFAULT_BODY_CAP]):
        s.add(s.versions, Seen(m.group(1), res.url, "text", res.artefact))
        if len(s.versions) > 20:
            break
    for m in _URL_IN_TEXT.finditer(text[:web.DEFAULT_BODY_CAP]):
        url = m.group(0).rstrip(".,;)")
        path = urlsplit(url).path if url else ""
        if _is_update_word(path, cfg) and not web.same_host(url, host):
            s.add(s.update_urls, Seen(url, res.url, "text-url", res.artefact))


def _survey(ctx: CheckContext) -> Survey:
    cfg = config()
    s = Survey()
    web_services = [sv for sv in ctx.services if sv.protocol in ("http", "https") and sv.transport == "tcp"]
    # https first: the same content over TLS is the better evidence
    web_services.sort(key=lambda sv: (not web.is_tls(sv), sv.port))
    ports = {sv.port for sv in web_services}
    for svc in web_services[:6]:
        ctx.check_cancelled()
        _survey_service(ctx, svc, s, cfg, ports)
    s.upnp = upnp.gather(ctx)
    for d in s.upnp.descriptions:
        for k, v in d.fields.items():
            if k in ("firmwareVersion", "softwareVersion", "swVersion"):
                s.add(s.versions, Seen(v, d.location, f"upnp:{k}", d.artefact))
    return s


def survey(ctx: CheckContext) -> Survey:
    """The update survey of ctx.host, made once per run."""
    return ctx.once(("update-survey", ctx.host), lambda: _survey(ctx))


def seen_json(items: list[Seen]) -> list[dict[str, Any]]:
    return [{"value": i.value, "source": i.source, "how": i.how, "artefact": i.artefact} for i in items]


WEB = ("http", "https", "upnp")


def no_web_service(ctx: CheckContext, title: str) -> Finding | None:
    """NOT_APPLICABLE when the device has no web/UPnP service (INCONCLUSIVE if discovery was cut short)."""
    if ctx.services_for(*WEB):
        return None
    if ctx.discovery_complete:
        return ctx.finding(Status.NOT_APPLICABLE, f"{title}: nothing to look at",
                           "The device has no http, https or upnp service.",
                           reason="no http/https/upnp service found by discovery")
    return ctx.inconclusive(f"{title}: not run.", "discovery did not complete, so the absence of web "
                            "services is not proven", InconclusiveReason.INTERRUPTED)
