"""`probe verify`: check an evidence pack's digests and signature, and say exactly what is wrong."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from probe.output.terminal import safe

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

HELP = """\
Verify an evidence pack (directory or .tar/.tar.gz archive): every file's SHA-256 and size
against manifest.json, no file missing and none unlisted, the manifest consistent with the
evidence, and the Ed25519 signature over the manifest. Give --key with the signer's public key
to check WHO signed it; without --key a valid signature is reported with its key fingerprint.

Each problem is one line: "changed: PATH", "missing file: PATH", "extra file not in manifest:
PATH", "manifest changed: ...", "bad signature: ...", "unknown key: ...", "unsigned: ...".
An unsigned pack without --key still has its digests checked and verifies, with a note that it
is unsigned; with --key an unsigned pack fails.

exit codes: 0 verified; 1 verification failed; 2 usage error (no such pack, unreadable key).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="verify an evidence pack's digests and signature",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pack", type=Path, metavar="PACK", help="pack directory or archive")
    p.add_argument("--key", type=Path, default=None, metavar="PUB",
                   help="the public key the pack must be signed with (from `probe keygen`)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs, not when its parser is built (`probe --help` builds them all)
    from probe.output.pack import verify_pack
    from probe.output.signing import load_public

    key = load_public(args.key) if args.key else None
    v = verify_pack(args.pack, key)
    for problem in v.problems:
        print(f"FAIL {safe(problem, 400)}")
    for note in v.notes:
        print(f"note {safe(note, 400)}")
    if v.ok:
        print(f"OK   {v.files_checked} file(s) match manifest.json" + ("" if v.signed else " (unsigned)"))
        return EXIT_OK
    print(f"verification FAILED: {len(v.problems)} problem(s)", file=sys.stderr)
    return EXIT_FAILED
