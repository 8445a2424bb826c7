"""`probe declaration`: the manufacturer declaration template, and checking a filled-in one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from probe.compliance.catalog import load_catalog
from probe.compliance.declaration import TEMPLATE, clause_statements, load_declaration, load_map
from probe.compliance.held_label import HeldLabel
from probe.output.terminal import safe

_PLACEHOLDERS = ("example.com", "Example ", "EXAMPLE-")  # the template's example values

HELP = """\
The manufacturer declaration states what a network scan cannot see (disclosure policy, support
period, update signing, automatic-update default, data deletion...) and the label the product
already holds (held_label: identifier, level, validity, how it was obtained). Give it to `probe run
--declaration FILE`: the clauses it speaks to stay MANUAL with basis "declared" and cite it; `probe
plan --declaration FILE` shows the held label and answers the plan's third-party question.

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
    print(f"  manufacturer: {safe(decl.data['manufacturer'], 200)}; model: {safe(decl.data['model'], 200)}")
    print(f"  speaks to {len(covered)} clause(s): {', '.join(sorted(covered))}")
    held = HeldLabel.from_declaration(decl)
    if held is None:
        print("  held label: none declared (needed for a simplified application: --holding)")
    else:
        answer = held.obtained_via or "NOT ANSWERED (obtained_via)"
        print(f"  held label: {safe(held.describe(), 300)}; obtained via: {answer}")
    fields = [(k, v) for k, v in decl.data.items() if k != "held_label"]
    fields += [(f"held_label.{k}", v) for k, v in (decl.data.get("held_label") or {}).items()]
    placeholders = [k for k, v in fields if isinstance(v, str) and any(m in v for m in _PLACEHOLDERS)]
    if placeholders:
        print(f"  warning: template example values left in: {', '.join(placeholders)}")
    return 0

