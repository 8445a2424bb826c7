"""run_trials' scheduling: which pairs run side by side, in which order, and when they stop.

A unit test of the scheduler alone (the login is a stand-in that records what it was asked and
holds a real connection slot of the session for a few milliseconds, so several attempts are in
flight together); whether a login is proven is tested against real daemons elsewhere
(test_auth_checks, test_credential_plan, tests/lab/test_credential_scope).
"""

from __future__ import annotations

import threading
import time

import pytest

from checks.default_credentials import PARALLEL_TRIALS, planned_pairs, run_trials
from probe.engine import make_context
from probe.models import Service
from probe.options import CredentialOptions, CredentialScope, SafetyOptions, ScanOptions
from probe.plugins import registry
from probe.protocols.transcript import Transcript
from probe.services.credentials import Credential
from probe.services.logins import Attempt, Result
from probe.session import TargetSession
from probe.store import EvidenceStore

HOST = "127.0.0.1"
ACCOUNTS = ("admin", "admin", "admin", "admin", "root", "admin", "admin", "user", "admin", "admin", "admin", "admin")


class _Login:
    """Answers FAILURE (or SUCCESS for `accept`) after `hold` seconds inside one connection slot."""

    def __init__(self, ctx, accept: set[int], hold: float = 0.03) -> None:  # type: ignore[no-untyped-def]
        self.ctx, self.accept, self.hold = ctx, accept, hold
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.most_per_account: dict[str, int] = {}
        self.order: list[int] = []

    def attempt(self, cred: Credential) -> Attempt:
        with self.ctx.slot():
            with self.lock:
                self.order.append(cred.rank)
                n = self.in_flight[cred.username] = self.in_flight.get(cred.username, 0) + 1
                self.most_per_account[cred.username] = max(self.most_per_account.get(cred.username, 0), n)
            time.sleep(self.hold)
            with self.lock:
                self.in_flight[cred.username] -= 1
        ok = cred.rank in self.accept
        return Attempt(cred, Result.SUCCESS if ok else Result.FAILURE, "in" if ok else "rejected", True,
                       self.hold, self.hold, Transcript("http", HOST, 80))


def _trials(scope: CredentialScope, accept: set[int], cap: int = 4) -> tuple[_Login, list[Attempt], TargetSession]:
    options = ScanOptions(safety=SafetyOptions(max_connections=cap), credentials=CredentialOptions(scope=scope))
    session = TargetSession(HOST, options, EvidenceStore())
    svc = Service(HOST, 80, "tcp", "http", "test")
    ctx = make_context(session, registry()["default_credentials"].metadata, svc, [svc])
    login = _Login(ctx, accept)
    creds = [Credential("http", user, f"pw{i}", "test", i) for i, user in enumerate(ACCOUNTS)]
    attempts, stop = run_trials(ctx, login, creds, len(creds))  # type: ignore[arg-type]
    assert stop is None
    return login, attempts, session


def test_first_scope_runs_an_accounts_pairs_side_by_side_and_stops_at_a_login() -> None:
    login, attempts, session = _trials(CredentialScope.FIRST, accept={9})
    assert login.most_per_account["admin"] >= 2  # no longer one admin pair after another
    ranks = [a.credential.rank for a in attempts]
    # a rank-order prefix of the plan: every pair better ranked than one tried was tried
    assert ranks == list(range(len(ranks)))
    assert 9 in ranks and len(ranks) <= 10 + PARALLEL_TRIALS - 1  # only attempts already in flight after it
    assert login.order[0] == 0  # the warm-up: the best-ranked pair alone first
    assert session.limiter.peak <= 4


def test_first_scope_without_a_login_tries_exactly_the_plan() -> None:
    login, attempts, session = _trials(CredentialScope.FIRST, accept=set(), cap=2)
    assert [a.credential.rank for a in attempts] == list(range(len(ACCOUNTS)))
    assert sorted(login.order) == list(range(len(ACCOUNTS)))  # each planned pair once
    assert session.limiter.peak <= 2


@pytest.mark.parametrize("accept", [set(), {5}])
def test_accounts_scope_keeps_each_accounts_pairs_in_order(accept: set[int]) -> None:
    login, attempts, _ = _trials(CredentialScope.ACCOUNTS, accept=accept)
    assert max(login.most_per_account.values()) == 1  # never two pairs of one account at once
    admin = [r for r in login.order if ACCOUNTS[r] == "admin"]
    assert admin == sorted(admin)
    if accept:  # admin proven at rank 5: its later pairs are moot, the other accounts still tried
        assert max(admin) == 5 and {"root", "user"} <= {a.credential.username for a in attempts}


def test_the_plan_is_unchanged() -> None:
    creds = [Credential("http", user, f"pw{i}", "test", i) for i, user in enumerate(ACCOUNTS)]
    assert planned_pairs(creds, 5) == creds[:5]


class _DropsOnce(_Login):
    """The last-ranked pair's first connection is dropped after a while (as dropbear drops a client
    past its unauthenticated-connection limit), when every other pair is already answered."""

    def __init__(self, ctx, accept: set[int], drop: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx, accept)
        self.drop, self.dropped = drop, False

    def attempt(self, cred: Credential) -> Attempt:
        if cred.rank == self.drop and not self.dropped:
            self.dropped = True
            with self.ctx.slot():
                time.sleep(0.3)  # the other workers run out of pairs meanwhile
            return Attempt(cred, Result.CONNECTIVITY, "connection reset", False, 0.3, 0.3,
                           Transcript("http", HOST, 80))
        return super().attempt(cred)


def test_a_dropped_pair_is_tried_again_even_when_the_rest_is_done() -> None:
    """Never a PASS on part of the plan: the pair whose connection dropped is tried again after the
    back-off, by the first worker, which stays while any pair is out (it used to leave when the list
    looked empty, and the dropped pair was silently never answered)."""
    options = ScanOptions(safety=SafetyOptions(max_connections=4), credentials=CredentialOptions())
    session = TargetSession(HOST, options, EvidenceStore())
    svc = Service(HOST, 80, "tcp", "http", "test")
    ctx = make_context(session, registry()["default_credentials"].metadata, svc, [svc])
    creds = [Credential("http", user, f"pw{i}", "test", i) for i, user in enumerate(ACCOUNTS)]
    login = _DropsOnce(ctx, set(), drop=len(creds) - 2)
    retries: list[dict[str, object]] = []
    attempts, stop = run_trials(ctx, login, creds, len(creds), retries=retries)  # type: ignore[arg-type]
    assert stop is None and login.dropped and len(retries) == 1
    assert [a.credential.rank for a in attempts] == list(range(len(creds)))  # every planned pair answered
    assert all(a.result is Result.FAILURE for a in attempts)
