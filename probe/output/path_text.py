"""The recognition path as text, for `probe plan` and `probe run`: what it rests on, since when,
on which condition, the held label as declared, the question the plan asks, the path's MANUAL
items and notes, and Partial vs None for each gap clause.

Rendered from the JSON form of the path (the same dicts the evidence file holds), so the terminal
and the evidence cannot disagree. Declared strings (label identifier, URLs) go through `safe`.
"""

from __future__ import annotations

from typing import Any

from probe.compliance.held_label import level_name
from probe.output.terminal import safe

_STATUS = {"in-force": "IN FORCE", "not-in-force": "NOT IN FORCE", "no-arrangement": "no recognition arrangement",
           "no-label": "no label held"}


_KIND = {"moc": "MoC", "law": "law"}


def _where(declared_in: dict[str, Any] | None, line: int | None = None) -> str:
    if not declared_in:
        return "declared"
    line = line if line is not None else declared_in.get("line")
    return f"declared in {safe(declared_in.get('file'), 200)}{f' line {line}' if line else ''}"


def _bases(bases: list[dict[str, Any]]) -> list[str]:
    """One block per instrument and paragraph: the tables of an instrument are shown together."""
    groups: dict[tuple[str, str, bool], list[dict[str, Any]]] = {}
    for b in bases:
        groups.setdefault((b["instrument"], b["paragraph"], b["applies"]), []).append(b)
    out: list[str] = []
    for (_inst, _para, applies), bs in groups.items():
        b = bs[0]
        annexes = " + ".join(dict.fromkeys(x["annex"] for x in bs if x.get("annex")))
        head = (f"{safe(b['name'])} ({_KIND.get(b['kind'], b['kind'])}) {safe(b['paragraph'])}"
                + (f", {safe(annexes)}" if annexes else ""))
        if not applies:
            out.append(f"  not used: {head}: {safe(b.get('why_not') or '', 300)}")
            continue
        signed = f"; signed {b['signed']}" if b.get("signed") else ""
        out += [f"  basis: {head}",
                f"         condition: {safe(b['condition'], 300)}",
                f"         in force since {b['in_force']} ({safe(b['in_force_ref'], 200)}){signed}",
                f"         gap set from: {safe('; '.join(dict.fromkeys(x['gap_source'] for x in bs)), 400)}"]
    return out


def _held_line(held: dict[str, Any]) -> str:
    valid = {True: "valid on that date", False: f"NOT valid on that date ({held.get('validity_problem')})",
             None: "validity not declared"}[held.get("valid_on_date")]
    level = f" {level_name(held['scheme'], held['level'])}" if isinstance(held.get("level"), int) else ""
    dates = (f", valid {held.get('valid_from') or '…'} to {held.get('valid_until') or '…'}"
             if held.get("valid_from") or held.get("valid_until") else "")
    return (f"held label: {safe(held['scheme'])}{level} {safe(held['identifier'], 120)}{dates}: {valid} "
            f"({_where(held.get('declared_in'))})")


def path_lines(recognition: dict[str, Any]) -> list[str]:
    """The chosen path of an evidence/plan `recognition` object, as lines of text."""
    path = recognition.get("chosen_path")
    held = recognition.get("held_label")
    if not path:
        return [_held_line(held)] if held else []
    as_of = recognition.get("as_of") or path.get("as_of")
    status = path.get("status", "in-force")
    out = [f"recognition path: holding {path['holding']} → applying for {path['apply_for']} "
           f"({path['device_class']}), judged on {as_of} ({recognition.get('as_of_source') or 'today'})"]
    line = f"  status: {_STATUS.get(status, status)}"
    if status == "not-in-force":
        line += (f" on {as_of}: the simplified application is possible from {path.get('in_force_from')}; "
                 f"until then every {path['apply_for']} clause is assessed (full assessment)")
    elif status != "in-force":
        line += f": {safe(path.get('explanation', ''), 300)}"
    out.append(line)
    out += _bases(path.get("bases") or [])
    if held:
        out.append("  " + _held_line(held))
    elif path["holding"] != "none":
        out.append("  held label: not declared (give --declaration FILE with held_label: identifier, level, validity)")
    if status == "not-in-force" and path.get("pending_refusal"):
        out.append(f"  from {path.get('in_force_from')} the path would still be refused: "
                   f"{safe(path['pending_refusal'], 400)}")
    elif status == "not-in-force":
        pending = path.get("pending_gap_set") or []
        ids = ", ".join(f"{g['id']} ({g['status']})" for g in pending) or "none (recognised in full)"
        out.append(f"  from {path.get('in_force_from')} the gap set will be: {ids}")
    if held and path["holding"] == "none":
        out.append(f"  note: a {safe(held['scheme'])} label is declared but --holding is none: give --holding "
                   f"{safe(held['scheme'])} for the simplified path")
    for q in path.get("questions") or []:
        out.append(f"  question ({'; '.join(safe(r) for r in q['refs'])}): {safe(q['text'], 400)}")
        answer = (f"{safe(q['answer'])} ({_where(held.get('declared_in') if held else None, q.get('line'))})"
                  if q.get("answered") else "NOT ANSWERED: declare held_label.obtained_via")
        out.append(f"    answer: {answer}")
    items = path.get("manual_items") or []
    if items:
        out.append("  MANUAL items of this path (shown with the application; never tested):")
        for i in items:
            dec = (f"declared: {safe(i['declared']['value'], 300)}" if i.get("declared")
                   else f"not declared ({i['declared_by']})")
            out.append(f"    {i['id']}: {safe(i['what'], 300)} ({'; '.join(safe(r) for r in i['refs'])}) — {dec}")
    for n in path.get("notes") or []:
        out.append(f"  note: {safe(n, 400)}")
    if status == "in-force":
        gap = path.get("gap_set") or []
        partial = sum(1 for g in gap if g["status"] == "partial")
        none = len(gap) - partial
        if gap:
            out.append(f"  gap set: {len(gap)} clause(s) need evidence: {partial} Partial, {none} None; "
                       f"{len(path.get('recognised') or [])} recognised in full")
        else:
            out.append(f"  gap set: empty — every {path['apply_for']} clause is recognised in full by the basis above")
    return out


def clause_status_line(entry: dict[str, Any] | None) -> str | None:
    """Partial vs None for one gap clause, with the MoC's own wording when the MoC has a table."""
    if not entry or not entry.get("tables"):
        return None
    st = {"partial": "Partial", "none": "None", "unlisted": "not listed (not recognised)"}.get(entry["status"],
                                                                                               entry["status"])
    words = (f' — MoC: "{safe(entry["wording"], 200)}"' if entry.get("wording")
             else " — no MoC wording (see gap set source)")
    return f"recognition: {st}{words} ({', '.join(entry['tables'])})"
