"""`probe report`: render a saved evidence file or pack as HTML, Markdown, SARIF, JUnit, or the
dossier for a simplified application."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from probe.output.evidence import write_atomic
from probe.output.lang import LANGS
from probe.output.pack import PackInvalid, load_evidence
from probe.output.terminal import safe
from probe.reports import FORMATS, render, resolve
from probe.reports.model import Source

EXIT_OK, EXIT_PACK_INVALID, EXIT_USAGE = 0, 1, 2

HELP = """\
Render a report from saved evidence (an evidence JSON file from `probe run --out`, or an evidence
pack directory/archive); nothing is rescanned. A pack must pass `probe verify` (digests) first.

formats: html (self-contained, no scripts; gap set, tested/declared/manual split, raw evidence),
markdown (tickets, e-mail), sarif (2.1.0, for code-scanning tools), junit (CI test reports), and
the dossier for a simplified application (docs/dossier.md): dossier-html, dossier-markdown, or
dossier (Markdown when --out ends in .md or .markdown, otherwise HTML). The dossier needs evidence
of a run with --holding and --apply-for; it reads, in order: the held label and the recognition
path with its basis, the gap clauses (MoC status in the MoC's words, verdict, findings and
evidence digests, what still needs documents), the manufacturer's declarations, and the integrity
block (pack digest, signing key, probe version, run options).

--lang ja: Japanese headings, the catalog's Japanese clause titles (CLS and UK PSTI titles are
probe's own translation and marked so), the MoC's Japanese status terms (完全適合 / 一部適合 /
該当なし; the Japanese MoC is METI's provisional translation), dates and times as Japan writes them
(JST). Every format; SARIF and JUnit keep their machine vocabulary and carry the Japanese titles.

--baseline OLD adds what changed since an earlier run of the same device (as `probe diff OLD
EVIDENCE`, docs/diff.md): html and markdown get a section, sarif sets each result's baselineState,
junit records the comparison's exit code as a suite property.

examples:
  probe report gw.tar --format html --out gw.html
  probe report gw.tar --format dossier --lang ja --out dossier-ja.html
  probe report gw.tar --format dossier --out dossier.md
  probe report fw-1.1.tar --format html --baseline fw-1.0.tar --out changes.html

exit codes: 0 written; 1 the pack (or the --baseline pack) fails verification (problems listed; run
`probe verify`); 2 usage error (unreadable or invalid evidence, bad option, a dossier for evidence
without a recognition path).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="render HTML/Markdown/SARIF/JUnit or the application dossier from saved "
                                      "evidence (no rescan)",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path, metavar="PACK|EVIDENCE.json")
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument("--out", type=Path, default=None, metavar="FILE", help="write here (default: standard output)")
    p.add_argument("--lang", choices=LANGS, default="en", help="language of titles, headings and dates (default en)")
    p.add_argument("--baseline", type=Path, default=None, metavar="OLD",
                   help="an earlier run of the same device (evidence JSON or pack): add what changed since it")
    p.set_defaults(func=run)


def source_of(path: Path, is_pack: bool) -> Source:
    """The digests a reader checks the report's evidence by: the JSON file's, or the archive's."""
    if path.is_dir():
        return Source(str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Source(str(path), archive_sha256=digest) if is_pack else Source(str(path), file_sha256=digest)


def _refused(path: Path, exc: PackInvalid) -> int:
    for problem in exc.verification.problems:
        print(f"FAIL {safe(problem, 400)}", file=sys.stderr)
    print(f"probe: {safe(path)}: the pack fails verification; no report written", file=sys.stderr)
    return EXIT_PACK_INVALID


def run(args: argparse.Namespace) -> int:
    try:
        doc, verification = load_evidence(args.source)
    except PackInvalid as exc:
        return _refused(args.source, exc)
    baseline = None
    if args.baseline is not None:
        from probe.commands.diff import Refused, build_diff

        try:
            baseline = build_diff(args.baseline, args.source).to_json()
        except Refused as exc:
            for problem in exc.problems:
                print(f"FAIL {safe(problem, 400)}", file=sys.stderr)
            print(f"probe: {safe(exc.source)}: fails verification; no report written", file=sys.stderr)
            return EXIT_PACK_INVALID
    fmt = resolve(args.format, args.out)
    source = source_of(args.source, verification is not None)
    text = render(fmt, doc, lang=args.lang, verification=verification, source=source, baseline=baseline)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.out, text.encode("utf-8"))
    return EXIT_OK
