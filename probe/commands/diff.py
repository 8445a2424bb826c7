"""`probe diff OLD NEW`: what changed between two runs, and whether anything got worse."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from probe.errors import UserError
from probe.output.diff import (
    BETTER,
    EXIT_REFUSED,
    UNCHANGED,
    UNTESTED,
    WORSE,
    ClauseChange,
    Diff,
    FindingChange,
    artefact_problems,
    compare,
    run_info,
)
from probe.output.pack import PackInvalid, Verification, is_archive, load_evidence
from probe.output.terminal import safe

HELP = """\
Compare two runs of the same device (evidence JSON files from `probe run --out`, or evidence
packs): per clause the verdict before -> after and the findings it rests on that appeared,
disappeared or changed; every finding whose status changed; per service the ports opened or
closed and changed protocol, product, version, banner, TLS certificate and roles. Nothing is
rescanned. Findings are matched by check, host, port/transport and what the check says a finding
is about (e.g. the update URL), never by finding id (docs/diff.md).

A pack is verified (every digest, and the signature with --key) before it is compared; a pack
that fails verification is refused. An evidence JSON is checked against the evidence schema and
its artefacts against their sha256.

"got worse" (exit 1): a new FAIL (a clause or finding that is FAIL now and was not), or a PASS
lost (PASS before; FAIL, INCONCLUSIVE or MANUAL now). FAIL -> INCONCLUSIVE is not "better": the
failure is not proven fixed (exit 4 when nothing got worse). docs/diff.md lists every transition.

examples:
  probe diff before.json after.json
  probe diff fw-1.0.tar fw-1.1.tar --key lab.pub --json > changes.json
  probe diff released.tar candidate.json || echo "firmware candidate is worse: do not ship"

exit codes: 0 nothing got worse; 1 something got worse (a new FAIL or a PASS lost); 2 usage error
(unreadable file, not evidence, --key with an evidence JSON); 3 refused: a pack fails verification
or an evidence JSON's artefacts do not match their digests (problems listed on stderr); 4 nothing
got worse, but something decided before is INCONCLUSIVE now, or the new run did not complete.
"""

MAX_LINES = 200  # per section of the text view; --json has everything


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="compare two runs: changed clauses, findings, services; exit 1 if worse",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old", type=Path, metavar="OLD", help="the earlier run: evidence JSON or pack")
    p.add_argument("new", type=Path, metavar="NEW", help="the later run: evidence JSON or pack")
    p.add_argument("--key", type=Path, default=None, metavar="PUB",
                   help="public key both packs must be signed with (from `probe keygen`); evidence JSON refused")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON (format probe-diff 1)")
    p.add_argument("--all", action="store_true", help="also list the clauses that did not change")
    p.set_defaults(func=run)


class Refused(Exception):
    """An input that fails verification: listed, then exit 3."""

    def __init__(self, source: Path, problems: list[str]) -> None:
        super().__init__(f"{source}: refused")
        self.source = source
        self.problems = problems


def integrity_text(source: Path, verification: Verification | None) -> str:
    if verification is None:
        return "evidence JSON (not a pack): schema-valid, artefact digests match; no signature"
    if verification.signer:
        return f"pack verified ({verification.files_checked} files), signed by key {verification.signer}"
    return f"pack verified ({verification.files_checked} files), unsigned"


def load_side(source: Path, key_path: Path | None) -> tuple[dict[str, Any], str]:
    """The evidence of one side, verified; Refused when a pack or the artefacts do not verify."""
    is_pack = source.is_dir() or is_archive(source)
    if key_path is not None and not is_pack:
        raise UserError(f"--key: {source} is an evidence JSON, which carries no signature; compare packs")
    from probe.output.signing import load_public  # cryptography only when a pack is compared

    key = load_public(key_path) if key_path else None
    try:
        doc, verification = load_evidence(source, key)
    except PackInvalid as exc:
        raise Refused(source, list(exc.verification.problems)) from None
    if verification is None:
        problems = artefact_problems(doc)
        if problems:
            raise Refused(source, problems)
    return doc, integrity_text(source, verification)


def key_fields(check_id: str) -> tuple[str, ...]:
    from probe.plugins import registry  # the check registry only when a diff is built

    reg = registry()
    return tuple(reg.metadata(check_id).finding_key) if check_id in reg else ()


def build_diff(old_path: Path, new_path: Path, key_path: Path | None = None) -> Diff:
    old, old_integrity = load_side(old_path, key_path)
    new, new_integrity = load_side(new_path, key_path)
    return compare(old, new, key_fields, old_info=run_info(old, str(old_path), old_integrity),
                   new_info=run_info(new, str(new_path), new_integrity))


_MARK = {WORSE: "WORSE", BETTER: "better", UNTESTED: "untested", "changed": "changed", UNCHANGED: ""}


def _finding_line(f: FindingChange) -> str:
    b = f.before.status if f.before else "(none)"
    a = f.after.status if f.after else "(none)"
    what = (f.after or f.before)
    title = f" — {safe(what.title, 120)}" if what else ""
    return f"{_MARK[f.cls]:<8} {safe(f.key.text(), 300)}: {b} -> {a}{title}"


def _clause_line(c: ClauseChange, width: int) -> str:
    b, a = c.before or "(not assessed)", c.after or "(not assessed)"
    if c.cls == UNCHANGED:
        why = "verdict unchanged; findings changed" if c.findings else "unchanged"
        return f"  {c.id:<{width}}  {b:>14} == {a:<14} {'':<8} {why}"
    return f"  {c.id:<{width}}  {b:>14} -> {a:<14} {_MARK[c.cls]:<8} {safe(c.why, 200)}"


def text_view(d: Diff, show_all: bool = False) -> list[str]:
    out = [f"old: {safe(d.old.source, 300)}  run {safe(d.old.run_id, 80)} ({safe(d.old.started, 40)}), "
           f"{safe(', '.join(d.old.targets), 200)}; {safe(d.old.integrity, 200)}",
           f"new: {safe(d.new.source, 300)}  run {safe(d.new.run_id, 80)} ({safe(d.new.started, 40)}), "
           f"{safe(', '.join(d.new.targets), 200)}; {safe(d.new.integrity, 200)}"]
    out += [f"note: {safe(n, 400)}" for n in d.notes]
    multi = len(set(d.new.targets) | set(d.old.targets)) > 1
    shown = [c for c in d.clauses if show_all or c.moved]
    verdicts = sum(1 for c in d.clauses if c.cls != UNCHANGED)
    out += ["", f"clauses: {verdicts} verdict(s) changed, {len(d.changed_clauses()) - verdicts} more with changed "
                f"findings, {len(d.clauses) - len(d.changed_clauses())} unchanged"]
    width = max((len(c.id) for c in shown), default=10)
    for c in shown[:MAX_LINES]:
        out.append(_clause_line(c, width) + (f" @ {safe(c.target, 80)}" if multi else ""))
        for f in c.findings:
            out.append(f"      {_finding_line(f)}")
    if len(shown) > MAX_LINES:
        out.append(f"  … {len(shown) - MAX_LINES} more (use --json)")
    changed = d.changed_findings()
    out += ["", f"findings: {len(changed)} appeared, disappeared or changed status; "
                f"{len(d.findings) - len(changed)} unchanged"]
    for f in changed[:MAX_LINES]:
        out.append(f"  {_finding_line(f)}")
    if len(changed) > MAX_LINES:
        out.append(f"  … {len(changed) - MAX_LINES} more (use --json)")
    out += ["", f"services: {len(d.services)} opened, closed or changed"]
    for s in d.services[:MAX_LINES]:
        if s.change == "changed":
            what = "; ".join(f"{n}: {safe(json.dumps(b, ensure_ascii=False), 120)} -> "
                             f"{safe(json.dumps(a, ensure_ascii=False), 120)}" for n, b, a in s.fields)
            out.append(f"  changed {safe(s.key, 100)}: {what}")
        else:
            st = s.after or s.before
            out.append(f"  {s.change:<7} {safe(s.key, 100)} {safe(st.protocol if st else '', 40)}")
    code = d.exit_code()
    out.append("")
    if d.worse():
        out.append(f"result: WORSE (exit {code}): {len(d.worse())} reason(s)")
        out += [f"  {safe(w, 400)}" for w in d.worse()[:MAX_LINES]]
    elif d.untested():
        out.append(f"result: nothing got worse, but less was tested (exit {code})")
        out += [f"  {safe(w, 400)}" for w in d.untested()[:MAX_LINES]]
    else:
        out.append(f"result: nothing got worse (exit {code})")
    return out


def run(args: argparse.Namespace) -> int:
    try:
        d = build_diff(args.old, args.new, args.key)
    except Refused as exc:
        for problem in exc.problems:
            print(f"FAIL {safe(problem, 400)}", file=sys.stderr)
        print(f"probe: {safe(exc.source, 300)}: fails verification; not compared", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(d.to_json(), indent=1, sort_keys=True, ensure_ascii=False))
    else:
        print("\n".join(text_view(d, args.all)))
    return d.exit_code()
