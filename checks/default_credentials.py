"""default_credentials: does any login service accept a publicly known default credential?

Bounded: exactly the ctx.options.credentials.budget_for(protocol) best-ranked pairs per service
(planned_pairs), whatever the thread timing, most likely first; the ranking puts the device's own
maker's and product's defaults first (probe.services.credential_ranking). By default a
service's trials stop at its first accepted credential: one proven default login is all the FAIL
needs, and every further failed login costs the device (and the scan) the seconds of delay devices
put on failures. With credential_scope "accounts" the other accounts are still tried, each until
its own first success, to list every account with a default password. SNMP communities are always
all tried: the list is short, answers are instant, and a write community is a different finding
from a read one; they go in one burst per version with one shared wait (ServiceLogin.
attempt_snmp_burst), since an agent's only "no" is silence and waiting it out once per community
cost seconds each. Up to PARALLEL_TRIALS attempts run at once (as hydra -t 4), inside the device's
connection cap, each worker taking the best-ranked pending pair: with the default scope any pair,
since the first proven login ends the service; with "accounts" the best pair of an account no
other worker is trying, since a proven account's later pairs are moot (each account's candidates
strictly in order). With ctx.options.credentials.delay everything is sequential, and a device that
drops connections narrows the trials to one. PASS
needs proof that the service really asked for credentials and rejected every one tried; a
short lockout the device announces (429 with Retry-After) is waited out, boundedly (run_trials);
a service that needs no login at all is NOT_APPLICABLE here (unauthenticated_access reports it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from probe.context import ServiceContext
from probe.models import Finding, InconclusiveReason, Status
from probe.options import CredentialScope
from probe.plugins import ServiceCheck
from probe.protocols import snmp
from probe.services import credential_ranking
from probe.services.credentials import Credential
from probe.services.logins import Attempt, Result, ServiceLogin, admin_paths

MAX_LOCKOUT_WAITS = 2  # pauses a throttling device may impose on one service's trials
MAX_LOCKOUT_WAIT = 60.0  # seconds: a longer pause is not waited out (the trials stop, INCONCLUSIVE)
MAX_CONSECUTIVE_CONNECTIVITY = 2  # dropped connections in a row, at one connection at a time, that stop the trials
MAX_CONNECTIVITY_RETRIES = 3  # dropped connections per service met by a pause and a retry of the same pair
CONNECTIVITY_BACKOFF = 1.0  # seconds before the first retry; doubles with each further one
MAX_CONSECUTIVE_UNKNOWN = 3  # answers neither a rejection nor a login, in a row
PARALLEL_TRIALS = 4  # attempts at once on one service (as hydra -t 4); the device cap still holds
STOPPERS = (Result.NO_AUTH, Result.UNSUPPORTED, Result.LOCKED, Result.NO_PASSWORD)


def every_account(ctx: ServiceContext) -> bool:
    """Keep trying other accounts after a success? (see the module docstring for why SNMP always does)"""
    return ctx.options.credentials.scope is CredentialScope.ACCOUNTS or ctx.service.protocol == "snmp"


def _pair(cred: Credential) -> dict[str, str]:
    """A planned pair as the evidence shows it (the operator's own passwords redacted, as in attempts),
    with the list it came from and, when the device's fingerprint moved it forward, why."""
    out = {"username": cred.username, "password": "<redacted>" if cred.secret else cred.password,
           "source": "operator file" if cred.secret else cred.source}
    if cred.selected_by:
        out["selected_by"] = cred.selected_by
    return out


def _account(protocol: str, cred: Credential) -> str:
    return cred.password if protocol == "snmp" else cred.username  # a community is its own account


def _wait_allowed(ctx: ServiceContext, seconds: float) -> bool:
    """A lockout pause is waited out only when the run's time budget leaves room for it and more."""
    deadline = ctx.session.clock.deadline
    return deadline is None or deadline - time.monotonic() > seconds + 15.0


def planned_pairs(creds: list[Credential], budget: int) -> list[Credential]:
    """The pairs a service's trials may use: exactly the `budget` best-ranked ones, whatever the timing.

    Which pairs are tried must not depend on thread scheduling (a camera whose admin password is
    empty must be found in every run, not in four runs of five), so the budget selects a fixed
    prefix of the ranked list up front; parallel workers only decide the order of the work inside
    it. A pair made moot by a success on its account is skipped, never replaced by a lower one.
    """
    return list(creds[:max(0, budget)])


def run_trials(ctx: ServiceContext, login: ServiceLogin, creds: list[Credential],
               budget: int, waits: list[dict[str, object]] | None = None,
               retries: list[dict[str, object]] | None = None) -> tuple[list[Attempt], Attempt | None]:
    """Try the planned pairs; returns the attempts (in rank order) and the answer that stopped them, if any.

    The pairs are `planned_pairs(creds, budget)`. Up to PARALLEL_TRIALS workers take the
    best-ranked pending pair. When every account is wanted (`every_account`) that is the best pair
    of an account no other worker is trying, so an account's candidates go strictly in order and
    an account stops at its first success. Otherwise the first success stops the whole service, so
    an account's pairs need not wait for each other: workers take any pending pair, attempts in
    flight finish and are recorded, and the attempts are a rank-order prefix of the plan (a pair
    is taken only after every better-ranked one; only a pair refused by a lockout pause or a
    dropped connection, which goes back to be tried again, can be left out by a success meanwhile),
    so the best-ranked accepted pair among them is the one a one-by-one run would have found. The
    whole service stops at an answer that makes further tries pointless (no login asked,
    unsupported, locked out, no password login), or when the device keeps answering nonsense.

    A device that throttles (HTTP 429/423/503) and says for how long (Retry-After, or a pause
    stated in the page) of at most MAX_LOCKOUT_WAIT seconds is waited out, at most
    MAX_LOCKOUT_WAITS times per service and only when the run's time budget allows: every worker
    pauses and the refused pair is tried again (it tested no password). Each pause is in `waits`.

    A device that drops or refuses a connection (embedded servers cap unauthenticated clients per
    address, e.g. dropbear at 5) is met the way a careful client meets it: the trials narrow to one
    connection at a time, pause (CONNECTIVITY_BACKOFF, doubling) and try the same pair again, at most
    MAX_CONNECTIVITY_RETRIES times per service (each in `retries`); after that, or after
    MAX_CONSECUTIVE_CONNECTIVITY failures in a row at one connection, the trials stop. A stall (a
    lone connection held a whole --timeout without an answer) is not retried: it counts towards
    that stop at once, so a silent service costs two timeouts, not four plus the pauses.
    """
    waits = waits if waits is not None else []
    retries = retries if retries is not None else []
    protocol = ctx.service.protocol
    plan = planned_pairs(creds, budget)
    if protocol == "snmp" and ctx.options.credentials.delay <= 0:
        # silence is a v1/v2c agent's only "no": every community goes in one burst with one shared
        # wait instead of one wait each (the operator's --credential-delay keeps them one by one)
        ctx.check_cancelled()
        return login.attempt_snmp_burst(plan), None
    lock = threading.Lock()
    pending = list(range(len(plan)))  # indexes into plan, best-ranked first
    busy: set[str] = set()  # accounts a worker is trying right now
    done: set[str] = set()  # accounts with a proven login (their remaining pairs are moot)
    results: dict[int, Attempt] = {}
    state = {"conn": 0, "unknown": 0, "narrow": False, "sent": 0, "inflight": 0}
    pause = {"until": 0.0}  # monotonic time before which no worker sends an attempt
    stop: list[Attempt] = []
    delay = ctx.options.credentials.delay
    all_accounts = every_account(ctx)
    found: list[Attempt] = []

    # The first attempt runs alone: only when it is an ordinary answer (accepted or rejected) do
    # more workers join in, so a device that stalls or babbles is met by one connection at a time.
    warm = threading.Event()
    solo: list[bool] = []

    def worker(first: bool) -> None:
        if not first:
            while not warm.wait(0.2):
                ctx.check_cancelled()
            if solo:
                return
        try:
            _work(first)
        finally:
            warm.set()  # whatever happened to the first worker, the others stop waiting

    def _paused(a: Attempt) -> bool:
        """Under the lock: is this refusal a lockout to wait out? Starts (or joins) the pause if so."""
        seconds = a.extra.get("retry_after")
        if a.result is not Result.LOCKED or not isinstance(seconds, (int, float)) or seconds > MAX_LOCKOUT_WAIT:
            return False
        now = time.monotonic()
        if now < pause["until"]:
            return True  # another worker's attempt met the same lockout: its pause covers this one
        if len(waits) >= MAX_LOCKOUT_WAITS or not _wait_allowed(ctx, seconds):
            return False
        pause["until"] = now + seconds + 1.0
        waits.append({"after_attempts": len(results), "status": a.extra.get("status"), "retry_after_s": seconds,
                      "waited_s": round(seconds + 1.0, 1), "refused": a.credential.label(), "detail": a.detail})
        return True

    def _backed_off(a: Attempt) -> bool:
        """Under the lock: a dropped connection, met by narrowing to one connection and a pause."""
        if a.result is not Result.CONNECTIVITY or len(retries) >= MAX_CONNECTIVITY_RETRIES:
            return False
        if a.extra.get("stalled") and (state["narrow"] or solo or not warm.is_set() or parallel == 1):
            # a device that held a lone connection a whole timeout without answering is not capping
            # connections: a pause and the same pair again would only wait the timeout out again.
            # (Stalls among parallel attempts may be a server serving one client at a time: those
            # narrow to one connection and retry like a dropped connection.)
            return False
        seconds = CONNECTIVITY_BACKOFF * 2 ** len(retries)
        if not _wait_allowed(ctx, seconds):
            return False
        state["narrow"] = True
        pause["until"] = max(pause["until"], time.monotonic() + seconds)
        retries.append({"after_attempts": len(results), "pair": a.credential.label(), "detail": a.detail,
                        "waited_s": seconds})
        return True

    def _take(first: bool) -> int | None:
        """Under the lock: the best-ranked pending pair whose account is free, or None when done."""
        if stop or found:
            return None
        if state["narrow"] and not first:
            return None  # narrowed to one connection: the first worker carries on alone
        for n, i in enumerate(pending):
            account = _account(protocol, plan[i])
            if account in done:
                continue
            if account not in busy or not all_accounts:
                del pending[n]
                busy.add(account)
                return i
        if any(_account(protocol, plan[i]) not in done for i in pending):
            return -1
        # nothing left to take, but a pair in flight may come back (a dropped connection is tried
        # again after narrowing to one connection, by this first worker): it stays until none is out
        return -1 if first and state["inflight"] else None

    def _work(first: bool) -> None:
        while True:
            with lock:
                i = _take(first)
                state["sent"] += 0 if i is None or i < 0 else 1
                state["inflight"] += 0 if i is None or i < 0 else 1
                later = state["sent"] > 1
                wait = pause["until"] - time.monotonic()
                # how long this account's chain still is (this pair included; without per-account
                # order, the service's): the device's slots go to the longest chains first, across
                # every service (DeviceLimiter.priority)
                chain = 1 + sum(1 for j in pending if i is not None and i >= 0 and (
                    not all_accounts or _account(protocol, plan[j]) == _account(protocol, plan[i])))
            if i is None:
                return
            if i < 0:  # every pending pair's account is busy with another worker: wait for one
                _sleep(ctx, 0.05)
                continue
            cred = plan[i]
            account = _account(protocol, cred)
            ctx.check_cancelled()
            if wait > 0:
                _sleep(ctx, wait)
            if later and delay > 0:
                _sleep(ctx, delay)
            try:
                with ctx.limiter.priority(chain):
                    a = login.attempt(cred)
            except BaseException:
                solo.append(True)
                with lock:
                    busy.discard(account)
                    state["inflight"] -= 1
                raise
            with lock:
                busy.discard(account)
                state["inflight"] -= 1
                if _paused(a) or _backed_off(a):
                    pending.insert(0, i)  # not evaluated: the same pair again after the pause
                    pending.sort()
                    continue
                results[i] = a
                if not warm.is_set():
                    if a.result not in (Result.SUCCESS, Result.FAILURE):
                        solo.append(True)
                    warm.set()
                state["conn"] = state["conn"] + 1 if a.result is Result.CONNECTIVITY else 0
                state["unknown"] = state["unknown"] + 1 if a.result is Result.UNKNOWN else 0
                if a.result in STOPPERS or state["conn"] >= MAX_CONSECUTIVE_CONNECTIVITY \
                        or state["unknown"] >= MAX_CONSECUTIVE_UNKNOWN:
                    stop.append(a)  # a device that stalls or babbles after the prompt won't start making sense
                    return
                if a.result is Result.SUCCESS:
                    done.add(account)
                    if not all_accounts:
                        found.append(a)  # the FAIL is proven: no more logins on this service

    lanes = len({_account(protocol, c) for c in plan}) if all_accounts else len(plan)
    parallel = 1 if delay > 0 else max(1, min(PARALLEL_TRIALS, ctx.options.safety.max_connections, lanes or 1))
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for fut in [pool.submit(worker, i == 0) for i in range(parallel)]:
            fut.result()  # re-raises Cancelled and errors in this thread
    return [results[i] for i in sorted(results)], (stop[0] if stop else None)


def _sleep(ctx: ServiceContext, seconds: float) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ctx.check_cancelled()
        time.sleep(min(left, 0.2))


class DefaultCredentials(ServiceCheck):
    check_id = "default_credentials"

    def run_service(self, ctx: ServiceContext) -> Iterable[Finding]:
        svc = ctx.service
        if not ctx.options.credentials.enabled:
            yield ctx.inconclusive("Default credentials were not tried: the operator did not allow credential "
                                   "attempts.", "credential attempts are disabled for this run",
                                   InconclusiveReason.NOT_OPTED_IN)
            return
        login = ServiceLogin(ctx, svc)
        try:
            login.prepare(admin_paths())
        except (OSError, ValueError) as exc:
            preflight = ctx.artefact("transcript", f"{svc.protocol} preflight", login.preflight.render())
            yield ctx.inconclusive(f"Could not reach the {svc.protocol} service to find its login.", str(exc),
                                   InconclusiveReason.CONNECTIVITY, artefacts=[preflight])
            return
        pre_id = ctx.artefact("transcript", f"{svc.protocol} login discovery", login.preflight.render()) \
            if login.preflight.events else None
        pre = [pre_id] if pre_id else []
        if login.throttled:
            yield ctx.inconclusive("The device throttled the search for its login page.", login.throttled,
                                   InconclusiveReason.CONNECTIVITY, artefacts=pre)
            return
        if login.requires_auth is False:
            yield self._no_login(ctx, login, pre)
            return
        if login.no_password:
            yield ctx.finding(Status.NOT_APPLICABLE, "No password login offered",
                              f"The {svc.protocol} service on port {svc.port} offers no password login.",
                              reason=login.no_password, artefacts=pre)
            return
        if svc.protocol in ("mqtt", "mqtts") and login.requires_auth is None:
            yield ctx.inconclusive("Could not connect to the MQTT broker.", "the anonymous CONNECT got no CONNACK",
                                   InconclusiveReason.CONNECTIVITY, artefacts=pre)
            return

        # the device's own maker's and product's pairs first (nmap's fingerprint paths asked only
        # where a web login was found and the device did not throttle the search for it)
        ranking = credential_ranking.candidates(ctx, login.pages, ask_paths=bool(login.requires_auth))
        creds = ranking.candidates
        budget = max(0, ctx.options.credentials.budget_for(svc.protocol))
        waits: list[dict[str, object]] = []
        retries: list[dict[str, object]] = []
        attempts, stop = run_trials(ctx, login, creds, budget, waits, retries)

        # one transcript per exchange: a burst's attempts (SNMP) share theirs, kept once
        log = "\n".join(t.text() for t in {id(a.transcript): a.transcript for a in attempts}.values())
        cap = max(1024, ctx.options.safety.max_read_bytes)  # per service, whatever a flood sent per attempt
        if len(log) > cap:
            log = log[:cap - 100] + f"\n...[{len(log) - cap + 100} more characters of attempt transcripts not kept]"
        log_id = ctx.artefact("transcript", f"{svc.protocol} default-credential attempts", log) if attempts else None
        table = {"service": svc.key(), "login": login.description, "budget": budget,
                 "candidates": len(creds), "attempts": [a.row() for a in attempts]}
        table_id = ctx.artefact("measurements", f"{svc.protocol} attempts table",
                                json.dumps(table, indent=2), media_type="application/json")
        base = pre + ([log_id] if log_id else []) + [table_id]
        scope = "accounts" if every_account(ctx) else "first"
        details = {"login": login.description, "attempts": len(attempts), "budget": budget,
                   "candidates": len(creds), "planned": [_pair(c) for c in planned_pairs(creds, budget)],
                   "scope": scope, "lockout_waits": waits, "connection_retries": retries}
        if ranking.details:
            details["fingerprint"] = ranking.details
        if svc.protocol == "ssh":  # what the server's first answer to a 'none' request allowed (None: no answer)
            details["auth_methods"] = login.ssh_methods
        waited = (f" The device locked the client out {len(waits)} time(s) during the trials (" + "; ".join(
            f"HTTP {w['status']} after {w['after_attempts']} answered attempt(s), pause {w['retry_after_s']:.0f} s"
            for w in waits) + "); each pause was waited out and the refused pair tried again." if waits else "")
        if login.surface is not None:  # where the web login is, for anyone re-testing it by hand
            details["login_path"] = login.surface.path
            details["login_kind"] = login.surface.kind

        wins = [a for a in attempts if a.result is Result.SUCCESS]
        if wins:
            proof = [ctx.artefact("transcript", f"{svc.protocol} login as {a.credential.username!r} (proof)",
                                  a.transcript.render()) for a in wins]
            accounts = "; ".join(f"{a.shown()} ({a.detail})" for a in wins)
            what = "community" if svc.protocol == "snmp" else "credential"
            rest = "" if scope == "accounts" else (
                f" Trials stopped there after {len(attempts)} attempt(s); other accounts were not tried "
                "(--credential-scope accounts lists every account with a default password).")
            yield ctx.finding(Status.FAIL, f"Default {what} accepted",
                              f"The {login.description} on port {svc.port} accepted {len(wins)} publicly known "
                              f"default {what}(s): {accounts}.{rest}",
                              details={**details, "accepted": [a.row() for a in wins],
                                       "sources": sorted({a.credential.source for a in wins})},
                              artefacts=proof + base, severity="high")
            return
        if stop is not None and stop.result is Result.NO_AUTH:
            yield ctx.finding(Status.NOT_APPLICABLE, "No login asked",
                              f"The {svc.protocol} service on port {svc.port} gave access without asking for "
                              "credentials; that is reported by unauthenticated_access.",
                              reason="the service does not ask for credentials", details=details, artefacts=base)
            return
        if stop is not None and stop.result is Result.NO_PASSWORD:
            yield ctx.finding(Status.NOT_APPLICABLE, "No password login offered",
                              f"The {svc.protocol} service on port {svc.port} offers no password login, so no "
                              "default password can apply.", reason=login.no_password or stop.detail,
                              details=details, artefacts=base)
            return
        if stop is not None and stop.result is Result.UNSUPPORTED:
            reason = login.unsupported or stop.detail
            yield ctx.inconclusive(f"Default credentials could not be tried on {svc.protocol} port {svc.port}.",
                                   reason, InconclusiveReason.UNSUPPORTED, details=details, artefacts=base)
            return
        if stop is not None and stop.result is Result.LOCKED:
            why = ("" if stop.extra.get("retry_after") is None else
                   f" It asked for a pause of {stop.extra['retry_after']:.0f} s; at most {MAX_LOCKOUT_WAITS} pauses "
                   f"of up to {MAX_LOCKOUT_WAIT:.0f} s are waited out per service, within the run's time budget.")
            yield ctx.inconclusive(f"The device stopped evaluating logins after {len(attempts)} attempt(s); the "
                                   f"rest of the list was not tried.{why}{waited}",
                                   f"lock-out or refusal: {stop.detail}",
                                   InconclusiveReason.CONNECTIVITY, details=details, artefacts=base)
            return
        failures = [a for a in attempts if a.result is Result.FAILURE]
        asked = any(a.prompt_seen for a in failures) or bool(login.requires_auth)
        planned = len(planned_pairs(creds, budget))
        if attempts and len(failures) == len(attempts) and asked and len(attempts) < planned:
            # never a PASS on part of the plan: a pair that was never answered proves nothing
            yield ctx.inconclusive(f"Default credentials could not be fully tried on port {svc.port}.",
                                   f"only {len(attempts)} of the {planned} planned pairs got an answer (all "
                                   "rejected)", InconclusiveReason.CONNECTIVITY, details=details, artefacts=base)
            return
        if attempts and len(failures) == len(attempts) and asked:
            exhausted = "the whole list" if len(attempts) == len(creds) else f"the budget of {budget} attempts"
            if svc.protocol == "snmp" and login.snmp_engine is not None:
                yield self._snmp_pass(ctx, login.snmp_engine, len(attempts), exhausted, details, base)
                return
            yield ctx.finding(Status.PASS, "No default credential accepted",
                              f"The {login.description} on port {svc.port} asked for credentials and rejected all "
                              f"{len(attempts)} default credentials tried ({exhausted}, most likely first).{waited}",
                              details=details, artefacts=base)
            return
        if not attempts:
            yield ctx.inconclusive("No default credential was tried.", "the credential budget is 0 or the list is "
                                   "empty for this service", InconclusiveReason.NO_INPUT, details=details,
                                   artefacts=base)
            return
        conn = [a for a in attempts if a.result is Result.CONNECTIVITY]
        if conn:
            yield ctx.inconclusive(f"Default credentials could not be fully tried on port {svc.port}.",
                                   f"{len(conn)} attempt(s) failed to connect or were cut off: {conn[-1].detail}",
                                   InconclusiveReason.CONNECTIVITY, details=details, artefacts=base)
            return
        if svc.protocol == "snmp" and not login.requires_auth:
            yield ctx.inconclusive("No SNMP community was answered, and the agent did not answer an SNMPv3 "
                                   "discovery either.", "no SNMP agent answered at all",
                                   InconclusiveReason.CONNECTIVITY, details=details, artefacts=base)
            return
        odd = [a for a in attempts if a.result is not Result.FAILURE]
        yield ctx.inconclusive(f"The answers to login attempts on port {svc.port} could not be classified.",
                               f"{len(odd)} answer(s) were neither a clear rejection nor a proven login: "
                               f"{odd[-1].detail}", InconclusiveReason.DEVICE_MISBEHAVED, details=details,
                               artefacts=base)

    @staticmethod
    def _snmp_pass(ctx: ServiceContext, engine: snmp.EngineReport, tried: int, exhausted: str,
                   details: dict[str, object], base: list[str]) -> Finding:
        """Silence is the only "no" a v1/v2c agent gives: it counts as a rejection only because the
        agent was proven to be listening (its SNMPv3 Report, in the login-discovery transcript)."""
        port = ctx.service.port
        return ctx.finding(
            Status.PASS, "No default SNMP community accepted",
            f"The SNMP agent on udp/{port} is listening: it answered an SNMPv3 engine-discovery request with a "
            f"Report ({engine.describe()}; transcript in the login-discovery artefact). None of the {tried} default "
            f"communities tried ({exhausted}) got an answer to GET sysDescr.0 over v2c or v1: SNMP v1/v2c agents "
            "drop a request with a community they do not know without answering, so a live agent's silence is "
            "its rejection.",
            details={**details, "agent_proof": "SNMPv3 engine-discovery Report",
                     "snmpv3_engine_id": engine.engine_id.hex(), "snmpv3_report": engine.report},
            artefacts=base)

    def _no_login(self, ctx: ServiceContext, login: ServiceLogin, pre: list[str]) -> Finding:
        svc = ctx.service
        if svc.protocol in ("http", "https"):
            bodies = b"".join(getattr(r, "body", b"") for r in login.pages.values())
            if not login.pages:
                return ctx.inconclusive("No page could be fetched.", "every HTTP request failed",
                                        InconclusiveReason.CONNECTIVITY, artefacts=pre)
            if all(getattr(r, "truncated", False) for r in login.pages.values()):
                # no page ever ended: a login form past our read cap cannot be ruled out
                return ctx.inconclusive("The web service never finished a response.",
                                        f"device misbehaved: all {len(login.pages)} responses were cut at the "
                                        "read cap (endless or oversized bodies)",
                                        InconclusiveReason.DEVICE_MISBEHAVED, artefacts=pre)
            lowered = bodies.lower()
            if b"<script" in lowered and (b"login" in lowered or b"password" in lowered):
                return ctx.inconclusive(
                    "The web interface seems to log in through scripts, which probe cannot drive.",
                    f"no HTTP Basic/Digest challenge or HTML login form at {len(login.pages)} probed paths, but "
                    "the pages mention a login and use scripts", InconclusiveReason.UNSUPPORTED, artefacts=pre)
            return ctx.finding(Status.NOT_APPLICABLE, "No HTTP login found",
                               f"None of {len(login.pages)} probed paths asked for credentials (no 401 challenge, "
                               "no login form); open pages are judged by unauthenticated_access.",
                               reason="the web service asks for no credentials at the probed paths",
                               artefacts=pre)
        return ctx.finding(Status.NOT_APPLICABLE, "No login asked",
                           f"The {svc.protocol} service on port {svc.port} accepts clients without credentials; "
                           "unauthenticated_access reports that.",
                           reason="the service does not require credentials", artefacts=pre)
