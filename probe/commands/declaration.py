"""`probe declaration`: the manufacturer declaration template, and checking a filled-in one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from probe.output.terminal import safe

_PLACEHOLDERS = ("example.com", "Example ", "EXAMPLE-")  # the template's example values

HELP = """\
The manufacturer declaration states what a network scan cannot see (disclosure policy, support
period, update signing, automatic-update default, data deletion...), the label the product
already holds (held_label: identifier, level, validity, how it was obtained), and, as in an
ETSI TS 103 701 ICS/IXIT, what a scan can check against the device: the interfaces it exposes
(protocol, port, purpose, enabled by default, authentication) and how it updates (method,
protocol, URLs, update page). `probe run --declaration` compares those with what it observes
(checks declared_interfaces, declared_authentication, declared_update; docs/declared-observed.md). Give it to `probe run
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
    # imported when the command runs, not when its parser is built (`probe --help` builds them all)
    from probe.compliance.catalog import load_catalog
    from probe.compliance.declaration import TEMPLATE, clause_statements, load_declaration, load_map
    from probe.compliance.held_label import HeldLabel

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
    ifaces = decl.data.get("interfaces")
    if ifaces is None:
        print("  interfaces: none declared (needed to compare declared and observed services: declared_interfaces)")
    else:
        listed = ", ".join(f"{e.get('transport', 'tcp')}/{e['port']} {e['protocol']}" for e in ifaces)
        print(f"  interfaces: {len(ifaces)} declared ({safe(listed, 600)}); compared with the device by "
              "declared_interfaces and declared_authentication")
    upd = decl.data.get("update")
    if upd is not None:
        urls = "; ".join(f"{k} {upd[k]}" for k in ("check_url", "download_url") if upd.get(k))
        print(f"  update: {upd['method']}" + (f" over {safe(upd['protocol'])}" if upd.get("protocol") else "")
              + (f" ({safe(urls, 400)})" if urls else "") + "; compared with the device by declared_update")
    fields = [(k, v) for k, v in decl.data.items() if k not in ("held_label", "update")]
    fields += [(f"held_label.{k}", v) for k, v in (decl.data.get("held_label") or {}).items()]
    fields += [(f"update.{k}", v) for k, v in (upd or {}).items()]
    placeholders = [k for k, v in fields if isinstance(v, str) and any(m in v for m in _PLACEHOLDERS)]
    if placeholders:
        print(f"  warning: template example values left in: {', '.join(placeholders)}")
    return 0

