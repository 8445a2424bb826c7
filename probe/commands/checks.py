"""`probe checks`: the installed check plugins and the clauses each evidences."""

from __future__ import annotations

import argparse
import json

from probe.compliance.catalog import load_catalog
from probe.output.terminal import safe
from probe.plugins import registry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("checks", help="list check plugins (built-in and third-party)",
                       description="List every check plugin: its stable ID, title, the services it needs, how "
                                   "intrusive it is, and the clauses the catalog maps it to. Third-party checks "
                                   "register under the 'probe.checks' entry-point group (docs/plugin-api.md).")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    rows = []
    for cid, cls in sorted(registry().items()):
        m = cls.metadata
        rows.append({"id": cid, "title": m.title, "scope": m.scope, "services": list(m.services),
                     "intrusiveness": str(m.intrusiveness), "severity": m.severity, "source": m.source,
                     "clauses": list(catalog.clauses_for_check.get(cid, ()))})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['id']}  [{r['intrusiveness']}]  {safe(r['title'], 200)}")  # third-party plugin text
        print(f"    services: {', '.join(r['services']) or '(device)'}   source: {r['source']}")
        print(f"    clauses:  {', '.join(r['clauses']) or '(none mapped)'}")
    return 0
