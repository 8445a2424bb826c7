"""The dossier for a simplified application, as HTML or Markdown, in English or Japanese.

An applicant attaches evidence to a simplified application under an MoC (or UK law). The dossier
reads in the order the application does: (1) the label held (identifier, level, validity, as
declared) and the recognition path with its basis; (2) the gap clauses, each with its status in
the MoC's own words, the verdict, the findings and evidence digests it rests on, and what still
needs documents; (3) the manufacturer's declarations attached to MANUAL clauses; (4) the
integrity block (pack digest, signing key, probe version, run options).

Nothing is re-judged: every verdict, count and digest is read from the evidence (and, for a pack,
from its verified manifest). Device and declared strings are made visible here and escaped by the
renderer (Jinja2 autoescape for HTML, `markdown.esc` for Markdown).
"""

from __future__ import annotations

import importlib.resources
import json
from collections import Counter
from typing import Any

import jinja2

from probe.errors import UserError
from probe.output.lang import (
    PROVISIONAL_NOTE,
    TITLE_JA_NOTE,
    count_text,
    date_text,
    datetime_text,
    moc_term,
    number_text,
)

from .html import _anchor
from .i18n import labels
from .markdown import esc
from .model import VERDICTS, Source, location, outcome, visible
from .path_view import recognition_view


def _title(c: dict[str, Any], lang: str) -> tuple[str, str]:
    """(title, mark): the Japanese title with ※ when probe wrote it, else the English one."""
    if lang == "ja" and c.get("title_ja"):
        src = c.get("title_ja_source") or "probe-paraphrase"
        return visible(c["title_ja"]), "※" if src in TITLE_JA_NOTE else ""
    return visible(c.get("title", "")), ""


def _finding_view(f: dict[str, Any], arts: dict[str, dict[str, Any]], lang: str) -> dict[str, Any]:
    return {
        "id": visible(f.get("id")), "status": visible(f.get("status")), "check": visible(f.get("check_id")),
        "where": location(f), "summary": visible(f.get("summary")), "title": visible(f.get("title")),
        "evidence": [{"id": visible(aid), "kind": visible(arts[aid].get("kind")),
                      "size": number_text(arts[aid].get("size"), lang), "sha256": visible(arts[aid].get("sha256"))}
                     for aid in f.get("evidence") or [] if aid in arts],
    }


def _statement_view(s: dict[str, Any]) -> dict[str, Any]:
    value = s.get("value")
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return {"field": visible(s.get("field")), "value": visible(shown), "line": s.get("line"),
            "document": visible(s.get("document") or ""), "url": visible(s.get("url") or "")}


def _declaration_view(decl: dict[str, Any]) -> dict[str, Any]:
    return {"file": visible(decl.get("file")), "sha256": visible(decl.get("sha256")),
            "artefact": visible(decl.get("artefact") or ""),
            "statements": [_statement_view(s) for s in decl.get("statements") or []],
            "fetched": [{"url": visible(u.get("url")), "status": visible(u.get("status")),
                         "sha256": visible(u.get("sha256") or "")} for u in decl.get("fetched_urls") or []]}


def _gap_entries(doc: dict[str, Any], path: dict[str, Any]) -> list[dict[str, Any]]:
    """The gap set as the evidence gives it; a full assessment lists every clause of the scheme applied for."""
    if path.get("full_assessment"):
        seen: list[str] = []
        for c in doc["clauses"]:
            if c["scheme"] == path.get("apply_for") and c["id"] not in seen:
                seen.append(c["id"])
        return [{"id": cid, "status": "full-assessment", "tables": []} for cid in seen]
    return list(path.get("gap_set") or [])


def dossier_view(doc: dict[str, Any], lang: str, verification: Any = None,
                 source: Source | None = None) -> dict[str, Any]:
    path = (doc.get("recognition") or {}).get("chosen_path")
    if not path:
        raise UserError("the evidence has no recognition path: a dossier is for a simplified application "
                        "(run probe with --holding SCHEME --apply-for SCHEME)")
    L = labels(lang)
    rv = recognition_view(doc, lang)
    arts = {a["id"]: a for a in doc.get("artefacts") or []}
    findings = {f["id"]: f for f in doc.get("findings") or []}
    by_id: dict[str, list[dict[str, Any]]] = {}
    for c in doc["clauses"]:
        by_id.setdefault(c["id"], []).append(c)
    wording_key = "wording_ja" if lang == "ja" else "wording"
    gap, verdicts, marks = [], Counter(), set()
    for g in _gap_entries(doc, path):
        rows = []
        for c in by_id.get(g["id"], []):
            verdicts[c["verdict"]] += 1
            rows.append({
                "target": visible(c.get("target")), "verdict": visible(c.get("verdict")),
                "basis": L.get(c.get("basis"), visible(c.get("basis"))), "reason": visible(c.get("reason")),
                "reason_code": visible(c.get("reason_code") or ""),
                "findings": [_finding_view(findings[f], arts, lang) for f in c.get("findings") or [] if f in findings],
                "supporting": [_finding_view(findings[f], arts, lang) for f in c.get("supporting") or []
                               if f in findings],
                "documents": visible(c["documents"]) if c.get("documents") else
                L["d_documents_missing"] if "documents" not in c else "",
                "declaration": _declaration_view(c["declaration"]) if c.get("declaration") else None,
                "text_confirmed": bool(c.get("text_confirmed", True)),
            })
        first = (by_id.get(g["id"]) or [{}])[0]
        title, mark = _title(first, lang) if first else (visible(g["id"]), "")
        if mark:
            marks.add(first.get("title_ja_source") or "probe-paraphrase")
        status = g.get("status")
        gap.append({"id": visible(g["id"]), "title": title, "mark": mark,
                    "status": L["full_assessment"] if status == "full-assessment" else moc_term(status, lang),
                    "status_code": visible(status), "wording": visible(g.get(wording_key) or g.get("wording") or ""),
                    "tables": visible(", ".join(g.get("tables") or [])), "rows": rows})
    declared = [{"id": visible(c["id"]), "target": visible(c["target"]), "title": _title(c, lang)[0],
                 "verdict": visible(c["verdict"]), "declaration": _declaration_view(c["declaration"])}
                for c in doc["clauses"] if c.get("verdict") == "MANUAL" and c.get("declaration")]
    held = (doc.get("recognition") or {}).get("held_label") or None
    code, name = outcome(doc)
    run = doc["run"]
    return {
        "lang": lang, "L": L, "doc": doc, "rec": rv,
        "targets": visible(", ".join(doc.get("targets") or [])),
        "profile": visible((doc.get("profile") or {}).get("name")),
        "device_class": visible((doc.get("profile") or {}).get("device_class")),
        "path": {"holding": visible(path.get("holding")), "apply_for": visible(path.get("apply_for")),
                 "device_class": visible(path.get("device_class")), "explanation": visible(path.get("explanation")),
                 "status": visible(path.get("status") or ""),
                 "status_text": L.get(path.get("status") or "", visible(path.get("status") or "")),
                 "full_assessment": bool(path.get("full_assessment")),
                 "in_force_from": date_text(path.get("in_force_from"), lang),
                 "empty": not path.get("full_assessment") and not path.get("gap_set")},
        "as_of": rv["as_of"], "as_of_source": rv["as_of_source"],
        "held": None if not held else {
            "scheme": visible(held.get("scheme")), "identifier": visible(held.get("identifier")),
            "label": rv["held"]["label"] if rv["held"] else "",
            "level_number": visible(held.get("level") if held.get("level") is not None else ""),
            "issued_by": visible(held.get("issued_by") or ""),
            "valid_from": date_text(held.get("valid_from"), lang) or "…",
            "valid_until": date_text(held.get("valid_until"), lang) or "…",
            "valid_on_date": rv["held"]["valid_on_date"] if rv["held"] else "-",
            "problem": visible(held.get("validity_problem") or ""),
            "obtained_via": visible(held.get("obtained_via") or ""),
            "public_url": visible(held.get("public_url") or ""),
            "declared_in": rv["held"]["declared_in"] if rv["held"] else "",
            "sha256": rv["held"]["sha256"] if rv["held"] else ""},
        "bases": rv["bases"],
        "gap": gap,
        "gap_counts": {v: verdicts.get(v, 0) for v in VERDICTS},
        "gap_total": sum(verdicts.values()),
        "gap_clauses": count_text(len(gap), lang, "clause(s)"),
        "declared": declared,
        "marks": sorted(marks),
        "title_notes": {k: TITLE_JA_NOTE[k] for k in sorted(marks)},
        "provisional": PROVISIONAL_NOTE["ja"] if lang == "ja" else PROVISIONAL_NOTE["en"],
        "integrity": {
            "source": visible(source.path) if source else "",
            "is_pack": verification is not None,
            "manifest_sha256": visible(getattr(verification, "manifest_sha256", None) or ""),
            "archive_sha256": visible(source.archive_sha256 if source and source.archive_sha256 else ""),
            "evidence_sha256": visible((getattr(verification, "evidence_sha256", None) if verification else None)
                                       or (source.file_sha256 if source else "") or ""),
            "signer": visible(getattr(verification, "signer", None) or ""),
            "signed_at": datetime_text(getattr(verification, "signed_at", None), lang),
            "files_checked": number_text(getattr(verification, "files_checked", 0), lang),
            "tool": f"{visible(doc['tool'].get('name'))} {visible(doc['tool'].get('version'))}",
            "schema": visible(doc.get("schema_version")), "run_id": visible(run.get("id")),
            "started": datetime_text(run.get("started"), lang), "finished": datetime_text(run.get("finished"), lang),
            "complete": bool(run.get("complete")),
            "incomplete": visible("; ".join(run.get("incomplete_reasons") or [])),
            "device_state": visible(run.get("device_state") or "initialised"),
            "options": visible(json.dumps(run.get("options") or {}, indent=1, sort_keys=True, ensure_ascii=False)),
            "overlays": [{"path": visible(o.get("path")), "sha256": visible(o.get("sha256"))}
                         for o in (doc.get("catalog") or {}).get("overlays") or [] if isinstance(o, dict)],
            "outcome": name, "exit_code": code,
        },
    }


# ------------------------------------------------------------------------------------- HTML


def _env() -> jinja2.Environment:
    templates = importlib.resources.files("probe.reports") / "templates"
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (templates / name).read_text("utf-8")),
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["anchor"] = _anchor
    env.filters["vclass"] = lambda v: v if v in VERDICTS else "INCONCLUSIVE"
    return env


def render_html(doc: dict[str, Any], *, lang: str = "en", verification: Any = None, source: Source | None = None,
                baseline: dict[str, Any] | None = None) -> str:
    view = dossier_view(doc, lang, verification, source)
    return _env().get_template("dossier.html.j2").render(**view, verdicts=VERDICTS)


# --------------------------------------------------------------------------------- Markdown


def _finding_md(f: dict[str, Any], L: dict[str, str]) -> list[str]:
    out = [f"    - **{f['status']}** {esc(f['id'])} `{esc(f['check'])}` @ {esc(f['where'])}: {esc(f['summary'], 400)}"]
    for a in f["evidence"]:
        out.append(f"      - {L['d_digests']} {esc(a['id'])} ({esc(a['kind'])}, {a['size']} {L['bytes']}): "
                   f"sha256 `{esc(a['sha256'])}`")
    return out


def render_markdown(doc: dict[str, Any], *, lang: str = "en", verification: Any = None,
                    source: Source | None = None, baseline: dict[str, Any] | None = None) -> str:
    v = dossier_view(doc, lang, verification, source)
    L, p, integ = v["L"], v["path"], v["integrity"]
    out = [f"# {L['dossier_title']}", "", esc(L["d_intro"]), "",
           f"- **{L['d_device']}**: {esc(v['targets'])} ({L['profile']} {esc(v['profile'])}, "
           f"{L['device_class']} {esc(v['device_class'])})",
           f"- **{L['path']}**: {esc(p['holding'])} → {esc(p['apply_for'])} ({esc(p['device_class'])})",
           f"- **{L['d_overall']}**: {integ['outcome']} ({L['exit_code']} {integ['exit_code']})", "",
           f"> {esc(v['provisional'])}", "", f"## {L['d_s1']}", ""]
    h = v["held"]
    if h:
        out += [f"- **{L['held_label']}**: {esc(h['label'])}",
                f"  - {L['d_scheme']}: {esc(h['scheme'])}; {L['d_identifier']}: {esc(h['identifier'])}; "
                f"{L['d_level']}: {esc(h['level_number'] or '-')}" + (f"; {L['d_issued_by']}: {esc(h['issued_by'])}"
                                                                      if h["issued_by"] else ""),
                f"  - {L['validity']}: {esc(h['valid_from'])} – {esc(h['valid_until'])}; {L['valid_on_date']} "
                f"({esc(v['as_of'])}): {h['valid_on_date']}" + (f" ({esc(h['problem'])})" if h["problem"] else ""),
                f"  - {L['obtained_via']}: {esc(h['obtained_via'] or L['not_answered'])}"
                + (f"; {L['d_public_url']}: {esc(h['public_url'])}" if h["public_url"] else ""),
                f"  - {L['declared_in']} {esc(h['declared_in'])} (sha256 `{esc(h['sha256'])}`); "
                f"{esc(L['d_as_declared'])}"]
    else:
        out.append(f"- **{L['held_label']}**: {L['no_held_label']}")
    out.append(f"- **{L['judged_on']}**: {esc(v['as_of'])} ({esc(v['as_of_source'])}); **{L['path_status']}**: "
               f"{esc(p['status_text'])}" + (f" — {L['in_force_from']} {esc(p['in_force_from'])}"
                                             if p["status"] == "not-in-force" else ""))
    for b in v["bases"]:
        head = f"{esc(b['instrument'])} {esc(b['paragraph'])}" + (f", {esc(b['annexes'])}" if b["annexes"] else "")
        used = "" if b["applies"] else f" ({L['not_used']}: {esc(b['why_not'])})"
        out.append(f"- **{L['path_basis']}**: {head} ({esc(b['kind'])}){used}; "
                   f"{L['condition']}: {esc(b['condition'])}; "
                   f"{L['in_force_from']}: {esc(b['in_force'])}; {L['gap_source']}: {esc(b['gap_source'])}")
    for q in v["rec"]["questions"]:
        ans = esc(q["answer"]) if q["answered"] else f"**{L['not_answered']}**"
        out.append(f"- **{L['d_question_answer']}** ({esc(q['refs'])}): {esc(q['text'])} {L['answer']}: {ans}")
    for i in v["rec"]["manual_items"]:
        dec = f": {esc(i['declared'])}" if i["declared"] else ""
        out.append(f"- **{L['d_path_items']}**: {esc(i['what'])} ({esc(i['refs'])}){dec}")
    for n in v["rec"]["notes"]:
        out.append(f"- {L['notes']}: {esc(n)}")
    out += ["", f"## {L['d_s2']}", ""]
    if p["full_assessment"]:
        out += [esc(L["d_full_assessment"]), ""]
    if p["empty"]:
        out += [esc(L["d_empty_gap"]), ""]
    else:
        counts = ", ".join(f"{k} {v['gap_counts'][k]}" for k in VERDICTS)
        out += [f"{L['d_gap_counts']} ({v['gap_clauses']}): {counts}", ""]
    for g in v["gap"]:
        out.append(f"### {esc(g['id'])} {esc(g['title'])}{g['mark']}")
        wording = f" — {L['d_moc_words']}: “{esc(g['wording'])}”" if g["wording"] else ""
        out += ["", f"- **{L['d_gap_status']}**: {esc(g['status'])}{wording}"]
        for r in g["rows"]:
            code = f" ({esc(r['reason_code'])})" if r["reason_code"] else ""
            out.append(f"- **{L['verdict']}**: **{r['verdict']}** ({esc(r['basis'])}) @ {esc(r['target'])}: "
                       f"{esc(r['reason'], 500)}{code}")
            if r["findings"]:
                out.append(f"  - {L['d_findings']}:")
                for f in r["findings"]:
                    out += _finding_md(f, L)
            else:
                out.append(f"  - {L['d_no_findings']}")
            if r["supporting"]:
                out.append(f"  - {L['d_supporting']}:")
                for f in r["supporting"]:
                    out += _finding_md(f, L)
            if r["documents"]:
                out.append(f"  - **{L['d_documents']}**: {esc(r['documents'], 600)}")
        out.append("")
    if v["title_notes"]:
        out += [f"*{esc(n)}*" for n in v["title_notes"].values()] + [""]
    out += [f"## {L['d_s3']}", ""]
    if not v["declared"]:
        out.append(esc(L["d_no_declarations"]))
    for d in v["declared"]:
        dv = d["declaration"]
        out.append(f"- **{esc(d['id'])}** {esc(d['title'])} (**{d['verdict']}**, @ {esc(d['target'])}): "
                   f"{L['d_file']} {esc(dv['file'])} (sha256 `{esc(dv['sha256'])}`, "
                   f"{L['artefact']} {esc(dv['artefact'])})")
        for s in dv["statements"]:
            extra = "".join(f"; {L[k]}: {esc(s[f])}" for k, f in (("d_document", "document"), ("d_url", "url")) if s[f])
            out.append(f"  - {esc(s['field'])} ({L['d_line']} {s['line']}): {esc(s['value'], 600)}{extra}")
        for u in dv["fetched"]:
            out.append(f"  - {L['d_fetched']}: {esc(u['url'])} → {esc(u['status'])} (sha256 `{esc(u['sha256'])}`)")
    out += ["", f"## {L['d_s4']}", ""]
    if integ["is_pack"]:
        out.append(f"- **{L['d_pack_digest']}**: `{esc(integ['manifest_sha256'])}` ({integ['files_checked']} "
                   f"{L['files_verified']})")
        if integ["archive_sha256"]:
            out.append(f"- **{L['d_archive_digest']}**: `{esc(integ['archive_sha256'])}`")
        out.append(f"- **{L['d_evidence_digest']}**: `{esc(integ['evidence_sha256'])}`")
        out.append(f"- **{L['d_key']}**: " + (f"`{esc(integ['signer'])}`; {L['d_signed_at']} {esc(integ['signed_at'])}"
                                              if integ["signer"] else L["d_not_signed"]))
    else:
        out.append(f"- **{L['integrity']}**: {L['d_not_pack']}")
        if integ["evidence_sha256"]:
            out.append(f"- **{L['d_evidence_file_digest']}**: `{esc(integ['evidence_sha256'])}`")
    out += [f"- **{L['d_probe_version']}**: {esc(integ['tool'])}; {L['d_schema']} {esc(integ['schema'])}",
            f"- **{L['run_id']}**: {esc(integ['run_id'])}; {L['started']} {esc(integ['started'])}, "
            f"{L['finished']} {esc(integ['finished'] or '-')}; "
            + (L["complete"] if integ["complete"] else f"{L['incomplete']}: {esc(integ['incomplete'])}"),
            f"- **{L['device_state']}**: {esc(integ['device_state'])}"]
    for o in integ["overlays"]:
        out.append(f"- **{L['overlays']}**: {esc(o['path'])} (sha256 `{esc(o['sha256'])}`)")
    out += [f"- **{L['d_options']}**:", "", "```json", *integ["options"].replace("```", "`\u200b``").splitlines(),
            "```", "", f"*{esc(L['d_verify_hint'])}*", "", f"*{esc(L['generated'])}*", ""]
    return "\n".join(out)
