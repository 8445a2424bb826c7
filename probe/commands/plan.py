"""`probe plan`: what a run would assess, without touching the network."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import Any

from probe.commands._common import add_scope_options, load_scope
from probe.compliance.catalog import Catalog, Clause
from probe.compliance.scope import Scope
from probe.errors import UserError
from probe.models import Assessment, Effect
from probe.output.lang import LANGS, TITLE_JA_NOTE, count_text, date_text
from probe.output.path_text import clause_status_line, path_lines, path_lines_ja
from probe.output.terminal import safe

HELP = """\
Print the clauses in scope for a device class and recognition path, the checks whose findings
count for each (with the service roles a rule is scoped to, e.g. tls_configuration[update]), and
which clauses can only be MANUAL (need the manufacturer's documents). Sends nothing.

--explain CLAUSE prints one clause's evidence rules in words a lab engineer checks against the
scheme text: the test purpose, whether a scan can assess all of it and why, what FAILs it, what
only supports it, what needs documents, and whether its text is confirmed.

With --holding and --apply-for the plan also shows what the path rests on (the MoC paragraph or
UK law, its condition and in-force date, judged on --application-date or today), Partial vs None
for each gap clause with the MoC's own wording, the table notes, the path's MANUAL items (e.g.
the public self-declaration of Japan-UK MoC para 3.2(a)), and the question whether the held label
was itself obtained through another recognition arrangement. The held label (identifier, level,
validity) and the answer come from --declaration FILE (held_label:). A path not yet in force is
a full assessment and says from when it applies; chained recognition is refused.

examples:
  probe plan --profile home-gateway --holding jc-star --apply-for cls
  probe plan --profile home-gateway --holding jc-star --apply-for cls --declaration decl.yaml
  probe plan --profile general-iot --holding cls --apply-for jc-star --json
  probe plan --profile general-iot --holding cls --apply-for jc-star --application-date 2026-05-01
  probe plan --profile home-gateway          (every clause of all three schemes)
  probe plan --explain cls:5.3-7
  probe plan --profile home-gateway --holding jc-star --apply-for cls --lang ja
        (in Japanese: the catalog's Japanese titles, marked ※ where they are probe's own wording, the
        MoC's Japanese status terms 完全適合 / 一部適合 / 該当なし, dates as Japan writes them)
"""

_ASSESSMENT_JA = {"network": "ネットワーク試験", "partly-network": "一部ネットワーク試験",
                  "documents-only": "文書確認のみ"}

_EFFECT_WORDS = {
    Effect.DECIDES: "decides: its FAIL fails the clause, INCONCLUSIVE leaves it untested, PASS (or NOT_APPLICABLE) "
                    "counts toward the clause's PASS (or NOT_APPLICABLE)",
    Effect.FAILS_ONLY: "fails only: its FAIL fails the clause and INCONCLUSIVE leaves it untested, but its PASS "
                       "never counts (the check covers part of the clause)",
    Effect.SUPPORTS: "supports: attached as supporting evidence, never changes the verdict",
}

_ASSESSMENT_WORDS = {
    Assessment.NETWORK: "a scan can assess all of it: PASS, FAIL, INCONCLUSIVE or NOT_APPLICABLE from the "
                        "deciding findings",
    Assessment.PARTIAL: "a scan can prove a weakness (FAIL) but never the whole clause: without a FAIL or an "
                        "untestable finding the verdict is MANUAL",
    Assessment.DOCUMENTS: "only the manufacturer's documents can show it: always MANUAL, network findings "
                          "attached as support",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="show the clauses in scope and the checks for each (no network)",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scope_options(p)
    p.add_argument("--declaration", default=None, type=Path, metavar="FILE",
                   help="manufacturer declaration YAML: its held_label is the label the path rests on "
                        "(read only; nothing is fetched)")
    p.add_argument("--explain", metavar="CLAUSE", default=None,
                   help="explain one clause's evidence rules, e.g. cls:5.3-7 (any catalog clause)")
    p.add_argument("--json", action="store_true", help="print the plan (or the --explain answer) as JSON")
    p.add_argument("--lang", choices=LANGS, default="en",
                   help="language of the plan text (ja: Japanese titles, the MoC's Japanese terms, Japanese dates)")
    p.set_defaults(func=run)


def _effect_words(c: Clause, effect: Effect) -> str:
    if effect is Effect.SUPPORTS or c.assessment is Assessment.NETWORK:
        return _EFFECT_WORDS[effect]
    if c.assessment is Assessment.DOCUMENTS:
        return f"{effect}: would decide, but this clause needs documents, so it is attached only"
    return (f"{effect}: its FAIL fails the clause and INCONCLUSIVE leaves it untested; its PASS only shows no "
            "weakness here (the clause can never PASS from the network)")


def _manual_only(c: Clause, running: set[str]) -> bool:
    deciding = [r for r in c.rules if r.effect is not Effect.SUPPORTS and r.check in running]
    return c.assessment is Assessment.DOCUMENTS or not c.text_confirmed or not deciding


def plan_json(args: argparse.Namespace) -> dict[str, Any]:
    from probe.compliance.declaration import load_declaration
    from probe.plugins import registry

    decl = load_declaration(args.declaration) if args.declaration else None
    catalog, profile, scope = load_scope(args, decl)
    reg = registry()
    gap = {g.clause_id: g.to_json() for g in scope.path.gap} if scope.path and not scope.path.full_assessment else {}
    running = set(scope.checks)
    clauses = []
    for c in scope.clauses:
        clauses.append({
            "id": c.id,
            "title": c.title,
            "title_ja": c.title_ja,
            "title_ja_source": c.title_ja_source,
            "text_confirmed": c.text_confirmed,
            "assessment": str(c.assessment),
            "purpose": c.purpose,
            "checks": [chk for chk in c.checks if chk in running],
            "checks_not_in_profile": [chk for chk in c.checks if chk not in running],
            "rules": [{**r.to_json(), "id": c.rule_id(r), "runs": r.check in running} for r in c.rules],
            "manual_only": _manual_only(c, running),
            "documents": c.documents,
            "recognition": gap.get(c.id),  # Partial vs None and the MoC's wording, on a simplified path
        })
    return {
        "profile": profile.name,
        "device_class": profile.device_class,
        "holding": args.holding,
        "apply_for": args.apply_for,
        "recognition": scope.path.to_json() if scope.path else None,
        "as_of": scope.as_of.isoformat() if scope.as_of else None,
        "as_of_source": scope.as_of_source,
        "held_label": scope.held.to_json(scope.as_of) if scope.held else None,
        "catalog_overlays": [o.to_json() for o in catalog.overlays],
        "clauses": clauses,
        "checks": [{"id": cid, "title": reg.metadata(cid).title,
                    "intrusiveness": str(reg.metadata(cid).intrusiveness),
                    "compares": reg.metadata(cid).compares} for cid in scope.checks],
    }


def explain_json(catalog: Catalog, scope: Scope, clause_id: str) -> dict[str, Any]:
    c = catalog.get(clause_id)
    running = set(scope.checks)
    return {
        **c.to_json(),
        "in_scope": c.id in scope.clause_ids(),
        "assessment_meaning": _ASSESSMENT_WORDS[c.assessment],
        "rules": [{**r.to_json(), "id": c.rule_id(r), "runs": r.check in running,
                   "effect_meaning": _effect_words(c, r.effect)} for r in c.rules],
        "overlays": [o.to_json() for o in catalog.overlays],
    }


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(safe(text, 2000), width=100, initial_indent=indent, subsequent_indent=indent)


def explain_text(e: dict[str, Any], scheme_name: str) -> str:
    """The clause's rules in words a lab engineer checks against the scheme text."""
    out = [f"{e['id']}  {safe(e['title'], 300)}",
           f"  scheme: {safe(scheme_name, 200)}; source: {safe(e['source'], 300)}"]
    if e["text_confirmed"]:
        where = "probe's paraphrase" if e["title_source"] == "builtin" else f"from {e['title_source']}"
        out.append(f"  text: confirmed ({safe(where, 300)})")
    else:
        out.append("  text: NOT confirmed: the verdict is MANUAL with the findings attached, whatever the network "
                   "shows, until an overlay confirms the official text (--catalog FILE, docs/catalog.md)")
    if not e["in_scope"]:
        out.append("  (not in scope for this profile and recognition path)")
    out += ["", "test purpose:", _wrap(e["purpose"], "  "), "",
            f"assessment: {e['assessment']}", _wrap(e["assessment_meaning"], "  ")]
    if e["assessment_why"]:
        out.append(_wrap("why: " + e["assessment_why"], "  "))
    deciding = [r for r in e["rules"] if r["effect"] != "supports"]
    supporting = [r for r in e["rules"] if r["effect"] == "supports"]

    def rule_lines(r: dict[str, Any]) -> list[str]:
        scope = (f"only findings on services with role {' or '.join(r['roles'])}" if r["roles"]
                 else "any finding of the check (device-wide or on any service)")
        lines = [f"  {r['id']}", f"    check {r['check']}: {scope}", _wrap(r["effect_meaning"], "    "),
                 _wrap("why: " + r["why"], "    ")]
        if r["factory_default_exempt"]:
            lines.append(_wrap("with --device-state factory, a FAIL here makes the clause INCONCLUSIVE "
                               "(device-state): re-test after initial set-up", "    "))
        if not r["runs"]:
            lines.append("    (this check does not run with this profile and path)")
        return lines

    out += ["", "what can FAIL it (deciding rules):"]
    for r in deciding:
        out += rule_lines(r)
    if not deciding:
        out.append("  nothing: no network finding can decide this clause")
    out += ["", "what supports it (attached, never deciding):"]
    for r in supporting:
        out += rule_lines(r)
    if not supporting:
        out.append("  nothing")
    out += ["", "needs the manufacturer's documents:", _wrap(e["documents"], "  ")]
    if e["overlays"]:
        out += ["", "catalog overlays applied: " + ", ".join(f"{safe(o['path'], 200)} (sha256 {o['sha256'][:16]}…)"
                                                            for o in e["overlays"])]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    if args.explain:
        from probe.compliance.declaration import load_declaration

        decl = load_declaration(args.declaration) if args.declaration else None
        catalog, _profile, scope = load_scope(args, decl)
        if args.explain not in catalog.by_id:
            raise UserError(f"--explain {args.explain}: unknown clause (clause ids look like cls:5.3-7, "
                            "jc-star:S1.1-01, uk-psti:1; see `probe plan`)")
        e = explain_json(catalog, scope, args.explain)
        if args.json:
            print(json.dumps(e, indent=2, ensure_ascii=False))
        else:
            print(explain_text(e, catalog.schemes[e["scheme"]].name))
        return 0
    data = plan_json(args)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    if args.lang == "ja":
        print("\n".join(plan_text_ja(data)))
        return 0
    rec = data["recognition"]
    print(f"profile {data['profile']} ({data['device_class']})")
    lines = path_lines({"chosen_path": rec, "held_label": data["held_label"], "as_of": data["as_of"],
                        "as_of_source": data["as_of_source"]})
    if not rec:
        print("no recognition path chosen: every clause of the profile's schemes is in scope")
    print("\n".join(lines))
    print()
    width = max((len(c["id"]) for c in data["clauses"]), default=10)
    for c in data["clauses"]:
        deciding = [r for r in c["rules"] if r["effect"] != "supports" and r["runs"]]
        shown = ", ".join(f"{r['check']}[{','.join(r['roles'])}]" if r["roles"] else r["check"] for r in deciding)
        how = "MANUAL only" if c["manual_only"] else f"decided by {shown}"
        flag = "" if c["text_confirmed"] else "  [text unconfirmed]"
        print(f"  {c['id']:<{width}}  {c['assessment']:<15} {how}{flag}")
        print(f"  {'':<{width}}  {safe(c['title'], 300)}")  # titles may come from a user's catalog overlay
        moc = clause_status_line(c["recognition"])
        if moc:
            print(f"  {'':<{width}}  {moc}")
    manual = [c["id"] for c in data["clauses"] if c["manual_only"]]
    print()
    print(f"{len(data['clauses'])} clause(s) in scope; {len(manual)} can only be MANUAL "
          f"(need the manufacturer's documents): {', '.join(manual) or 'none'}")
    print(f"checks that will run: {', '.join(c['id'] for c in data['checks'] if not c['compares']) or 'none'}")
    compare = [c for c in data["checks"] if c["compares"]]
    if compare:
        print("with --declaration stating them, compared with the device: "
              + ", ".join(f"{c['id']} ({c['compares']})" for c in compare))
    print("probe plan --explain CLAUSE shows a clause's rules: what FAILs it, what supports it, what needs documents")
    return 0


def plan_text_ja(data: dict[str, Any]) -> list[str]:
    """The plan in Japanese: the same facts as the English text, in Japanese words and dates."""
    rec = data["recognition"]
    out = [f"プロファイル {data['profile']}（機器区分 {data['device_class']}）"]
    if not rec:
        out.append("相互承認の経路は指定されていません: プロファイルの制度の全要求事項が対象です")
    out += path_lines_ja({"chosen_path": rec, "held_label": data["held_label"], "as_of": data["as_of"],
                          "as_of_source": data["as_of_source"]})
    out.append("")
    width = max((len(c["id"]) for c in data["clauses"]), default=10)
    marks: set[str] = set()
    for c in data["clauses"]:
        deciding = [r for r in c["rules"] if r["effect"] != "supports" and r["runs"]]
        shown = ", ".join(f"{r['check']}[{','.join(r['roles'])}]" if r["roles"] else r["check"] for r in deciding)
        how = "文書確認（MANUAL）のみ" if c["manual_only"] else f"判定するチェック: {shown}"
        flag = "" if c["text_confirmed"] else "  [原文未確認]"
        assessment = _ASSESSMENT_JA.get(c["assessment"], c["assessment"])
        out.append(f"  {c['id']:<{width}}  {assessment}  {how}{flag}")
        title, mark = safe(c["title"], 300), ""
        if c.get("title_ja"):
            title = safe(c["title_ja"], 300)
            if c.get("title_ja_source") in TITLE_JA_NOTE:
                mark = "※"
                marks.add(c["title_ja_source"])
        out.append(f"  {'':<{width}}  {title}{mark}")
        moc = clause_status_line(c["recognition"], "ja")
        if moc:
            out.append(f"  {'':<{width}}  {moc}")
    manual = [c["id"] for c in data["clauses"] if c["manual_only"]]
    out += ["", f"対象の要求事項 {count_text(len(data['clauses']), 'ja')}。うち文書確認（MANUAL）のみ "
                f"{count_text(len(manual), 'ja')}: {', '.join(manual) or 'なし'}",
            f"実行するチェック: {', '.join(c['id'] for c in data['checks'] if not c['compares']) or 'なし'}"]
    compare = [c for c in data["checks"] if c["compares"]]
    if compare:
        out.append("申告（--declaration）に記載があれば機器と照合: "
                   + ", ".join(f"{c['id']}（{c['compares']}）" for c in compare))
    out += [TITLE_JA_NOTE[m] for m in sorted(marks)]
    if rec and any(g.get("wording_ja") for g in rec.get("gap_set") or []):
        out.append("※ MoC 上の扱いの日本語は経済産業省の仮訳の用語です（署名された正文は英語）。")
    if data.get("as_of"):
        out.append(f"判定基準日: {date_text(data['as_of'], 'ja')}")
    out.append("probe plan --explain CLAUSE で要求事項ごとの規則（FAIL となる条件、補足の証跡、必要な文書）を"
               "表示します")
    return out
