"""The `probe` command line.

Subcommands live in `probe/commands/`, one module each with `register(subparsers)`; this file
only discovers them and turns user mistakes into one-line errors with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import NoReturn

from probe import __version__
from probe.errors import UserError
from probe.output.terminal import safe

EPILOG = """\
typical use:
  probe plan --profile home-gateway --holding jc-star --apply-for cls
        what a JC-STAR-labelled gateway still has to evidence for a CLS label (no network)
  probe run --target 10.0.0.1 --profile home-gateway --holding jc-star --apply-for cls --out evidence.json
        scan the device, judge the gap-set clauses, write JSON evidence
  probe checks            list the check plugins and the clauses each evidences
  probe schema            print the JSON Schema of the evidence file
  probe keygen --out lab; probe run ... --pack gw.tar --sign lab.key; probe verify gw.tar --key lab.pub
        signed evidence pack for a certification body (docs/evidence-pack.md)
  probe report gw.tar --format html|markdown|sarif|junit|dossier [--lang ja] --out FILE
        reports from saved evidence, no rescan; dossier: the simplified-application dossier
  probe diff before.tar after.tar
        what changed between two runs; exit 1 if anything got worse (0 no, 3 a pack fails verification)

exit codes of `probe run`: 0 no FAIL/INCONCLUSIVE, 1 some clause FAIL, 2 usage error,
3 could not complete (unreachable, interrupted, --max-time), 4 some clause INCONCLUSIVE.
docs: README.md, docs/verdicts.md, docs/evidence.md, docs/evidence-pack.md, docs/diff.md, docs/dossier.md,
docs/declared-observed.md, docs/japanese.md
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, like every other user error
        self.exit(2, f"probe: error: {message} (see `{self.prog} --help`)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand; or, when `argv` names one subcommand (the module of the
    same name), with that one only: each command module imports what it needs (the lab manager,
    report templates, pack signing...), and `probe run` should not pay for the others' imports
    on every start (start-up counts in every per-service timing)."""
    parser = _Parser(prog="probe", description="Collect device-side compliance evidence for IoT products "
                     "(JC-STAR ★1, Singapore CLS Level 1, UK PSTI) over the network.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"probe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    import probe.commands as commands

    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))
    wanted = next((a for a in argv or [] if not a.startswith("-")), None)
    for name in ([wanted] if wanted in names else names):
        module = importlib.import_module(f"probe.commands.{name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser(sys.argv[1:] if argv is None else argv)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args))
    except UserError as exc:
        # user errors may quote file contents or names from a targets file: never let them drive the terminal
        print(f"probe: error: {safe(exc, 600)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("probe: interrupted", file=sys.stderr)
        return 3
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
