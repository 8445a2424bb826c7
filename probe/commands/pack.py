"""`probe pack`: turn an existing evidence JSON file into an evidence pack (optionally signed)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = """\
Write an evidence pack from an evidence file saved by `probe run`: the evidence JSON, every raw
artefact as its own file, manifest.json with the SHA-256 and size of each, and with --sign an
Ed25519 signature over the manifest (signature.json). OUT is a directory (created; must be empty
or absent) or, when it ends in .tar, .tar.gz or .tgz, a reproducible archive.
See docs/evidence-pack.md.

exit codes: 0 written; 2 usage error (unreadable or invalid evidence, bad key, OUT not usable).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pack", help="write a (signed) evidence pack from an evidence file",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("evidence", type=Path, metavar="EVIDENCE.json")
    p.add_argument("--out", type=Path, required=True, metavar="DIR|FILE.tar",
                   help="pack directory, or archive ending in .tar/.tar.gz/.tgz")
    p.add_argument("--sign", type=Path, default=None, metavar="KEY",
                   help="Ed25519 private key (from `probe keygen`) to sign the manifest with")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs, not when its parser is built (`probe --help` builds them all)
    from probe.output.pack import is_archive, load_evidence, write_pack
    from probe.output.signing import fingerprint, load_private

    key = load_private(args.sign) if args.sign else None
    doc, _ = load_evidence(args.evidence)
    out = write_pack(doc, args.out, key=key)
    kind = "archive" if is_archive(out) else "directory"
    signed = f", signed with key {fingerprint(key.public_key())}" if key else ", unsigned"
    print(f"pack ({kind}{signed}): {out}")
    return 0
