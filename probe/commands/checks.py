"""`probe checks`: the installed check plugins and the clause rules that select their findings."""

from __future__ import annotations

import argparse
import json
from typing import Any

from probe.output.terminal import safe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("checks", help="list check plugins (built-in and third-party)",
                       description="List every check plugin: its stable ID, title, the services it needs, how "
                                   "intrusive it is, and the clause evidence rules that select its findings (with "
                                   "the service roles a rule is scoped to and its effect: decides, fails-only, "
                                   "supports; docs/verdicts.md). Third-party checks register under the "
                                   "'probe.checks' entry-point group (docs/plugin-api.md).")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs, not when its parser is built (`probe --help` builds them all)
    from probe.compliance.catalog import load_catalog
    from probe.plugins import registry

    reg = registry()
    catalog = load_catalog(known_checks=set(reg))
    rows: list[dict[str, Any]] = []
    for cid in sorted(reg):
        m = reg.metadata(cid)  # the listing needs no check module imported
        selected = catalog.rules_for_check(cid)
        rules = [{"rule": c.rule_id(r), "roles": list(r.roles), "effect": str(r.effect)} for c, r in selected]
        rows.append({"id": cid, "title": m.title, "scope": m.scope, "services": list(m.services),
                     "intrusiveness": str(m.intrusiveness), "severity": m.severity, "source": m.source,
                     "clauses": list(dict.fromkeys(c.id for c, _r in selected)), "rules": rules})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['id']}  [{r['intrusiveness']}]  {safe(r['title'], 200)}")  # third-party plugin text
        print(f"    services: {', '.join(r['services']) or '(device)'}   source: {r['source']}")
        if not r["rules"]:
            print("    clauses:  (none mapped)")
        for rule in r["rules"]:
            scoped = f" on {'/'.join(rule['roles'])} services" if rule["roles"] else ""
            print(f"    {rule['rule']}: {rule['effect']}{scoped}")
    return 0
