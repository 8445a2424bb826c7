"""Markdown report for tickets and e-mail: summary, gap set, clause table, findings.

Device strings are escaped twice over: HTML specials become entities (many Markdown renderers
pass raw HTML through) and Markdown specials get a backslash, so a banner can neither inject
markup nor break a table. Raw artefact bytes are not inlined; their ids and digests are listed.
"""

from __future__ import annotations

import re
from typing import Any

from .model import BASES, VERDICTS, clause_title, context, location, one_line
from .path_view import recognition_view

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")


def esc(text: Any, limit: int = 0) -> str:
    """One line, safe inside a Markdown table cell or paragraph."""
    s = one_line(text, limit)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _path_basis(rv: dict[str, Any], L: dict[str, str]) -> list[str]:
    """What the chosen path rests on, the held label, the question and the path's MANUAL items."""
    out: list[str] = []
    if rv["as_of"]:
        out.append(f"- **{L['judged_on']}**: {esc(rv['as_of'])} ({esc(rv['as_of_source'])})")
    if rv["status"]:
        status = L.get(rv["status"], rv["status"])
        if rv["status"] == "not-in-force":
            status = f"**{status}** — {L['in_force_from']} {esc(rv['in_force_from'])}"
        out.append(f"- **{L['path_status']}**: {status}")
    for b in rv["bases"]:
        head = f"{esc(b['instrument'])} {esc(b['paragraph'])}" + (f", {esc(b['annexes'])}" if b["annexes"] else "")
        used = "" if b["applies"] else f" ({L['not_used']}: {esc(b['why_not'])})"
        out.append(f"- **{L['path_basis']}**: {head} ({esc(b['kind'])}){used}; "
                   f"{L['condition']}: {esc(b['condition'])}; {L['in_force_from']}: {esc(b['in_force'])}; "
                   f"{L['gap_source']}: {esc(b['gap_source'])}")
    h = rv["held"]
    if h:
        extra = f"; {L['obtained_via']}: {esc(h['obtained_via'])}" if h["obtained_via"] else ""
        out.append(f"- **{L['held_label']}**: {esc(h['label'])}; {L['validity']} {esc(h['validity'])}; "
                   f"{L['valid_on_date']}: {h['valid_on_date']}{extra}; {L['declared_in']} {esc(h['declared_in'])} "
                   f"(sha256 {esc(h['sha256'])})")
    elif rv["status"]:
        out.append(f"- **{L['held_label']}**: {L['no_held_label']}")
    for q in rv["questions"]:
        answer = esc(q["answer"]) if q["answered"] else f"**{L['not_answered']}**"
        out.append(f"- **{L['question']}** ({esc(q['refs'])}): {esc(q['text'])} {L['answer']}: {answer}")
    for i in rv["manual_items"]:
        dec = f": {esc(i['declared'])}" if i["declared"] else ""
        out.append(f"- **MANUAL** ({L['path_items']}): {esc(i['what'])} ({esc(i['refs'])}; "
                   f"{esc(L.get(i['basis'], i['basis']))}){dec}")
    if rv["pending"]:
        out.append(f"- **{L['pending_gap']}**: {esc(', '.join(rv['pending']))}")
    for n in rv["notes"]:
        out.append(f"- {L['notes']}: {esc(n)}")
    return out


def render(doc: dict[str, Any], *, lang: str = "en", verification: Any = None) -> str:
    ctx = context(doc, lang, verification)
    L = ctx["L"]
    out: list[str] = [f"# {L['title']}", ""]
    run = doc["run"]
    out.append(f"- **{L['targets']}**: {esc(', '.join(doc['targets']))}")
    out.append(f"- **{L['profile']}**: {esc(doc['profile']['name'])} ({L['device_class']}: "
               f"{esc(doc['profile']['device_class'])})")
    out.append(f"- **{L['run_id']}**: {esc(run['id'])}; {L['started']} {esc(run['started'])}, "
               f"{L['finished']} {esc(run['finished'] or '-')}")
    status = L["complete"] if run["complete"] else f"{L['incomplete']}: {esc('; '.join(run['incomplete_reasons']))}"
    out.append(f"- **{L['outcome']}**: {ctx['outcome']} ({L['exit_code']} {ctx['outcome_code']}), {status}")
    if verification is None:
        out.append(f"- **{L['integrity']}**: {L['from_json']}")
    else:
        sig = (f"{L['signed_by']} `{verification.signer}` ({L['not_pinned']})" if verification.signer
               else L["unsigned"])
        out.append(f"- **{L['integrity']}**: {verification.files_checked} {L['files_verified']}; {sig}")
    bad = ctx["bad_digests"]
    out.append(f"- **{L['evidence']}**: " + (f"{len(bad)} {L['digests_bad']}: {esc(', '.join(bad))}" if bad
                                            else L["digests_ok"]))
    out += ["", f"## {L['summary']}", "", _row([L["scheme"], *VERDICTS]), _row(["---"] * (len(VERDICTS) + 1))]
    for s in ctx["schemes"]:
        out.append(_row([f"{esc(s.name)} ({esc(s.id)})", *(str(s.counts[v]) for v in VERDICTS)]))
    out.append(_row([f"**{L['total']}**", *(f"**{ctx['summary'][v]}**" for v in VERDICTS)]))
    out += ["", f"*{esc(L['legend'])}*", "", f"## {L['gap_set']}", ""]
    path = ctx["path"]
    rv = recognition_view(doc, lang)
    if path:
        out.append(f"{L['holding']}: **{esc(path['holding'])}** → {L['applying_for']}: **{esc(path['apply_for'])}** "
                   f"({esc(path['device_class'])}). {esc(path.get('explanation', ''))}")
        out += ["", *_path_basis(rv, L)]
        out += ["", _row([L["clause"], L["clause_title"], L["moc_status"], L["verdict"], L["basis"], L["reason"]]),
                _row(["---"] * 6)]
        for g in ctx["gap_rows"]:
            for c in g["clauses"] or [None]:
                status = L.get("none_status" if g["status"] == "none" else g["status"], g["status"])
                if rv["wording"].get(g["id"]):
                    status += f" ({L['moc_wording']}: “{rv['wording'][g['id']]}”)"
                if c is None:
                    out.append(_row([esc(g["id"]), "", esc(status), "-", "-", "-"]))
                else:
                    out.append(_row([esc(g["id"]), esc(clause_title(c, lang)), esc(status), f"**{c['verdict']}**",
                                     esc(L.get(c["basis"], c["basis"])), esc(c["reason"], 300)]))
    else:
        out += [esc(L["no_path"]), ""]
        for p, summary in zip(doc["recognition"]["paths"], rv["summaries"], strict=True):
            gaps = (L["full_assessment"] if p["full_assessment"] else
                    ", ".join(esc(g["id"]) for g in p["gap_set"]) or L["none"])
            out.append(f"- {esc(p['holding'])} → {esc(p['apply_for'])}: {gaps}" +
                       (f" — {L['path_basis']}: {esc(summary)}" if summary else ""))
        if rv["held"]:
            out += ["", f"- **{L['held_label']}**: {esc(rv['held']['label'])}, {L['validity']} "
                        f"{esc(rv['held']['validity'])} ({L['declared_in']} {esc(rv['held']['declared_in'])})"]
    out += ["", f"## {L['split']}", ""]
    for b in BASES:
        ids = ", ".join(f"{esc(c['id'])} ({c['verdict']})" for c in ctx["by_basis"][b]) or L["none"]
        out.append(f"- **{L[b]}** ({len(ctx['by_basis'][b])}): {ids}")
    multi = len(doc["targets"]) > 1
    for s in ctx["schemes"]:
        out += ["", f"## {L['clauses']}: {esc(s.name)}", ""]
        head = [L["clause"], L["clause_title"]] + ([L["targets"]] if multi else []) + \
               [L["verdict"], L["basis"], L["reason"], L["findings"]]
        out += [_row(head), _row(["---"] * len(head))]
        for c in s.clauses:
            title = esc(clause_title(c, lang)) + ("" if c["text_confirmed"] else f" *({L['text_unconfirmed']})*")
            out.append(_row([esc(c["id"]), title] + ([esc(c["target"])] if multi else []) +
                            [f"**{c['verdict']}**", esc(L.get(c["basis"], c["basis"])), esc(c["reason"], 300),
                             ", ".join(esc(f) for f in c["findings"])]))
    out += ["", f"## {L['findings']}", ""]
    arts = {a["id"]: a for a in doc["artefacts"]}
    for f in doc["findings"]:
        line = (f"- **{f['status']}** {esc(f['id'])} `{esc(f['check_id'])}` @ {esc(location(f))}: "
                f"{esc(f['summary'], 400)}")
        if f.get("reason"):
            line += f" — {L['reason']}: {esc(f['reason'], 300)}"
            if f.get("reason_code"):
                line += f" ({esc(f['reason_code'])})"
        out.append(line)
        for aid in f["evidence"]:
            a = arts.get(aid)
            if a:
                out.append(f"  - {L['evidence']} {esc(aid)}: {esc(a['kind'])}, {a['size']} {L['bytes']}, "
                           f"sha256 {esc(a['sha256'])}")
    if not doc["findings"]:
        out.append(f"- {L['none']}")
    out += ["", f"*{esc(L['generated'])}*", ""]
    return "\n".join(out)
