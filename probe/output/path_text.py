"""The recognition path as text, for `probe plan` and `probe run`: what it rests on, since when,
on which condition, the held label as declared, the question the plan asks, the path's MANUAL
items and notes, and Partial vs None for each gap clause.

Rendered from the JSON form of the path (the same dicts the evidence file holds), so the terminal
and the evidence cannot disagree. Declared strings (label identifier, URLs) go through `safe`.
"""

from __future__ import annotations

from typing import Any

from probe.compliance.held_label import level_name
from probe.output.lang import date_text, moc_term
from probe.output.terminal import safe

_STATUS = {"in-force": "IN FORCE", "not-in-force": "NOT IN FORCE", "no-arrangement": "no recognition arrangement",
           "no-label": "no label held"}
_STATUS_JA = {"in-force": "発効済み", "not-in-force": "未発効", "no-arrangement": "相互承認の取決めなし",
              "no-label": "ラベル未取得"}

# the fixed words of the path text; the MoC data's own texts (conditions, notes) stay as the data has them
_JA = {
    "path": "相互承認の経路: {holding} を取得済み → {apply_for} に申請（{dc}）、判定基準日 {as_of}（{src}）",
    "status": "  状態: {status}",
    "not_in_force": "（{as_of} 時点）。簡易申請は {since} から可能。"
                    "それまでは {apply_for} の全要求事項を評価（全項目評価）",
    "basis": "  根拠: {head}", "condition": "         条件: {text}", "since": "         発効日 {date}（{ref}）{signed}",
    "signed": "、署名 {date}", "gap_from": "         差分の出典: {text}", "not_used": "  不適用: {head}: {why}",
    "held": "取得済みラベル: {scheme}{level} {identifier}{dates}: {valid}（{where}）",
    "dates": "、有効期間 {start}～{end}", "valid": "基準日に有効", "invalid": "基準日に無効（{why}）",
    "no_validity": "有効期間の申告なし", "declared": "申告", "declared_in": "{file}{line} で申告",
    "line": " {n}行目",
    "no_held": "  取得済みラベル: 申告なし（--declaration FILE の held_label: に識別番号・レベル・有効期間を記載）",
    "pending_refusal": "  {date} 以降も経路は拒否されます: {why}", "pending": "  {date} からの差分: {ids}",
    "pending_none": "なし（全項目承認）",
    "note_holding": "  注記: {scheme} のラベルが申告されていますが --holding が none です。"
                    "簡易申請の経路には --holding {scheme} を指定してください",
    "question": "  確認事項（{refs}）: {text}", "answer": "    回答: {answer}",
    "not_answered": "未回答: held_label.obtained_via を申告してください",
    "items": "  この経路の文書確認項目（申請時に提示。試験対象外）:", "item": "    {id}: {what}（{refs}）— {dec}",
    "item_declared": "申告: {value}", "item_not_declared": "申告なし（{by}）", "note": "  注記: {text}",
    "gap": "  差分: {n}件の要求事項に証跡が必要（一部適合 {partial}件、該当なし {none}件）、{full}件は完全適合",
    "gap_empty": "  差分: なし — 上記の根拠により {apply_for} の全要求事項が承認されます",
}


_KIND = {"moc": "MoC", "law": "law"}
_KIND_JA = {"moc": "MoC", "law": "法令"}


def _where(declared_in: dict[str, Any] | None, line: int | None = None, lang: str = "en") -> str:
    if lang == "ja":
        if not declared_in:
            return _JA["declared"]
        line = line if line is not None else declared_in.get("line")
        return _JA["declared_in"].format(file=safe(declared_in.get("file"), 200),
                                         line=_JA["line"].format(n=line) if line else "")
    if not declared_in:
        return "declared"
    line = line if line is not None else declared_in.get("line")
    return f"declared in {safe(declared_in.get('file'), 200)}{f' line {line}' if line else ''}"


def _bases(bases: list[dict[str, Any]], lang: str = "en") -> list[str]:
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
        if lang == "ja":
            kind = _KIND_JA.get(b["kind"], b["kind"])
            head = (f"{safe(b.get('name_ja') or b['name'])}（{kind}）{safe(b['paragraph'])}"
                    + (f"、{safe(annexes)}" if annexes else ""))
            if not applies:
                out.append(_JA["not_used"].format(head=head, why=safe(b.get("why_not") or "", 300)))
                continue
            signed = _JA["signed"].format(date=date_text(b["signed"], lang)) if b.get("signed") else ""
            out += [_JA["basis"].format(head=head),
                    _JA["condition"].format(text=safe(b.get("condition_ja") or b["condition"], 300)),
                    _JA["since"].format(date=date_text(b["in_force"], lang), ref=safe(b["in_force_ref"], 200),
                                        signed=signed),
                    _JA["gap_from"].format(text=safe("; ".join(dict.fromkeys(x.get("gap_source_ja") or x["gap_source"]
                                                                            for x in bs)), 400))]
            continue
        if not applies:
            out.append(f"  not used: {head}: {safe(b.get('why_not') or '', 300)}")
            continue
        signed = f"; signed {b['signed']}" if b.get("signed") else ""
        out += [f"  basis: {head}",
                f"         condition: {safe(b['condition'], 300)}",
                f"         in force since {b['in_force']} ({safe(b['in_force_ref'], 200)}){signed}",
                f"         gap set from: {safe('; '.join(dict.fromkeys(x['gap_source'] for x in bs)), 400)}"]
    return out


def _held_line_ja(held: dict[str, Any]) -> str:
    valid = {True: _JA["valid"], False: _JA["invalid"].format(why=held.get("validity_problem")),
             None: _JA["no_validity"]}[held.get("valid_on_date")]
    level = f" {level_name(held['scheme'], held['level'])}" if isinstance(held.get("level"), int) else ""
    dates = (_JA["dates"].format(start=date_text(held.get("valid_from"), "ja") or "…",
                                 end=date_text(held.get("valid_until"), "ja") or "…")
             if held.get("valid_from") or held.get("valid_until") else "")
    return _JA["held"].format(scheme=safe(held["scheme"]), level=level, identifier=safe(held["identifier"], 120),
                              dates=dates, valid=valid, where=_where(held.get("declared_in"), lang="ja"))


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


def path_lines_ja(recognition: dict[str, Any]) -> list[str]:
    """path_lines in Japanese: the fixed words translated, dates as Japan writes them, the MoC's
    Japanese status terms; the MoC data's own texts (conditions, notes, questions) as the data has them."""
    path = recognition.get("chosen_path")
    held = recognition.get("held_label")
    if not path:
        return [_held_line_ja(held)] if held else []
    as_of = recognition.get("as_of") or path.get("as_of")
    status = path.get("status", "in-force")
    src = {"today": "本日", "run date": "実行日", "--application-date": "--application-date"}.get(
        recognition.get("as_of_source") or "today", recognition.get("as_of_source") or "")
    out = [_JA["path"].format(holding=path["holding"], apply_for=path["apply_for"], dc=path["device_class"],
                              as_of=date_text(as_of, "ja"), src=src)]
    line = _JA["status"].format(status=_STATUS_JA.get(status, status))
    if status == "not-in-force":
        line += _JA["not_in_force"].format(as_of=date_text(as_of, "ja"), apply_for=path["apply_for"],
                                           since=date_text(path.get("in_force_from"), "ja"))
    elif status != "in-force":
        line += f": {safe(path.get('explanation', ''), 300)}"
    out.append(line)
    out += _bases(path.get("bases") or [], "ja")
    if held:
        out.append("  " + _held_line_ja(held))
    elif path["holding"] != "none":
        out.append(_JA["no_held"])
    if status == "not-in-force" and path.get("pending_refusal"):
        out.append(_JA["pending_refusal"].format(date=date_text(path.get("in_force_from"), "ja"),
                                                 why=safe(path["pending_refusal"], 400)))
    elif status == "not-in-force":
        pending = path.get("pending_gap_set") or []
        ids = "、".join(f"{g['id']}（{moc_term(g['status'], 'ja')}）" for g in pending) or _JA["pending_none"]
        out.append(_JA["pending"].format(date=date_text(path.get("in_force_from"), "ja"), ids=ids))
    if held and path["holding"] == "none":
        out.append(_JA["note_holding"].format(scheme=safe(held["scheme"])))
    for q in path.get("questions") or []:
        out.append(_JA["question"].format(refs="; ".join(safe(r) for r in q["refs"]),
                                          text=safe(q.get("text_ja") or q["text"], 400)))
        answer = (f"{safe(q['answer'])}（{_where(held.get('declared_in') if held else None, q.get('line'), 'ja')}）"
                  if q.get("answered") else _JA["not_answered"])
        out.append(_JA["answer"].format(answer=answer))
    items = path.get("manual_items") or []
    if items:
        out.append(_JA["items"])
        for i in items:
            dec = (_JA["item_declared"].format(value=safe(i["declared"]["value"], 300)) if i.get("declared")
                   else _JA["item_not_declared"].format(by=i["declared_by"]))
            out.append(_JA["item"].format(id=i["id"], what=safe(i.get("what_ja") or i["what"], 300),
                                          refs="; ".join(safe(r) for r in i["refs"]), dec=dec))
    notes_ja = list(path.get("notes_ja") or [])
    for k, n in enumerate(path.get("notes") or []):
        out.append(_JA["note"].format(text=safe((notes_ja[k] if k < len(notes_ja) else "") or n, 400)))
    if status == "in-force":
        gap = path.get("gap_set") or []
        partial = sum(1 for g in gap if g["status"] == "partial")
        if gap:
            out.append(_JA["gap"].format(n=len(gap), partial=partial, none=len(gap) - partial,
                                         full=len(path.get("recognised") or [])))
        else:
            out.append(_JA["gap_empty"].format(apply_for=path["apply_for"]))
    return out


def clause_status_line(entry: dict[str, Any] | None, lang: str = "en") -> str | None:
    """Partial vs None for one gap clause, with the MoC's own wording when the MoC has a table."""
    if not entry or not entry.get("tables"):
        return None
    if lang == "ja":
        words = (f"— MoC（仮訳）: 「{safe(entry['wording_ja'], 200)}」" if entry.get("wording_ja")
                 else "— MoC の記載なし（差分の出典を参照）")
        return f"相互承認上の扱い: {moc_term(entry['status'], 'ja')} {words}（{', '.join(entry['tables'])}）"
    st = {"partial": "Partial", "none": "None", "unlisted": "not listed (not recognised)"}.get(entry["status"],
                                                                                               entry["status"])
    words = (f' — MoC: "{safe(entry["wording"], 200)}"' if entry.get("wording")
             else " — no MoC wording (see gap set source)")
    return f"recognition: {st}{words} ({', '.join(entry['tables'])})"
