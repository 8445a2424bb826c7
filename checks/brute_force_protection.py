"""brute_force_protection: does a login service slow down or stop repeated wrong passwords?

Only with the operator's opt-in (ctx.options.credentials.brute_force): it can lock real accounts.
The series is bounded (ctx.options.credentials.brute_force_attempts, default 12, at most 30) and
uses a random wrong password for a plausible user, so it can never log in by accident. The
verdict rests on the measurements, which are attached as a JSON table:
- lock-out: after at least one ordinary rejection, the device refuses, closes, answers
  403/429/503 or says "locked";
- delay/back-off: the answer latency of the later attempts grows well above the first ones'
  (median of the last third >= 2x the first third's and at least 0.5 s more), or an answer
  stops arriving within the timeout after ordinary rejections.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable

from probe.context import ServiceContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import ServiceCheck
from probe.protocols.http_auth import AUTH_FAIL_STATUSES, random_password
from probe.services.credentials import Credential
from probe.services.logins import Attempt, Result, ServiceLogin, admin_paths

DEFAULT_ATTEMPTS = 12
MAX_ATTEMPTS = 30
USERS = {"ssh": "root", "telnet": "admin", "ftp": "admin", "http": "admin", "https": "admin", "mqtt": "admin"}


def analyse(attempts: list[Attempt], prior_rejection: bool = False) -> tuple[str | None, str]:
    """(defence kind or None, explanation) from the measured series.

    `prior_rejection`: the wrong-password control attempt made while preparing the login (HTTP)
    was an ordinary rejection, so it opens the series as attempt 0.
    """
    first_reject = -1 if prior_rejection else \
        next((i for i, a in enumerate(attempts) if a.result is Result.FAILURE), None)
    if first_reject is None:
        return None, "no attempt was an ordinary rejection"
    for i, a in enumerate(attempts[first_reject + 1:], start=first_reject + 1):
        if a.result in (Result.LOCKED, Result.CONNECTIVITY):
            return "lockout", f"attempt {i + 1} was refused after ordinary rejections: {a.detail}"
        if a.result is Result.UNKNOWN and a.answer_latency is not None:
            return "delay", f"attempt {i + 1} got no answer within the timeout ({a.answer_latency:.2f} s) " \
                            "after ordinary rejections"
    lat = [a.answer_latency if a.answer_latency is not None else a.elapsed for a in attempts]
    third = max(1, len(lat) // 3)
    early, late = statistics.median(lat[:third]), statistics.median(lat[-third:])
    if late >= 2 * early and late - early >= 0.5:
        return "delay", f"answer latency grew from a median of {early:.2f} s (first {third}) to {late:.2f} s " \
                        f"(last {third})"
    constant = (f"; every rejection took about {early:.2f} s, a constant per-attempt delay that neither grows nor "
                "stops guessing over parallel connections") if early >= 0.8 else ""
    return None, f"answer latency stayed flat (median {early:.2f} s first, {late:.2f} s last) and no attempt " \
                 f"was refused{constant}"


class BruteForceProtection(ServiceCheck):
    check_id = "brute_force_protection"

    def run_service(self, ctx: ServiceContext) -> Iterable[Finding]:
        svc = ctx.service
        if not ctx.options.credentials.brute_force:
            yield ctx.inconclusive("The repeated-failed-login test was not run.",
                                   "brute-force test not run: it needs the operator's opt-in "
                                   "(--allow-brute-force-test)", InconclusiveReason.NOT_OPTED_IN)
            return
        n = min(MAX_ATTEMPTS, max(3, ctx.options.credentials.brute_force_attempts))
        login = ServiceLogin(ctx, svc)
        try:
            login.prepare(admin_paths())
        except (OSError, ValueError) as exc:
            yield ctx.inconclusive("Could not reach the login service.", str(exc), InconclusiveReason.CONNECTIVITY)
            return
        if login.no_password:
            yield ctx.finding(Status.NOT_APPLICABLE, "No password login to guess",
                              f"The {svc.protocol} service on port {svc.port} offers no password login.",
                              reason=login.no_password)
            return
        if login.throttled:
            yield ctx.inconclusive("The device throttled the search for its login page.", login.throttled,
                                   InconclusiveReason.CONNECTIVITY)
            return
        if login.requires_auth is False and svc.protocol in ("http", "https") and not login.pages:
            yield ctx.inconclusive("No page could be fetched.", "every HTTP request failed",
                                   InconclusiveReason.CONNECTIVITY)
            return
        if login.requires_auth is False and all(getattr(r, "truncated", False) for r in login.pages.values()) \
                and login.pages:
            # no page ever ended: a login form past our read cap cannot be ruled out
            yield ctx.inconclusive("The web service never finished a response.",
                                   f"device misbehaved: all {len(login.pages)} responses were cut at the read cap "
                                   "(endless or oversized bodies)", InconclusiveReason.DEVICE_MISBEHAVED)
            return
        if login.requires_auth is False:
            yield ctx.finding(Status.NOT_APPLICABLE, "No login to protect",
                              f"The {svc.protocol} service on port {svc.port} asks for no credentials.",
                              reason="the service does not ask for credentials")
            return
        user = USERS.get(svc.protocol, "admin")
        attempts: list[Attempt] = []
        for _ in range(n):
            ctx.check_cancelled()
            cred = Credential(svc.protocol, user, random_password(), "probe brute-force test (random)", 0)
            a = login.attempt(cred)
            attempts.append(a)
            if a.result in (Result.SUCCESS, Result.NO_AUTH, Result.UNSUPPORTED, Result.NO_PASSWORD):
                break
            odd = (Result.CONNECTIVITY, Result.UNKNOWN)
            if len(attempts) >= 2 and all(x.result in odd for x in attempts[-2:]) \
                    and not any(x.result is Result.FAILURE for x in attempts):
                # Two unusable answers before any ordinary rejection: the series can no longer show
                # a defence (analyse() needs a rejection first), and a stalling service would
                # otherwise cost a full timeout per remaining attempt.
                break
        rows = [{"n": i + 1, **a.row()} for i, a in enumerate(attempts)]
        table = {"service": svc.key(), "login": login.description, "username": user, "series": n, "attempts": rows}
        table_id = ctx.artefact("measurements", f"{svc.protocol} repeated failed logins",
                                json.dumps(table, indent=2), media_type="application/json")
        log_id = ctx.artefact("transcript", f"{svc.protocol} repeated failed logins (transcripts)",
                              "\n".join(a.transcript.text() for a in attempts))
        arts = [table_id, log_id]
        last = attempts[-1]
        if last.result is Result.NO_PASSWORD:
            yield ctx.finding(Status.NOT_APPLICABLE, "No password login to guess",
                              f"The {svc.protocol} service on port {svc.port} offers no password login.",
                              reason=login.no_password or last.detail, artefacts=arts)
            return
        if last.result is Result.UNSUPPORTED:
            yield ctx.inconclusive("The login could not be driven.", login.unsupported or last.detail,
                                   InconclusiveReason.UNSUPPORTED, artefacts=arts)
            return
        if last.result in (Result.SUCCESS, Result.NO_AUTH):
            yield ctx.inconclusive("A random wrong password was not rejected.", f"attempt {len(attempts)}: "
                                   f"{last.detail}", InconclusiveReason.DEVICE_MISBEHAVED, artefacts=arts)
            return
        control = getattr(login, "control", None)
        prior = bool(control is not None and not control.success
                     and getattr(control, "status", None) in AUTH_FAIL_STATUSES)
        kind, why = analyse(attempts, prior)
        details = {"attempts": len(attempts), "defence": kind, "analysis": why, "login": login.description}
        if kind:
            yield ctx.finding(Status.PASS, f"Repeated failed logins meet a {kind}",
                              f"{login.description} on port {svc.port}: {why}.", details=details, artefacts=arts,
                              severity="info")
            return
        if all(a.result is Result.FAILURE for a in attempts):
            yield ctx.finding(Status.FAIL, "No lock-out, delay or back-off",
                              f"{login.description} on port {svc.port} rejected {len(attempts)} wrong passwords in a "
                              f"row without any defence: {why}.", details=details, artefacts=arts)
            return
        yield ctx.inconclusive("The series could not be judged.", why + "; some answers were neither a rejection "
                               "nor a refusal", InconclusiveReason.DEVICE_MISBEHAVED, details=details, artefacts=arts)
