"""What a device's status pages tell anyone: serial numbers, MACs, firmware, update servers, secrets.

Asked on each web service through the check context (probe.services.web: slots, caps, the run's
stall guard, memoised GETs shared with the other checks, every answer kept as an artefact).
Candidates, all GET and all on the target itself:
- the status paths in probe/data/open_data.yaml and the version paths the update survey asks
  (probe/data/update_paths.yaml), so both lists cost the device one request each per run;
- the same-host JSON/CGI endpoints that the front page's own scripts name (inline code and at
  most `max_scripts` script files; at most `max_script_urls` endpoints): a login page that shows
  the serial number fetches it from somewhere anyone can fetch it from too.
UDP services that answer anyone with who the device is are asked again the same way discovery did
(read-only): an NTP server's control READVAR (mode 6) and a Ubiquiti discovery answer
(`udp_survey`).
What each answer exposes is read from its keys (JSON at any depth, or `key=value` /
`var key='value'` lines of a CGI answer), classified by probe/data/open_data.yaml.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from probe.context import CheckContext
from probe.models import Service
from probe.protocols import html, ntp, ubnt
from probe.services import open_web, updates, web

_QUOTED_PATH = re.compile(r"""["'](/[A-Za-z0-9_\-./]{1,120}?(?:\.json|\.cgi|\.fcgi|\.xml))(?:\?[^"'\s]{0,80})?["']"""
                          r"""|["'](/(?:api|data|status|info|device|system)[A-Za-z0-9_\-./]{0,120})["']""")
_CGI_PAIR = re.compile(r"""(?m)(?:^|[;\s])(?:var\s+)?([A-Za-z_][\w.\-]{0,40})\s*[=:]\s*["']?([^"';\r\n&<>]{1,200})""")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-]?)(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")
_URLISH = re.compile(r"^(?:https?|ftp|tftp)://|^[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?:[:/]|$)")


@dataclass
class Exposure:
    url: str
    artefact: str | None
    found: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # category -> [{key, value}]

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "artefact": self.artefact, "found": self.found}


@dataclass
class ServiceLeaks:
    url: str
    readable: bool = False
    error: str | None = None
    asked: int = 0
    exposures: list[Exposure] = field(default_factory=list)
    script_endpoints: list[str] = field(default_factory=list)


def _norm(key: str) -> str:
    """serialNo, serial_no and serial-no are one key"""
    return key.lower().replace("-", "").replace("_", "")


def _walk(obj: Any, path: tuple[str, ...] = (), depth: int = 0) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    if depth > 8:
        return out
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:200]:
            out.append(((*path, str(k)), v))
            out.extend(_walk(v, (*path, str(k)), depth + 1))
    elif isinstance(obj, list):
        for v in obj[:200]:
            out.extend(_walk(v, path, depth + 1))
    return out[:2000]


def classify(pairs: list[tuple[tuple[str, ...], str]]) -> dict[str, list[dict[str, str]]]:
    """category -> [{key, value}] for the (key path, value) pairs that expose something."""
    cfg = open_web.config()
    keys = {cat: {_norm(k) for k in names} for cat, names in cfg["leak_keys"].items()}
    masked = {m.lower() for m in cfg["masked_values"]}
    parents = tuple(cfg["update_parent_words"])
    generic = {_norm(k) for k in cfg["update_generic_keys"]}
    out: dict[str, list[dict[str, str]]] = {}
    for path, raw in pairs:
        value = raw.strip()[:200]
        leaf = _norm(path[-1])
        shown = ".".join(path)
        for cat, names in keys.items():
            hit = leaf in names
            if cat == "update_server" and not hit and leaf in generic:
                hit = any(w in _norm(p) for p in path[:-1] for w in parents)
            if not hit or value.lower() in masked or set(value) <= {"*", "x", "X", "•"}:
                continue
            ok = {"mac": bool(_MAC.match(value)), "serial": len(value) >= 4 and any(c.isalnum() for c in value),
                  "firmware": any(c.isdigit() for c in value), "update_server": bool(_URLISH.search(value)),
                  "secret": len(value) >= 4}[cat]
            if ok:
                item = {"key": shown, "value": value if cat != "secret" else value[:2] + "…(redacted)"}
                if item not in out.setdefault(cat, []):
                    out[cat].append(item)
    return {k: v[:10] for k, v in out.items() if v}


def _pairs(res: web.HttpResult) -> list[tuple[tuple[str, ...], str]]:
    body = res.body.lstrip()
    if body[:1] in (b"{", b"["):
        try:
            doc = json.loads(res.body.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            doc = None
        if doc is not None:
            return [(p, str(v)) for p, v in _walk(doc)
                    if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
    ctype = res.headers.get("content-type", "")
    if "html" in ctype and b"<html" in body[:512].lower():
        return []  # a page, not a status answer: its text is for people (model_designation reads it)
    pairs: list[tuple[tuple[str, ...], str]] = [((str(m.group(1)),), str(m.group(2)))
                                                for m in _CGI_PAIR.finditer(res.text()[:65536])]
    return pairs[:500]


def script_endpoints(ctx: CheckContext, svc: Service, root: web.HttpResult) -> list[str]:
    """Same-host endpoint paths named by the front page's inline code and its script files."""
    cfg = open_web.config()
    texts = [root.text()]
    page = html.parse(root.text())
    base = web.service_url(svc, "/")
    for src in page.script_srcs[:int(cfg["max_scripts"])]:
        url = web.resolve_link(base, src)
        if not url or not web.same_host(url, ctx.host) or (urlsplit(url).port or (443 if url.startswith("https")
                                                                                   else 80)) != svc.port:
            continue
        _h, _p, _t, path = web.split_target_url(url)
        res = web.get(ctx, svc.port, path, tls=web.is_tls(svc), max_bytes=int(cfg["leak_max_bytes"]))
        if res.status == 200:
            texts.append(res.text())
    found: list[str] = []
    for text in texts:
        for m in _QUOTED_PATH.finditer(text[:200000]):
            path = m.group(1) or m.group(2)
            if path and path not in found and not path.endswith((".js", ".css", ".html", ".png", ".jpg")):
                found.append(path)
    return found[:int(cfg["max_script_urls"])]


def survey(ctx: CheckContext, svc: Service) -> ServiceLeaks:
    """The status answers of one web service and what each exposes."""
    cfg = open_web.config()
    cap = int(cfg["leak_max_bytes"])
    tls = web.is_tls(svc)
    out = ServiceLeaks(web.service_url(svc))
    base = web.get(ctx, svc.port, f"/probe-nonexistent-{secrets.token_hex(6)}", tls=tls, max_bytes=cap)
    if base.status is None or base.truncated:
        out.error = base.error or "answers a path that cannot exist with a response cut at the read cap"
        return out
    out.readable = True
    baseline = (base.status, hashlib.sha256(base.body).hexdigest())
    root = web.get(ctx, svc.port, "/", tls=tls, max_bytes=web.DEFAULT_BODY_CAP)
    out.script_endpoints = script_endpoints(ctx, svc, root) if root.status == 200 else []
    paths = list(dict.fromkeys([*cfg["status_paths"], *updates.config()["paths"], *out.script_endpoints]))
    for path in paths:
        ctx.check_cancelled()
        res = web.get(ctx, svc.port, path, tls=tls, max_bytes=cap)
        out.asked += 1
        if res.status != 200 or (res.status, hashlib.sha256(res.body).hexdigest()) == baseline:
            continue
        found = classify(_pairs(res))
        if found:
            out.exposures.append(Exposure(res.url, res.artefact, found))
    return out


def udp_survey(ctx: CheckContext) -> list[ServiceLeaks]:
    """What the device's NTP control interface and Ubiquiti discovery responder tell anyone."""
    cfg = open_web.config()
    names = {str(k): str(v) for k, v in (cfg.get("ntp_variables") or {}).items()}
    out: list[ServiceLeaks] = []
    for svc in ctx.services:
        if svc.transport != "udp" or svc.protocol not in ("ntp", "ubnt-discovery"):
            continue
        ctx.check_cancelled()
        if svc.protocol == "ntp":
            leaks = ServiceLeaks(f"ntp://{ctx.host}:{svc.port} (mode 6 READVAR)", asked=1)
            with ctx.slot():
                ex = ntp.readvar(ctx.host, svc.port, timeout=ctx.remaining(1.0), attempts=2)
            pairs: list[tuple[tuple[str, ...], str]] = [((names.get(k, k),), v)
                                                        for k, v in (ex.variables or {}).items()]
            reply = b"".join(ex.replies)
            label = "ntp control READVAR answer"
            if ex.variables is None:  # the server answers time (discovery), not control: nothing told
                leaks.url += ": refused" if ex.error else ": no answer (control queries closed)"
        else:
            leaks = ServiceLeaks(f"ubnt-discovery://{ctx.host}:{svc.port}", asked=1)
            with ctx.slot():
                _state, replies, parsed = ubnt.ask(ctx.host, svc.port, timeout=ctx.remaining(1.0), attempts=2)
            pairs = [((k,), v) for k, v in (parsed.fields.items() if parsed else ())]
            reply = replies[0] if replies else b""
            label = "ubiquiti discovery answer"
            if parsed is None:
                leaks.error = "no answer to the discovery request"
        leaks.readable = leaks.error is None
        found = classify(pairs)
        if found:
            art = ctx.artefact("udp-answer", f"{ctx.host}:{svc.port}/udp {label}", reply, port=svc.port)
            leaks.exposures.append(Exposure(leaks.url, art, found))
        out.append(leaks)
    return out
