"""Terminal output: progress on stderr and the closing clause table, safe for hostile strings."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from probe.protocols.netio import printable

_COLOURS = {"PASS": "32", "FAIL": "31", "INCONCLUSIVE": "33", "NOT_APPLICABLE": "36", "MANUAL": "35"}


def safe(text: Any, limit: int = 200) -> str:
    """Render any string for a terminal: escape sequences and control characters are shown, not obeyed."""
    return printable(str(text).encode("utf-8", "replace"), limit)


class Progress:
    """Progress on stderr: an updating line on a terminal, sparse plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        # sys.stderr as it is when the run starts, not when this module was imported (a caller
        # that redirects it, e.g. a test capturing output, must get the progress too)
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self._last = 0.0

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        if self.quiet:
            return
        host = data.get("host", "")
        if event in ("sweep", "identify", "check"):
            now = time.monotonic()
            final = data["done"] == data["total"]
            if not final and now - self._last < (0.2 if self.tty else 5.0):
                return
            self._last = now
            label = {"sweep": "port sweep", "identify": "identifying services", "check": "checks"}[event]
            line = f"{host}: {label} {data['done']}/{data['total']}"
            if self.tty:
                self.stream.write("\r\x1b[K" + line)
                if final:
                    self.stream.write("\n")
            else:
                self.stream.write(line + "\n")
        elif event == "discovered":
            svcs = data["services"]
            self.stream.write(f"{host}: {len(svcs)} service(s): {safe(', '.join(svcs), 400)}\n")
        elif event == "target-start":
            self.stream.write(f"{host}: scanning\n")
        self.stream.flush()


def clause_table(doc: dict[str, Any], stream: TextIO | None = None, colour: bool | None = None) -> None:
    stream = stream if stream is not None else sys.stdout
    colour = stream.isatty() if colour is None else colour
    clauses = doc["clauses"]
    multi = len(doc["targets"]) > 1
    width = max((len(c["id"]) for c in clauses), default=8)
    for c in clauses:
        v = c["verdict"]
        shown = f"\x1b[{_COLOURS[v]}m{v:<14}\x1b[0m" if colour else f"{v:<14}"
        where = f"{c['target']}  " if multi else ""
        basis = c["basis"]
        print(f"{where}{c['id']:<{width}}  {shown} {basis:<8} {safe(c['reason'], 110)}", file=stream)
    s = doc["summary"]
    print(f"\nPASS {s['PASS']}  FAIL {s['FAIL']}  INCONCLUSIVE {s['INCONCLUSIVE']}  "
          f"NOT_APPLICABLE {s['NOT_APPLICABLE']}  MANUAL {s['MANUAL']}"
          + ("" if doc["run"]["complete"]
             else "   (INCOMPLETE: " + safe("; ".join(doc["run"]["incomplete_reasons"]), 200) + ")"),
          file=stream)
