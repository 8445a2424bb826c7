"""What the device shows about its firmware and its updates: a bounded survey of its web services.

Shared by `update_mechanism` (is there an update page or endpoint?) and `update_channel` (how do
update checks travel?), so the device is asked once. The survey observes; the checks judge.

What counts is decided by content, never by a path or a word alone:
- an *update page* is a page whose title or heading is about updates, or that holds a file upload
  form on a page about updates; an *update endpoint* is a JSON answer carrying update-check keys
  (latest version, image URL). A 401/403 on an update-looking path is only a *protected page*:
  something is there, what it is cannot be seen without logging in;
- the device's *own update URLs* are the URLs it names in its own API and configuration answers
  (JSON keys such as update_url, image_url), in the config objects of the scripts its pages load
  (`otaCheckUrl: "http://..."`) and in elements of its UPnP description (a vendor's
  `firmwareUpdateURL`), each by the same field-name rules (`is_update_url_key`); links in a page or
  URLs in its text that merely contain an update word are recorded as *update links* and never
  judged.

Bounds: per web service a random-path baseline, the known vendor paths from
`probe/data/update_paths.yaml`, a crawl of at most `crawl.max_pages` same-host pages, the
same-host scripts those pages load and the document paths the scripts name (`scripts:`), each
capped in bytes; then each update-endpoint path the device revealed (at most MAX_LEARNED_PATHS)
asked once on each of its other web services, since one document root often serves them all.
Only the target's own address is contacted; URLs in its answers that point anywhere else are
recorded and never fetched (they are the vendor's servers, not ours to test).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
import secrets
from collections import deque
from collections.abc import Callable
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
    update_pages: list[Seen] = field(default_factory=list)  # on-device update pages/endpoints, by content
    protected_pages: list[Seen] = field(default_factory=list)  # 401/403 on an update-looking path: unseen content
    update_urls: list[Seen] = field(default_factory=list)  # update URLs the device names in its API/config answers
    update_links: list[Seen] = field(default_factory=list)  # links/text URLs with an update word: recorded only
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


def _walk_json(obj: Any, depth: int = 0, parent: str = "") -> list[tuple[str, str, Any]]:
    """(parent key, key, value) triples at any depth, bounded."""
    out: list[tuple[str, str, Any]] = []
    if depth > 8:
        return out
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:200]:
            out.append((parent, str(k), v))
            out.extend(_walk_json(v, depth + 1, str(k)))
    elif isinstance(obj, list):
        for v in obj[:200]:
            out.extend(_walk_json(v, depth + 1, parent))
    return out[:2000]


def _norm(key: str) -> str:
    return key.lower().replace("-", "_")


URL_SCHEMES = ("http://", "https://", "ftp://", "tftp://")


def is_update_url_key(cfg: dict[str, Any], key: str, parent: str = "") -> bool:
    """Whether a value under `key` (inside `parent`) is an update-check or download URL, by the
    same rules wherever the device names it: a JSON answer, a script's object literal, an element
    of its UPnP description (update_paths.yaml: url_keys, url_key_words, url_leaf_keys)."""
    nk = _norm(key).replace("_", "")
    url_keys = {_norm(k).replace("_", "") for k in cfg["url_keys"]}
    url_words = tuple(_norm(w) for w in cfg.get("url_key_words", ()))
    leaf_keys = {_norm(k) for k in cfg.get("url_leaf_keys", ())}
    return nk in url_keys or (nk.endswith(("url", "uri")) and any(w in nk for w in url_words)) or (
        _norm(key) in leaf_keys and any(w in _norm(parent) for w in url_words))  # autoUpdate: {server: ...}


# `name: "https://..."`, `"name": '...'`, `name = "..."`: a URL literal assigned to a named field in
# a script (a login page's bundle often carries the device's update-check URL in its config object)
_SCRIPT_URL = re.compile(r"""["']?([A-Za-z_$][\w$]{0,60})["']?\s*[:=]\s*["'`]((?:https?|ftp|tftp)://[^"'`\s\\]{3,300})["'`]""")


def _scan_script_urls(s: Survey, cfg: dict[str, Any], source: str, text: str, artefact: str | None) -> None:
    """Update URLs a script names in a field whose name says so (the JSON key rules)."""
    for m in _SCRIPT_URL.finditer(text[:int(cfg["scripts"]["max_bytes"])]):
        if is_update_url_key(cfg, m.group(1)):
            s.add(s.update_urls, Seen(m.group(2), source, f"script:{m.group(1)}", artefact))


def _scan_json(s: Survey, cfg: dict[str, Any], res: web.HttpResult) -> bool:
    """Update URLs, versions and models named in a JSON answer; an update-check answer (latest
    version, image URL) makes the URL an update endpoint."""
    try:
        doc = json.loads(res.body.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return False
    check_keys = {_norm(k) for k in cfg.get("update_check_keys", ())}
    endpoint_keys: list[str] = []
    ver_keys = {_norm(k) for k in cfg["version_keys"]}
    model_keys = {_norm(k) for k in cfg["model_keys"]}
    for parent, key, value in _walk_json(doc):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            continue
        text = str(value).strip()[:300]
        nk = _norm(key)
        if nk in check_keys and text and key not in endpoint_keys:
            endpoint_keys.append(key)
        if is_update_url_key(cfg, key, parent) and text.lower().startswith(URL_SCHEMES):
            where = f"{parent}.{key}" if parent else key
            s.add(s.update_urls, Seen(text, res.url, f"json:{where}", res.artefact))
        elif nk in ver_keys and text and any(ch.isdigit() for ch in text):
            s.add(s.versions, Seen(text[:80], res.url, f"json:{key}", res.artefact))
        elif nk in model_keys and text:
            s.add(s.models, Seen(text[:120], res.url, f"json:{key}", res.artefact))
    if endpoint_keys:
        s.add(s.update_pages, Seen(f"{res.status} update-check answer ({', '.join(endpoint_keys[:4])})", res.url,
                                   "json-endpoint", res.artefact))
    return True


def _is_update_word(text: str, cfg: dict[str, Any]) -> bool:
    t = text.lower()
    return any(k in t for k in cfg["keywords"])


def _update_page(s: Survey, cfg: dict[str, Any], res: web.HttpResult, page: html.Page) -> None:
    """An update page by what it shows: a title or heading about updates, or an upload form on a
    page that mentions them. A link text or a path with an update word is not enough."""
    words = tuple(cfg.get("page_keywords", cfg["keywords"]))

    def about(text: str) -> bool:
        t = text.lower()
        return any(w in t for w in words)

    heading = next((h for h in page.headings if about(h)), None)
    if about(page.title):
        s.add(s.update_pages, Seen(f"{res.status} page titled {page.title[:80]!r}", res.url, "page-title",
                                   res.artefact))
    elif heading:
        s.add(s.update_pages, Seen(f"{res.status} page headed {heading[:80]!r}", res.url, "page-heading",
                                   res.artefact))
    elif page.file_inputs and _is_update_word(res.text()[:web.DEFAULT_BODY_CAP], cfg):
        s.add(s.update_pages, Seen(f"{res.status} upload form on a page about updates", res.url, "upload-form",
                                   res.artefact))


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
            # something is there, but what it is needs a login: never an update page on its own
            s.add(s.protected_pages, Seen(f"{res.status} (login required)", res.url, "known-path", res.artefact))
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
            elif "html" in res.headers.get("content-type", "html"):
                _update_page(s, cfg, res, html.parse(text))
            _scan_text(s, cfg, res, text, ctx.host)
    # 3. bounded crawl from "/"
    queue: deque[str] = deque([ws.url + "/" if not ws.url.endswith("/") else ws.url])
    visited: set[str] = set()
    scripts: list[str] = []  # same-host script URLs of the crawled pages
    inline: list[tuple[str, str]] = []  # (page URL, inline script text)
    skip = tuple(cfg["crawl"]["skip_extensions"])

    def crawlable(link: str) -> bool:
        """A redirect's target the crawl may ask: this host, one of its web ports, not an action."""
        return web.same_host(link, ctx.host) and urlsplit(link).port in (None, *web_ports) \
            and not web.names_an_action(link)
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
            if nxt and crawlable(nxt):
                queue.append(nxt)
            continue
        text = res.text()
        page = html.parse(text) if "html" in res.headers.get("content-type", "html") else None
        title = page.title if page else ""
        s.add(s.pages, Seen(f"{res.status} {title}".strip(), url, "crawl", res.artefact))
        if res.status in (401, 403) and _is_update_word(path, cfg):
            s.add(s.protected_pages, Seen(f"{res.status} (login required)", url, "linked-page", res.artefact))
        elif res.ok and page is not None and not catch_all(res):
            _update_page(s, cfg, res, page)
        if res.ok and res.body.lstrip()[:1] in (b"{", b"["):
            _scan_json(s, cfg, res)
        if page is None:
            _scan_text(s, cfg, res, text, ctx.host)
            continue
        for target in reversed(page.redirects):  # where a browser goes next (meta refresh, script location)
            nxt = web.resolve_link(url, target)
            if nxt and crawlable(nxt) and nxt not in visited:
                queue.appendleft(nxt)
        if page.inline_script.strip():
            inline.append((url, page.inline_script))
        for src in page.script_srcs:
            link = web.resolve_link(url, src)
            if link and web.same_host(link, ctx.host) and urlsplit(link).port in (None, *web_ports) \
                    and link not in scripts:
                scripts.append(link)
        for name, content in page.meta:
            if name in ("model", "product", "device", "model-name", "modelname") and content.strip():
                s.add(s.models, Seen(content.strip()[:120], url, f"html-meta:{name}", res.artefact))
        for href, label in page.links:
            link = web.resolve_link(url, href)
            if not link:
                continue
            if not web.same_host(link, ctx.host):
                if _is_update_word(link + " " + label, cfg):  # a link is not an update URL the device uses
                    s.add(s.update_links, Seen(link, url, "html-link", res.artefact))
                continue
            lport = urlsplit(link).port or (443 if link.startswith("https") else 80)
            if lport not in web_ports or link.lower().split("?")[0].endswith(skip) or web.names_an_action(link):
                continue
            if _is_update_word(link + " " + label, cfg) or len(queue) < 32:
                if _is_update_word(link + " " + label, cfg):
                    queue.appendleft(link)  # update pages first: the crawl budget is small
                else:
                    queue.append(link)
        _scan_text(s, cfg, res, text, ctx.host)  # after the links, so a link is recorded as a link
    _follow_scripts(ctx, s, cfg, ws, scripts, inline, catch_all)


_PATH_LITERAL = re.compile(r"""["'`](/[A-Za-z0-9_~.%/-]{1,160})["'`?#]""")


def _script_paths(text: str, cfg: dict[str, Any]) -> list[str]:
    """Absolute paths that a script's string literals name and that look like documents a page reads
    (a status or version JSON), never like actions (reboot, reset, upgrade...): only those are asked."""
    sc = cfg["scripts"]
    suffixes = tuple(sc["document_suffixes"])
    doc_words = tuple(sc["document_words"])
    actions = tuple(sc["action_words"])
    skip = tuple(cfg["crawl"]["skip_extensions"]) + (".js", ".html", ".htm")
    out: list[str] = []
    for m in _PATH_LITERAL.finditer(text[:int(sc["max_bytes"])]):
        path = m.group(1)
        low = path.lower()
        if path.startswith("//") or low.endswith(skip) or any(w in low for w in actions):
            continue
        if (low.endswith(suffixes) or any(w in low for w in doc_words)) and path not in out:
            out.append(path)
    return out


def _follow_scripts(ctx: CheckContext, s: Survey, cfg: dict[str, Any], ws: WebService, scripts: list[str],
                    inline: list[tuple[str, str]], catch_all: Callable[[web.HttpResult], bool]) -> None:
    """What the crawled pages' own scripts read: a login page often loads its model, firmware and
    update settings from a JSON document no link points to. Same-host scripts only (a script on
    another host is never fetched), at most `scripts.max_scripts` per service, each capped in
    bytes; the document paths their string literals name, at most `scripts.max_paths`, each asked
    once with GET on this service and scanned like any JSON answer."""
    sc = cfg["scripts"]
    texts = [(page, text) for page, text in inline]
    for page, text in inline:
        _scan_script_urls(s, cfg, page, text, None)
    for url in scripts[:int(sc["max_scripts"])]:
        ctx.check_cancelled()
        _h, port, tls, path = web.split_target_url(url)
        res = web.get(ctx, port, path, tls=tls, max_bytes=int(sc["max_bytes"]))
        if res.ok and not catch_all(res):
            s.add(s.pages, Seen(f"{res.status} script", url, "script", res.artefact))
            texts.append((url, res.text()))
            _scan_script_urls(s, cfg, url, res.text(), res.artefact)
    asked: list[str] = []
    for _source, text in texts:
        for path in _script_paths(text, cfg):
            if len(asked) >= int(sc["max_paths"]):
                return
            if path in asked:
                continue
            asked.append(path)
            ctx.check_cancelled()
            _h, port, tls, _p = web.split_target_url(ws.url)
            res = web.get(ctx, port, path, tls=tls, max_bytes=int(cfg["crawl"]["max_bytes_per_page"]))
            if not res.ok or catch_all(res):
                continue
            s.add(s.pages, Seen(f"{res.status} named by a script", res.url, "script-path", res.artefact))
            if res.body.lstrip()[:1] in (b"{", b"["):
                _scan_json(s, cfg, res)


def _scan_text(s: Survey, cfg: dict[str, Any], res: web.HttpResult, text: str, host: str) -> None:
    for m in _TEXT_VERSION.finditer(text[:web.DEFAULT_BODY_CAP]):
        s.add(s.versions, Seen(m.group(1), res.url, "text", res.artefact))
        if len(s.versions) > 20:
            break
    for m in _URL_IN_TEXT.finditer(text[:web.DEFAULT_BODY_CAP]):
        url = m.group(0).rstrip(".,;)")
        path = urlsplit(url).path if url else ""
        if _is_update_word(path, cfg) and not web.same_host(url, host):
            s.add(s.update_links, Seen(url, res.url, "text-url", res.artefact))


MAX_LEARNED_PATHS = 4  # update-endpoint paths the device named, asked on each of its other web services


def _learned_paths(s: Survey, host: str) -> list[str]:
    """Paths of update endpoints the device itself revealed: the same-host update URLs it names
    and the URLs whose answer was an update-check document."""
    out: list[str] = []
    for item in [*s.update_urls, *(p for p in s.update_pages if p.how == "json-endpoint")]:
        url = item.value if item in s.update_urls else item.source
        if web.same_host(url, host):
            path = web.split_target_url(url)[3]
            if path not in out and path != "/":
                out.append(path)
    return out[:MAX_LEARNED_PATHS]


def _ask_learned_paths(ctx: CheckContext, s: Survey, cfg: dict[str, Any],
                       surveyed: list[tuple[Service, WebService]]) -> None:
    """An update endpoint is often served by every web service of the device (one document root,
    one global rewrite): ask each learned path once (GET) on the services that did not show it, and
    count it where its answer is an update-check document that differs from the service's answer
    to a path that cannot exist (a catch-all page is not an endpoint)."""
    paths = _learned_paths(s, ctx.host)
    cap = int(cfg["crawl"]["max_bytes_per_page"])
    for svc, ws in surveyed:
        if not ws.reachable or ws.error:
            continue
        for path in paths:
            ctx.check_cancelled()
            url = web.service_url(svc, path)
            if any(p.source == url for p in s.update_pages):
                continue
            res = web.get(ctx, svc.port, path, tls=web.is_tls(svc), max_bytes=cap)
            if not res.ok or (res.status == ws.baseline_status and _digest(res.body) == ws.baseline_digest):
                continue
            if res.body.lstrip()[:1] in (b"{", b"["):
                _scan_json(s, cfg, res)


def _survey(ctx: CheckContext) -> Survey:
    cfg = config()
    s = Survey()
    web_services = [sv for sv in ctx.services if sv.protocol in ("http", "https") and sv.transport == "tcp"]
    # https first: the same content over TLS is the better evidence
    web_services.sort(key=lambda sv: (not web.is_tls(sv), sv.port))
    ports = {sv.port for sv in web_services}
    surveyed: list[tuple[Service, WebService]] = []
    for svc in web_services[:6]:
        ctx.check_cancelled()
        _survey_service(ctx, svc, s, cfg, ports)
        surveyed.append((svc, s.services[-1]))
    _ask_learned_paths(ctx, s, cfg, surveyed)
    s.upnp = upnp.gather(ctx)
    for d in s.upnp.descriptions:
        for k, v in d.fields.items():
            if k in ("firmwareVersion", "softwareVersion", "swVersion"):
                s.add(s.versions, Seen(v, d.location, f"upnp:{k}", d.artefact))
        for element, url in d.urls:
            if is_update_url_key(cfg, element):
                s.add(s.update_urls, Seen(url, d.location, f"upnp:{element}", d.artefact))
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
