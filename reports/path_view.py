"""The recognition path as every report shows it: what it rests on (instrument, paragraph,
condition, in-force date), whether it was in force on the date it was judged, the held label as
the manufacturer declared it, the question the plan asked and its answer, the path's MANUAL items
and notes, and one summary line per possible path.

Read from the saved evidence only. The held label and its answer come from a declaration file, so
every string is made visible here (control characters escaped) before a renderer escapes it for
its own syntax. Evidence written before these fields existed renders with the parts it has.
"""

from __future__ import annotations

from typing import Any

from probe.compliance.held_label import level_name
from probe.output.lang import date_text

from .model import visible


def pick(obj: dict[str, Any], key: str, lang: str) -> Any:
    """obj[key], or its Japanese wording obj[key + "_ja"] for a Japanese view when the data has one."""
    if lang == "ja" and obj.get(f"{key}_ja"):
        return obj[f"{key}_ja"]
    return obj.get(key)


_YES_NO = {"en": {True: "yes", False: "NO"}, "ja": {True: "はい", False: "いいえ"}}


def _level(scheme: Any, level: Any) -> str:
    if not isinstance(level, int) or isinstance(level, bool):
        return ""
    return level_name(str(scheme), level)


def held_view(held: dict[str, Any] | None, lang: str = "en") -> dict[str, str] | None:
    """The held label, one visible string per field (dates as the language writes them), or None."""
    if not held:
        return None
    src = held.get("declared_in") or {}
    line = src.get("line")
    valid = held.get("valid_on_date")
    return {
        "label": visible(f"{held.get('scheme', '')} {_level(held.get('scheme'), held.get('level'))} "
                         f"{held.get('identifier', '')}".replace("  ", " ")),
        "validity": visible(f"{date_text(held.get('valid_from'), lang) or '…'} – "
                            f"{date_text(held.get('valid_until'), lang) or '…'}"),
        "valid_on_date": _YES_NO["ja" if lang == "ja" else "en"][valid] if isinstance(valid, bool) else "-",
        "problem": visible(held.get("validity_problem") or ""),
        "obtained_via": visible(held.get("obtained_via") or ""),
        "public_url": visible(held.get("public_url") or ""),
        "declared_in": visible(f"{src.get('file', '')}{f':{line}' if line else ''}"),
        "sha256": visible(src.get("sha256") or ""),
    }


def _basis_rows(bases: list[dict[str, Any]], lang: str = "en") -> list[dict[str, Any]]:
    """Bases grouped by instrument, paragraph and use (an instrument's annexes apply together)."""
    groups: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = {}
    for b in bases:
        groups.setdefault((b.get("instrument"), b.get("paragraph"), bool(b.get("applies"))), []).append(b)
    rows = []
    for (_i, _p, applies), bs in groups.items():
        b = bs[0]
        annexes = " + ".join(dict.fromkeys(str(x.get("annex")) for x in bs if x.get("annex")))
        rows.append({
            "instrument": visible(pick(b, "name", lang) or b.get("instrument")), "kind": visible(b.get("kind")),
            "paragraph": visible(b.get("paragraph")), "annexes": visible(annexes),
            "condition": visible(pick(b, "condition", lang)), "in_force": visible(date_text(b.get("in_force"), lang)),
            "in_force_ref": visible(b.get("in_force_ref") or ""),
            "signed": visible(date_text(b.get("signed"), lang) if b.get("signed") else ""),
            "gap_source": visible("; ".join(dict.fromkeys(str(pick(x, "gap_source", lang) or "") for x in bs))),
            "applies": applies, "why_not": visible(b.get("why_not") or ""),
        })
    return rows


def _pad(items: Any, n: int) -> list[str]:
    items = [str(x) for x in items or []][:n]
    return items + [""] * (n - len(items))


def path_summary(p: dict[str, Any]) -> str:
    """One line for a path: its status and the instruments it rests on (never an unexplained gap set)."""
    used = [b for b in p.get("bases") or [] if b.get("applies")]
    names = "; ".join(dict.fromkeys(f"{b.get('name') or b.get('instrument')} {b.get('paragraph')} "
                                    f"(in force {b.get('in_force')})" for b in used))
    status = p.get("status")
    if status == "not-in-force":
        return visible(f"not in force on {p.get('as_of')}: from {p.get('in_force_from')}")
    return visible(names or p.get("explanation") or "")


def recognition_view(doc: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    rec = doc.get("recognition") or {}
    path = rec.get("chosen_path") or {}
    wording_key = "wording_ja" if lang == "ja" else "wording"
    return {
        "as_of": visible(date_text(rec.get("as_of") or path.get("as_of"), lang) or ""),
        "as_of_source": visible(rec.get("as_of_source") or ""),
        "status": visible(path.get("status") or ""),
        "in_force_from": visible(date_text(path.get("in_force_from"), lang) if path.get("in_force_from") else ""),
        "bases": _basis_rows(path.get("bases") or [], lang),
        "held": held_view(rec.get("held_label"), lang),
        "questions": [{"text": visible(pick(q, "text", lang)), "refs": visible("; ".join(q.get("refs") or [])),
                       "answer": visible(q.get("answer") or ""), "answered": bool(q.get("answered"))}
                      for q in path.get("questions") or []],
        "manual_items": [{"id": visible(i.get("id")), "what": visible(pick(i, "what", lang)),
                   "refs": visible("; ".join(i.get("refs") or [])), "basis": visible(i.get("basis")),
                   "declared": visible((i.get("declared") or {}).get("value") or "")}
                  for i in path.get("manual_items") or []],
        "notes": [visible(ja if lang == "ja" and ja else n)
                  for n, ja in zip(path.get("notes") or [], _pad(path.get("notes_ja"), len(path.get("notes") or [])),
                                   strict=True)],
        "pending": ([visible(f"refused: {path['pending_refusal']}")] if path.get("pending_refusal") else
                    [visible(f"{g.get('id')} ({g.get('status')})") for g in path.get("pending_gap_set") or []]),
        "wording": {g.get("id"): visible(g.get(wording_key) or g.get("wording") or "")
                    for g in path.get("gap_set") or []},
        "summaries": [path_summary(p) for p in rec.get("paths") or []],
    }
