"""`probe schema`: print the evidence JSON Schema shipped with this version."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of the evidence file",
                       description="Print the JSON Schema (draft 2020-12) that every evidence file validates against.")
    p.set_defaults(func=run)


def run(_args: argparse.Namespace) -> int:
    # imported when the command runs, not when its parser is built (`probe --help` builds them all)
    from probe.output.evidence import load_schema

    print(json.dumps(load_schema(), indent=2))
    return 0
