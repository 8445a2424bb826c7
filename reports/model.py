"""What every report format shows, computed once from a saved evidence document.

Reports never rescan and never re-judge: counts, verdicts and the run outcome are read from the
evidence exactly as `probe run` wrote them, so a report and the terminal summary cannot disagree.
Every string that may have come from a device goes through `visible()` before any renderer sees
it; renderers still escape for their own syntax (HTML, Markdown, XML).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from probe.output.exitcodes import exit_code
from probe.output.lang import datetime_text
from probe.output.pack import read_artefact

from .i18n import labels

VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE", "NOT_APPLICABLE", "MANUAL")
BASES = ("tested", "declared", "manual")
SCHEME_ORDER = ("jc-star", "cls", "uk-psti")
MAX_SHOWN = 64 * 1024  # bytes of one artefact shown inline; the full bytes are in the pack

_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def visible(text: Any) -> str:
    """Control characters, lone surrogates and XML-illegal code points shown as \\xNN / \\uNNNN.

    Keeps newline and tab. The result is always encodable as UTF-8 and legal in XML 1.0.
    """
    s = "" if text is None else str(text)

    def esc(m: re.Match[str]) -> str:
        o = ord(m.group(0))
        return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"

    return _INVISIBLE.sub(esc, s)


def one_line(text: Any, limit: int = 0) -> str:
    s = visible(text).replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return s if not limit or len(s) <= limit else s[:limit - 1] + "…"


def outcome(doc: dict[str, Any]) -> tuple[int, str]:
    """The exit code `probe run` returned for this evidence, and its one-word name."""

    code = exit_code(doc)
    return code, {0: "PASS", 1: "FAIL", 3: "INCOMPLETE", 4: "INCONCLUSIVE"}.get(code, str(code))


def counts(clauses: list[dict[str, Any]]) -> dict[str, int]:
    c = Counter(cl["verdict"] for cl in clauses)
    return {v: c.get(v, 0) for v in VERDICTS}


def clause_title(clause: dict[str, Any], lang: str) -> str:
    if lang == "ja" and clause.get("title_ja"):
        return visible(clause["title_ja"])
    return visible(clause.get("title", ""))


@dataclass(frozen=True)
class Source:
    """Where a report's evidence came from, with the digests a reader can check it by."""

    path: str
    file_sha256: str | None = None  # the evidence JSON file's bytes (when not a pack)
    archive_sha256: str | None = None  # the pack archive file's bytes (a .tar/.tar.gz pack)


@dataclass
class Scheme:
    id: str
    name: str
    version: str
    clauses: list[dict[str, Any]]

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.clauses)


def schemes(doc: dict[str, Any]) -> list[Scheme]:
    """Clauses grouped by scheme, in the catalog's usual order, then any other scheme seen."""
    order = list(SCHEME_ORDER) + sorted({c["scheme"] for c in doc["clauses"]} - set(SCHEME_ORDER))
    out = []
    for sid in order:
        cl = [c for c in doc["clauses"] if c["scheme"] == sid]
        if not cl:
            continue
        meta = doc.get("catalog", {}).get(sid, {})
        out.append(Scheme(sid, visible(meta.get("name", sid)), visible(meta.get("version", "")), cl))
    return out


def by_basis(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {b: [c for c in doc["clauses"] if c["basis"] == b] for b in BASES}


def gap_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """For the chosen recognition path: each gap clause, its MoC status and its verdict(s)."""
    path = doc["recognition"].get("chosen_path")
    if not path:
        return []
    by_id: dict[str, list[dict[str, Any]]] = {}
    for c in doc["clauses"]:
        by_id.setdefault(c["id"], []).append(c)
    return [{"id": g["id"], "status": g["status"], "tables": g.get("tables", []), "clauses": by_id.get(g["id"], [])}
            for g in path["gap_set"]]


def hexdump(data: bytes, limit: int = 4096) -> str:
    lines = []
    for off in range(0, min(len(data), limit), 16):
        chunk = data[off:off + 16]
        hx = " ".join(f"{b:02x}" for b in chunk)
        asc = "".join(chr(b) if 0x20 <= b < 0x7f else "." for b in chunk)
        lines.append(f"{off:08x}  {hx:<47}  {asc}")
    if len(data) > limit:
        lines.append(f"… {len(data) - limit} more byte(s)")
    return "\n".join(lines)


def artefact_view(art: dict[str, Any]) -> dict[str, Any]:
    """Display form of one artefact: text (control characters escaped) or a hex dump, capped."""
    import hashlib

    raw = read_artefact(art)
    digest_ok = raw is not None and hashlib.sha256(raw).hexdigest() == art.get("sha256")
    shown = (raw or b"")[:MAX_SHOWN]
    text: str | None
    try:
        text = visible(shown.decode("utf-8")) if art.get("encoding") == "utf-8" else None
    except UnicodeDecodeError:
        text = None
    return {
        "id": visible(art.get("id")), "kind": visible(art.get("kind")), "name": visible(art.get("name")),
        "host": visible(art.get("host") or ""), "port": art.get("port"), "size": art.get("size"),
        "sha256": visible(art.get("sha256")), "media_type": visible(art.get("media_type")),
        "digest_ok": digest_ok, "text": text,
        "hex": None if text is not None else hexdump(shown),
        "printable": None if text is not None else visible((raw or b"")[:2048].decode("latin-1")),
        "truncated": raw is not None and len(raw) > MAX_SHOWN,
    }


def location(f: dict[str, Any]) -> str:
    """host:port/protocol for a service finding, host for a device finding."""
    host = one_line(f.get("host"))
    if f.get("port") is None:
        return host
    return f"{host}:{f['port']}/{one_line(f.get('protocol') or f.get('transport') or 'tcp')}"


def device_state(doc: dict[str, Any], L: dict[str, str]) -> str:
    """The operator's statement of the device's state, and whether it was stated (schema 2)."""
    run = doc["run"]
    state = visible(run.get("device_state") or "initialised")
    return f"{state} ({L['stated_by_operator'] if run.get('device_state_source') == 'operator' else L['not_stated']})"


def overlays(doc: dict[str, Any]) -> list[dict[str, str]]:
    """The user's catalog overlays recorded in the evidence, device-string safe."""
    return [{"path": visible(o.get("path")), "sha256": visible(o.get("sha256"))}
            for o in (doc.get("catalog") or {}).get("overlays") or [] if isinstance(o, dict)]


def role_text(service: dict[str, Any]) -> str:
    """'management (why); update (why)' for one service, or ''."""
    return "; ".join(f"{visible(r.get('role'))} ({visible(r.get('why'))})" for r in service.get("roles") or [])


def rule_rows(clause: dict[str, Any], L: dict[str, str]) -> list[str]:
    """One line per evidence rule of a clause verdict: id, effect, role scope, the findings it selected."""
    out = []
    for r in clause.get("rules") or []:
        scope = "/".join(visible(x) for x in r.get("roles") or []) or L["any_service"]
        found = ", ".join(visible(f) for f in r.get("findings") or []) or L["none"]
        out.append(f"{visible(r.get('id'))} [{visible(r.get('effect'))}, {scope}]: {L['selected']} {found}")
    return out


def context(doc: dict[str, Any], lang: str, verification: Any = None) -> dict[str, Any]:
    """Everything a template needs (all device strings already made visible)."""
    code, name = outcome(doc)
    views = [artefact_view(a) for a in doc["artefacts"]]
    return {
        "doc": doc, "lang": lang, "L": labels(lang), "schemes": schemes(doc), "summary": counts(doc["clauses"]),
        "verdicts": VERDICTS, "bases": BASES, "by_basis": by_basis(doc), "gap_rows": gap_rows(doc),
        "path": doc["recognition"].get("chosen_path"), "outcome_code": code, "outcome": name,
        "findings": {f["id"]: f for f in doc["findings"]},
        "artefacts": views, "bad_digests": [a["id"] for a in views if not a["digest_ok"]],
        "verification": verification, "device_state": device_state(doc, labels(lang)), "overlays": overlays(doc),
        "started": visible(datetime_text(doc["run"].get("started"), lang)),
        "finished": visible(datetime_text(doc["run"].get("finished"), lang) or "—"),
    }


def baseline_view(diff: dict[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """The --baseline comparison (probe diff's JSON form) as report rows, device strings visible."""
    if not diff:
        return None
    L = labels(lang)
    code = diff["outcome"]["exit_code"]
    result = L["b_worse"] if code == 1 else L["b_untested"] if code == 4 else L["b_same"]

    def status(state: dict[str, Any] | None) -> str:
        return visible(state["status"]) if state else L["b_absent"]

    def finding_row(f: dict[str, Any]) -> dict[str, Any]:
        return {"key": visible(f["key"]["text"]), "before": status(f["before"]), "after": status(f["after"]),
                "cls": visible(f["class"]), "cls_text": L.get(f["class"], visible(f["class"])),
                "why": visible(f["why"]),
                "id": visible((f["after"] or f["before"] or {}).get("id", ""))}

    old = diff["old"]
    return {
        "old": {"source": visible(old["source"]), "run_id": visible(old["run_id"]), "started": visible(old["started"]),
                "integrity": visible(old["integrity"])},
        "exit_code": code, "result": result,
        "worse": [visible(w) for w in diff["outcome"]["worse"]],
        "untested": [visible(w) for w in diff["outcome"]["untested"]],
        "notes": [visible(n) for n in diff.get("notes") or []],
        "clauses": [{"id": visible(c["id"]), "target": visible(c["target"]),
                     "before": visible(c["before"] or L["b_absent"]), "after": visible(c["after"] or L["b_absent"]),
                     "cls": visible(c["class"]),
                     "cls_text": L["b_unchanged"] if c["class"] == "unchanged" else L.get(c["class"], c["class"]),
                     "why": visible(c["why"]),
                     "findings": [finding_row(f) for f in c["findings"]]} for c in diff["clauses"]],
        "clauses_unchanged": diff["clauses_unchanged"],
        "findings": [finding_row(f) for f in diff["findings"]],
        "findings_unchanged": diff["findings_unchanged"],
        "services": [{"service": visible(s["service"]), "change": L.get(s["change"], visible(s["change"])),
                      "fields": [f"{visible(x['field'])}: {visible(x['before'])} -> {visible(x['after'])}"
                                 for x in s["fields"]],
                      "protocol": visible((s["after"] or s["before"] or {}).get("protocol", ""))}
                     for s in diff["services"]],
    }
