"""`probe keygen`: make an Ed25519 key pair for signing evidence packs."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = """\
Make an Ed25519 signing key pair: KEYBASE.key (private, PKCS#8 PEM, mode 0600) and KEYBASE.pub
(public, PEM). Sign packs with `probe run ... --pack DIR --sign KEYBASE.key` or
`probe pack EVIDENCE.json --out DIR --sign KEYBASE.key`; give KEYBASE.pub (or its fingerprint)
to whoever verifies them (`probe verify PACK --key KEYBASE.pub`).

exit codes: 0 written; 2 usage error (e.g. the files exist; --force replaces them).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keygen", help="make an Ed25519 key pair for signing evidence packs",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, metavar="KEYBASE",
                   help="writes KEYBASE.key and KEYBASE.pub")
    p.add_argument("--force", action="store_true", help="replace existing key files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs, not when its parser is built (`probe --help` builds them all)
    from probe.output.signing import keygen

    key, pub, fp = keygen(args.out, force=args.force)
    print(f"private key: {key} (keep it secret)\npublic key:  {pub}\nfingerprint: {fp}")
    return 0
