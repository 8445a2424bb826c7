"""Exit codes of `probe run`, and the outcome of a saved evidence document.

One place, because the run command and every report must agree on a run's outcome: a report
rendered later from the evidence shows exactly the code `probe run` returned.
"""

from __future__ import annotations

from typing import Any

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INCONCLUSIVE = 0, 1, 2, 3, 4


def exit_code(doc: dict[str, Any]) -> int:
    """3 incomplete, else 1 any clause FAIL, else 4 any INCONCLUSIVE, else 0 (MANUAL is not a failure)."""
    if not doc["run"]["complete"]:
        return EXIT_INCOMPLETE
    verdicts = {c["verdict"] for c in doc["clauses"]}
    if "FAIL" in verdicts:
        return EXIT_FAIL
    if "INCONCLUSIVE" in verdicts:
        return EXIT_INCONCLUSIVE
    return EXIT_PASS
