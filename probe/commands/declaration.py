"""`probe declaration`: the manufacturer declaration template, and checking a filled-in one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from probe.compliance.catalog import load_catalog
from probe.compliance.declaration import TEMPLATE, clause_statements, load_declaration, load_map

HELP = """\
The manufacturer declaration states what a network scan cannot see (disclosure policy, support
period, update signing, automatic-update default, data deletion...). Give it to `probe run
--declaration FILE`: the clauses it speaks to stay MANUAL with basis "declared" and cite it.

examples:
  probe declaration --template > decl.yaml      a commented template to fill in
  probe declaration --check decl.yaml           validate it (errors name the line)
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("declaration", help="manufacturer declaration: print a template or check a file",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--template", action="store_true", help="print a commented YAML template")
    g.add_argument("--check", type=Path, metavar="FILE", help="validate a declaration file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.template:
        sys.stdout.write(TEMPLATE)
        return 0
    catalog = load_catalog()
    decl = load_declaration(args.check, catalog)
    covered = clause_statements(decl, load_map(catalog))
    print(f"{args.check}: valid declaration (sha256 {decl.sha256})")
    print(f"  manufacturer: {decl.data['manufacturer']}; model: {decl.data['model']}")
    print(f"  speaks to {len(covered)} clause(s): {', '.join(sorted(covered))}")
    placeholders = [k for k, v in decl.data.items() if isinstance(v, str) and ("example.com" in v or "Example " in v)]
    if placeholders:
        print(f"  warning: template example values left in: {', '.join(placeholders)}")
    return 0

