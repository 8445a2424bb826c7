"""Markdown report for tickets and e-mail: summary, gap set, clause table, findings.

Device strings are escaped twice over: HTML specials become entities (many Markdown renderers
pass raw HTML through) and Markdown specials get a backslash, so a banner can neither inject
markup nor break a table. Raw artefact bytes are not inlined; their ids and digests are listed.
"""

from __future__ import annotations

import re
from typing import Any

from .model import BASES, VERDICTS, baseline_view, clause_title, context, location, one_line, role_text, rule_rows
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


def _baseline(base: dict[str, Any], L: dict[str, str], multi: bool) -> list[str]:
    """The --baseline section: what changed since the baseline run, and whether it got worse."""
    out = ["", f"## {L['b_title']}", "",
           f"- **{L['b_baseline']}**: {esc(base['old']['source'])} ({L['run_id']} {esc(base['old']['run_id'])}, "
           f"{esc(base['old']['started'])}); {esc(base['old']['integrity'])}",
           f"- **{L['b_result']}**: {'**' + base['result'] + '**' if base['exit_code'] == 1 else base['result']} "
           f"({L['exit_code']} {base['exit_code']})"]
    out += [f"  - {esc(w, 400)}" for w in base["worse"] + base["untested"]]
    out += [f"- {L['notes']}: {esc(n, 400)}" for n in base["notes"]]
    out += ["", f"{L['b_clauses']} ({len(base['clauses'])}; {L['b_unchanged']} {base['clauses_unchanged']}):", "",
            _row([L["clause"], L["b_before"], L["b_after"], L["b_class"], L["findings"]]), _row(["---"] * 5)]
    for c in base["clauses"]:
        moved = "; ".join(f"{esc(f['key'], 200)}: {esc(f['before'])} → {esc(f['after'])}" for f in c["findings"])
        out.append(_row([esc(c["id"]) + (f" @ {esc(c['target'])}" if multi else ""), f"**{esc(c['before'])}**",
                         f"**{esc(c['after'])}**", f"{esc(c['cls_text'])} ({esc(c['why'], 200)})", moved or "-"]))
    out += ["", f"{L['b_findings']} ({len(base['findings'])}; {L['b_unchanged']} {base['findings_unchanged']}):", ""]
    out += [f"- {esc(f['key'], 300)}: {esc(f['before'])} → {esc(f['after'])} "
            f"({esc(f['cls_text'])}: {esc(f['why'], 200)})"
            for f in base["findings"]] or [f"- {L['b_none']}"]
    out += ["", f"{L['b_services']} ({len(base['services'])}):", ""]
    out += [f"- {esc(s['service'])} {esc(s['change'])} {esc(s['protocol'])}: {esc('; '.join(s['fields']), 600)}"
            for s in base["services"]] or [f"- {L['b_none']}"]
    return out


def render(doc: dict[str, Any], *, lang: str = "en", verification: Any = None, source: Any = None,
           baseline: dict[str, Any] | None = None) -> str:
    ctx = context(doc, lang, verification)
    L = ctx["L"]
    out: list[str] = [f"# {L['title']}", ""]
    run = doc["run"]
    out.append(f"- **{L['targets']}**: {esc(', '.join(doc['targets']))}")
    out.append(f"- **{L['profile']}**: {esc(doc['profile']['name'])} ({L['device_class']}: "
               f"{esc(doc['profile']['device_class'])})")
    out.append(f"- **{L['run_id']}**: {esc(run['id'])}; {L['started']} {esc(ctx['started'])}, "
               f"{L['finished']} {esc(ctx['finished'])}")
    out.append(f"- **{L['device_state']}**: {esc(ctx['device_state'])}")
    if ctx["overlays"]:
        out.append(f"- **{L['overlays']}**: " + "; ".join(f"{esc(o['path'])} (sha256 {esc(o['sha256'])})"
                                                        for o in ctx["overlays"]))
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
    out += ["", f"*{esc(L['legend'])}*"]
    base = baseline_view(baseline, lang)
    if base:
        out += _baseline(base, L, len(doc["targets"]) > 1)
    out += ["", f"## {L['gap_set']}", ""]
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
            cited = ", ".join(esc(f) for f in c["findings"])
            if c.get("supporting"):
                cited += f" ({L['supporting']}: " + ", ".join(esc(f) for f in c["supporting"]) + ")"
            reason = esc(c["reason"], 300) + (f" ({esc(c['reason_code'])})" if c.get("reason_code") else "")
            out.append(_row([esc(c["id"]), title] + ([esc(c["target"])] if multi else []) +
                            [f"**{c['verdict']}**", esc(L.get(c["basis"], c["basis"])), reason, cited]))
        rows = [(c, rule_rows(c, L)) for c in s.clauses]
        if any(r for _, r in rows):
            out += ["", f"{L['rules']}:", ""]
            for c, lines in rows:
                for line in lines:
                    out.append(f"- {esc(line, 400)}" + (f" @ {esc(c['target'])}" if multi else ""))
    out += ["", f"## {L['services']}", "", _row([L["where"], L["protocol"], L["roles"]]), _row(["---"] * 3)]
    for svc in doc["services"]:
        out.append(_row([esc(f"{svc['host']}:{svc['port']}/{svc['transport']}"), esc(svc["protocol"]),
                         esc(role_text(svc), 500) or L["none"]]))
    if not doc["services"]:
        out.append(_row([L["none"], "", ""]))
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
