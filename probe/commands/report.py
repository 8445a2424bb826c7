"""`probe report`: render a saved evidence file or pack as HTML, Markdown, SARIF or JUnit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from probe.output.evidence import write_atomic
from probe.output.pack import PackInvalid, load_evidence
from probe.output.terminal import safe
from probe.reports import FORMATS, render
from probe.reports.i18n import LANGS

EXIT_OK, EXIT_PACK_INVALID, EXIT_USAGE = 0, 1, 2

HELP = """\
Render a report from saved evidence (an evidence JSON file from `probe run --out`, or an evidence
pack directory/archive); nothing is rescanned. A pack must pass `probe verify` (digests) first.

formats: html (self-contained, no scripts; gap set, tested/declared/manual split, raw evidence),
markdown (tickets, e-mail), sarif (2.1.0, for code-scanning tools), junit (CI test reports).
--lang ja gives Japanese clause titles (JC-STAR) and Japanese headings (html, markdown).

exit codes: 0 written; 1 the pack fails verification (problems listed; run `probe verify`);
2 usage error (unreadable or invalid evidence, bad option).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="render HTML/Markdown/SARIF/JUnit from saved evidence (no rescan)",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path, metavar="PACK|EVIDENCE.json")
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument("--out", type=Path, default=None, metavar="FILE", help="write here (default: standard output)")
    p.add_argument("--lang", choices=LANGS, default="en", help="language of titles and headings (default en)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        doc, verification = load_evidence(args.source)
    except PackInvalid as exc:
        for problem in exc.verification.problems:
            print(f"FAIL {safe(problem, 400)}", file=sys.stderr)
        print(f"probe: {safe(args.source)}: the pack fails verification; no report written", file=sys.stderr)
        return EXIT_PACK_INVALID
    text = render(args.format, doc, lang=args.lang, verification=verification)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.out, text.encode("utf-8"))
    return EXIT_OK
