"""default_credentials tries exactly the budget's best-ranked pairs, whatever the thread timing.

Issue 12 §2: with several accounts tried in parallel and one shared budget, which pairs fitted in
the budget used to depend on scheduling, so a camera's sixth admin password was found in some runs
and not in others. The plan is now fixed up front (planned_pairs); these tests run the real check
against lighttpd several times, idle and with the CPU busy, and compare what was tried.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterator

import pytest

from probe.models import Status
from probe.options import CredentialOptions
from probe.services.credentials import for_service
from tests.helpers.checks import check_service, one
from tests.helpers.daemons import LocalDaemons

BUDGET = 12
PASSWORD = "123456"  # admin/123456 is rank 12 of the built-in list: the sixth admin pair


def _spin(until: float) -> None:
    while time.monotonic() < until:
        pass


@pytest.fixture
def busy_cpu() -> Iterator[None]:
    """Two processes spinning (this machine has two cores) while the trials run."""
    until = time.monotonic() + 20.0
    procs = [multiprocessing.Process(target=_spin, args=(until,), daemon=True) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
            p.join(5)


Pair = tuple[str, str]


def _tried(port: int) -> tuple[Status, list[Pair], list[Pair]]:
    """(status, the pairs tried as the attempts table records them, the plan as the finding records it)."""
    f, store = check_service("default_credentials", port, "http", credentials=CredentialOptions(budget=BUDGET))
    f = one(f)
    table = next(json.loads(store.artefacts[a].data) for a in f.artefacts if store.artefacts[a].kind == "measurements")
    return (f.status, [(r["username"], r["password"]) for r in table["attempts"]],
            [(p["username"], p["password"]) for p in f.details["planned"]])


def test_plan_is_the_budgets_best_ranked_pairs() -> None:
    creds = for_service("http")
    from checks.default_credentials import planned_pairs  # the check module, as installed for tests

    assert planned_pairs(creds, BUDGET) == creds[:BUDGET]
    assert planned_pairs(creds, 0) == [] and planned_pairs(creds, 10_000) == creds
    assert ("admin", PASSWORD) in [(c.username, c.password) for c in creds[:BUDGET]]


def _runs(port: int, n: int) -> list[tuple[Status, list[Pair], list[Pair]]]:
    return [_tried(port) for _ in range(n)]


def test_the_same_pairs_in_every_run_idle(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_auth(password=PASSWORD)
    runs = _runs(port, 2)
    for status, tried, planned in runs:
        assert status is Status.FAIL  # the sixth admin pair is always within the plan, so always found
        assert set(tried) <= set(planned) and len(planned) == BUDGET
        assert ("admin", PASSWORD) in tried
    assert len({tuple(p) for _s, _t, p in runs}) == 1  # one plan


def test_the_same_pairs_in_every_run_under_load(daemons: LocalDaemons, busy_cpu: None) -> None:
    port = daemons.lighttpd_auth(password=PASSWORD)
    idle_plan = _tried(port)[2]
    for status, tried, planned in _runs(port, 1):
        assert status is Status.FAIL and planned == idle_plan and set(tried) <= set(planned)
