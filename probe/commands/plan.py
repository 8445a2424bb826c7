"""`probe plan`: what a run would assess, without touching the network."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from probe.commands._common import add_scope_options, load_scope
from probe.compliance.declaration import load_declaration
from probe.output.path_text import clause_status_line, path_lines
from probe.output.terminal import safe
from probe.plugins import registry

HELP = """\
Print the clauses in scope for a device class and recognition path, the checks that will run for
each, and which clauses can only be MANUAL (need the manufacturer's documents). Sends nothing.

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
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="show the clauses in scope and the checks for each (no network)",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scope_options(p)
    p.add_argument("--declaration", default=None, type=Path, metavar="FILE",
                   help="manufacturer declaration YAML: its held_label is the label the path rests on "
                        "(read only; nothing is fetched)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=run)


def plan_json(args: argparse.Namespace) -> dict[str, Any]:
    decl = load_declaration(args.declaration) if args.declaration else None
    catalog, profile, scope = load_scope(args, decl)
    reg = registry()
    gap = {g.clause_id: g.to_json() for g in scope.path.gap} if scope.path and not scope.path.full_assessment else {}
    clauses = []
    for c in scope.clauses:
        running = [chk for chk in c.checks if chk in scope.checks]
        clauses.append({
            "id": c.id,
            "title": c.title,
            "title_ja": c.title_ja,
            "text_confirmed": c.text_confirmed,
            "assessment": str(c.assessment),
            "checks": running,
            "checks_not_in_profile": [chk for chk in c.checks if chk not in running],
            "manual_only": c.assessment.value == "documents-only" or not running,
            "network_can_show": c.network_can_show,
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
        "clauses": clauses,
        "checks": [{"id": cid, "title": reg[cid].metadata.title,
                    "intrusiveness": str(reg[cid].metadata.intrusiveness)} for cid in scope.checks],
    }


def run(args: argparse.Namespace) -> int:
    data = plan_json(args)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
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
        how = "MANUAL only" if c["manual_only"] else ", ".join(c["checks"])
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
    print(f"checks that will run: {', '.join(c['id'] for c in data['checks']) or 'none'}")
    return 0
