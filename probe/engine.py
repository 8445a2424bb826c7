"""The evidence engine: discovery and every scheduled check, per target, concurrently.

A service's own checks start as soon as discovery has finished with that service (identified, or
final without nmap); checks that read the device's whole service list start when discovery has
ended (docs/discovery.md, "What overlaps what"). Concurrency is bounded twice: a pool over
targets, and per target a pool no larger than the device's connection cap (`DeviceLimiter`),
which every socket discovery or a check opens must also pass through. Whatever happens (a plugin
bug, a hostile device, Ctrl-C, --max-time) the store keeps what was gathered, and jobs that never
ran are recorded as INCONCLUSIVE, not forgotten.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from probe.compliance.roles import assign_roles
from probe.compliance.verdicts import clause_verdict, clauses_for_finding
from probe.context import CheckContext, RunView, ServiceContext
from probe.models import (
    ClauseVerdict,
    DeviceState,
    Finding,
    InconclusiveReason,
    Intrusiveness,
    Service,
    ServiceRole,
    Status,
)
from probe.options import ScanOptions
from probe.plugins import Check, CheckMetadata, registry
from probe.session import Cancelled, RunClock, TargetSession
from probe.store import EvidenceStore

if TYPE_CHECKING:  # types only: discovery loads when a scan discovers, not for one given service (start-up)
    from concurrent.futures import Future

    from probe.compliance.catalog import Catalog, Clause
    from probe.compliance.declaration import Declared
    from probe.compliance.profile import Profile
    from probe.compliance.scope import Scope
    from probe.discovery import DiscoveryResult

Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class ScanState:
    """Everything a run has, complete or not; the evidence writer reads only this."""

    targets: list[str]
    profile: Profile
    scope: Scope
    options: ScanOptions
    store: EvidenceStore = field(default_factory=EvidenceStore)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None
    discovery: dict[str, DiscoveryResult] = field(default_factory=dict)
    verdicts: list[ClauseVerdict] = field(default_factory=list)
    complete: bool = True
    incomplete_reasons: list[str] = field(default_factory=list)
    declarations: dict[str, dict[str, Any]] = field(default_factory=dict)  # clause id -> declaration
    declared: Declared | None = None  # what the declaration states that checks compare with the device
    timings: list[dict[str, Any]] = field(default_factory=list)  # per check job: host, check, port, seconds
    clock: RunClock = field(default_factory=RunClock)
    # the operator's statement of the device's state (--device-state), and whether they made it
    device_state: DeviceState = DeviceState.INITIALISED
    device_state_source: str = "default"  # "operator" (the flag) | "default"
    roles: dict[str, dict[str, tuple[ServiceRole, ...]]] = field(default_factory=dict)  # host -> service key -> roles

    def mark_incomplete(self, why: str) -> None:
        self.complete = False
        if why not in self.incomplete_reasons:
            self.incomplete_reasons.append(why)


def _gate(meta: CheckMetadata, options: ScanOptions) -> str | None:
    """Why an intrusive check may not run without the operator's opt-in, or None."""
    if meta.intrusiveness is Intrusiveness.BRUTE_FORCE and not options.credentials.brute_force:
        return "brute-force test not run: it needs the operator's opt-in (--allow-brute-force-test)"
    if meta.intrusiveness is Intrusiveness.CREDENTIALS and not options.credentials.enabled:
        return "credential trials disabled by --no-credentials"
    return None


def make_context(session: TargetSession, meta: CheckMetadata, service: Service | None = None,
                 services: list[Service] | None = None, profile: dict[str, Any] | None = None,
                 discovery_complete: bool = True, declared: Declared | None = None,
                 run: RunView | None = None, services_later: bool = False) -> CheckContext:
    """The one place a check context is built: a ServiceContext when the job is about one service
    (services_later: started before discovery ended, see CheckContext.services)."""
    if service is not None:
        return ServiceContext(session, meta.id, service=service, services=services, profile=profile,
                              discovery_complete=discovery_complete, declaration=declared, run=run,
                              services_later=services_later)
    return CheckContext(session, meta.id, services=services, profile=profile, discovery_complete=discovery_complete,
                        declaration=declared, run=run)


# Check jobs in flight per connection slot. A job holds a slot only while it talks to the device:
# a credential job waits out failed-login delays and lockout pauses, an SNMP question waits for
# silence. With one job per slot, a few such jobs kept every other check waiting while the device
# sat idle; the slots (DeviceLimiter) still cap the device's connections, whatever this number.
JOBS_PER_SLOT = 3

# After an interrupt or --max-time, how long running checks get to notice and finish on their own
# before the engine stops waiting, records them as interrupted and shuts their sockets down.
STOP_GRACE = 2.0


@dataclass(eq=False)
class _Job:
    """One scheduled (check, service) run; `settle` decides once whether its findings count."""

    cls: type[Check]
    service: Service | None
    discovery_complete: bool = True
    early: bool = False  # started while discovery still ran (its service was final)
    lock: threading.Lock = field(default_factory=threading.Lock)
    settled: bool = False  # its findings (or the engine's "interrupted" finding) are in the store
    then: list[_Job] = field(default_factory=list)  # jobs that read this one's findings: run right after it

    def key(self) -> tuple[str, str | None]:
        return self.cls.metadata.id, self.service.key() if self.service else None

    def chain(self) -> list[_Job]:
        """This job and those chained after it, in the order they run."""
        return [self, *(j for t in self.then for j in t.chain())]

    def settle(self) -> bool:
        """True for the first caller only: the job's own result or the engine's give-up, never both."""
        with self.lock:
            if self.settled:
                return False
            self.settled = True
            return True


def _run_job(session: TargetSession, cls: type[Check], services: list[Service], service: Service | None, *,
             profile: dict[str, Any] | None = None,
             discovery_complete: bool = True, job: _Job | None = None,
             timings: list[dict[str, Any]] | None = None, declared: Declared | None = None,
             run: RunView | None = None) -> None:
    meta = cls.metadata
    ctx = make_context(session, meta, service, services, profile, discovery_complete, declared, run,
                       services_later=job is not None and job.early)
    produced: list[Finding] = []
    started = time.monotonic()
    try:
        session.clock.check()
        for f in cls().run(ctx) or ():
            produced.append(f)
        if not produced:
            produced.append(ctx.inconclusive("The check returned no finding.", "check produced no result",
                                             InconclusiveReason.TOOL_ERROR))
    except Cancelled:
        produced.append(ctx.inconclusive(f"{meta.title}: not completed.", session.clock.why(),
                                         InconclusiveReason.INTERRUPTED))
    except Exception as exc:  # a plugin bug must never become a PASS, nor kill the run
        import traceback  # only a bug in a check gets here: not loaded for every run

        trace = ctx.artefact("trace", f"{meta.id} traceback", traceback.format_exc())
        produced.append(ctx.inconclusive(f"{meta.title}: the check failed inside probe.",
                                         f"tool error: {exc.__class__.__name__}: {exc}",
                                         InconclusiveReason.TOOL_ERROR, artefacts=[trace]))
    if timings is not None:  # where a scan's time goes, for operators and the benchmark
        timings.append({"host": session.host, "check": meta.id, "port": service.port if service else None,
                        "seconds": round(time.monotonic() - started, 3),
                        "started_s": round(started - session.started, 3)})
    if job is not None and not job.settle():
        return  # the engine gave up on this job after an interrupt and already recorded it
    for f in produced:
        session.store.add_finding(f)


def service_matches(wanted: tuple[str, ...], svc: Service) -> bool:
    """A check runs on a service when it names the protocol, or names "tls" and the service is
    TLS-wrapped whatever it carries (so TLS checks also cover e.g. IMAPS or a TLS admin port)."""
    return svc.protocol in wanted or (svc.tls and "tls" in wanted)


def _jobs_for_target(state: ScanState, session: TargetSession, services: list[Service],
                     disc: DiscoveryResult) -> list[_Job]:
    reg = registry()
    jobs: list[_Job] = []
    for check_id in state.scope.checks:
        cls = reg[check_id]
        meta = cls.metadata
        ctx = make_context(session, meta, services=services)
        if meta.compares and not (state.declared and state.declared.has(meta.compares)):
            # nothing to compare: said once in the evidence's notes, no finding (docs/declared-observed.md)
            why = "no --declaration" if state.declared is None else f"the declaration states no {meta.compares}"
            session.store.note(f"{session.host}: {meta.id} not run: {why}")
            continue
        blocked = _gate(meta, state.options)
        if blocked:
            f = ctx.inconclusive(f"{meta.title}: not run.", blocked, InconclusiveReason.NOT_OPTED_IN)
            session.store.add_finding(f)
            continue
        if meta.scope == "device":
            jobs.append(_Job(cls, None, disc.complete and disc.reachable))
            continue
        matching = [s for s in services if service_matches(meta.services, s)]
        if not matching:
            if disc.complete and disc.reachable:
                f = ctx.finding(Status.NOT_APPLICABLE, f"{meta.title}: nothing to test",
                                f"No {'/'.join(meta.services)} service was found.",
                                reason=f"no {'/'.join(meta.services)} service found by discovery")
            else:
                f = ctx.inconclusive(f"{meta.title}: not run.", "discovery did not complete, so absence of "
                                     f"{'/'.join(meta.services)} services is not proven",
                                     InconclusiveReason.CONNECTIVITY if not disc.reachable
                                     else InconclusiveReason.INTERRUPTED)
            session.store.add_finding(f)
            continue
        for svc in matching:
            jobs.append(_Job(cls, svc))
    return _chain_dependents(jobs)


def _chain_dependents(jobs: list[_Job]) -> list[_Job]:
    """A check that reads another check's findings on its service (`after:` in its metadata) runs in
    the same worker right after that check's job on the same service; with no such job (the
    prerequisite is not in scope or not allowed in this run) it runs on its own."""
    top: list[_Job] = []
    for job in jobs:
        after = set(job.cls.metadata.after or ())
        first = next((j for j in jobs if job.service is not None and j is not job and j.cls.metadata.id in after
                      and j.service is not None and j.service.key() == job.service.key()), None)
        if first is None:
            top.append(job)
        else:
            first.then.append(job)
    return top


def _phase(job: _Job) -> int:
    """Brute-force tests go after every other check on the device: a lockout they provoke must not
    spoil credential trials or other checks running beside them. Checks that compare the
    manufacturer's declaration with the device send nothing and read the others' findings: last."""
    meta = job.cls.metadata
    return 2 if meta.compares else 1 if meta.intrusiveness is Intrusiveness.BRUTE_FORCE else 0


def _early_jobs(state: ScanState, service: Service) -> list[_Job]:
    """The jobs that may start on `service` while discovery goes on: exactly the first-phase
    service jobs `_jobs_for_target` would schedule on it (same gating, same chaining)."""
    reg = registry()
    jobs = []
    for check_id in state.scope.checks:
        cls = reg[check_id]
        meta = cls.metadata
        if meta.scope == "device" or meta.compares or _gate(meta, state.options) is not None \
                or not service_matches(meta.services, service):
            continue
        job = _Job(cls, service, early=True)
        if _phase(job) == 0:
            jobs.append(job)
    return _chain_dependents(jobs)


def _scan_target(state: ScanState, catalog: Catalog, host: str, progress: Progress) -> None:
    session = TargetSession(host, state.options, state.store, state.clock)
    progress("target-start", {"host": host})
    ports = state.options.discovery.tcp_ports or state.profile.tcp_ports
    udp_ports = state.options.discovery.udp_ports
    udp = state.profile.udp_ports if udp_ports is None else udp_ports
    view = RunView(state.device_state, frozenset(ports), frozenset(udp))
    lock = threading.Lock()
    counts = {"done": 0, "total": 0, "reported": False}  # progress is reported once discovery has ended

    def run(top: _Job) -> None:
        for job in top.chain():
            _run_job(session, job.cls, [] if job.early else services, job.service, profile=state.profile.raw,
                     discovery_complete=job.discovery_complete, job=job, timings=state.timings,
                     declared=state.declared, run=view)
            with lock:
                counts["done"] += 1
                if counts["reported"]:
                    progress("check", {"host": host, "done": counts["done"], "total": counts["total"]})

    from concurrent.futures import ThreadPoolExecutor  # a scan's pools: not loaded to run one check

    services: list[Service] = []
    pool = ThreadPoolExecutor(max_workers=JOBS_PER_SLOT * state.options.safety.max_connections)
    early: list[tuple[_Job, Future[None]]] = []

    def on_service(service: Service) -> None:
        """A service discovery is done with: its own checks start now, beside discovery."""
        if session.clock.up():
            return  # scheduled (and recorded as interrupted) with the rest after discovery
        for top in _early_jobs(state, service):
            with lock:
                early.append((top, pool.submit(run, top)))

    from probe.discovery import discover  # loaded when a scan discovers, not for one given service (start-up)

    try:
        try:
            disc = discover(session, ports, udp, progress, on_service)
        finally:
            services = [s for s in state.store.snapshot()[0] if s.host == host]
            session.discovery_finished(services)  # early jobs that read the whole list wait for this
        disc.stats["ended_s"] = round((session.discovery_ended or time.monotonic()) - session.started, 3)
        state.discovery[host] = disc
        if not disc.reachable:
            state.mark_incomplete(f"{host}: {disc.notes[0]}")
        if not disc.complete:
            state.mark_incomplete(f"{host}: discovery did not complete")
        progress("discovered", {"host": host, "services": [s.key() + " " + s.protocol for s in services]})
        with lock:
            started = {j.key() for top, _f in early for j in top.chain()}
            jobs = [j for j in _jobs_for_target(state, session, services, disc) if j.key() not in started]
            counts["total"] = sum(len(j.chain()) for j in jobs) + sum(len(top.chain()) for top, _f in early)
            counts["reported"] = True
            if counts["done"]:
                progress("check", {"host": host, "done": counts["done"], "total": counts["total"]})
        for phase in (0, 1, 2):
            batch = [j for j in jobs if _phase(j) == phase]
            futures = [pool.submit(run, job) for job in batch]
            if phase == 0:  # the jobs started during discovery belong to the first phase
                batch = [top for top, _f in early] + batch
                futures = [f for _t, f in early] + futures
            _wait_or_give_up(session, futures, batch)
    finally:
        # never block on a worker stuck in a device read: unfinished jobs are already recorded
        pool.shutdown(wait=False, cancel_futures=True)
        if host in state.discovery:  # device care, shown: discovery and checks together, never above the cap
            state.discovery[host].stats["connections_peak"] = session.limiter.peak
    progress("target-done", {"host": host})


def _wait_or_give_up(session: TargetSession, futures: list[Any], jobs: list[_Job]) -> None:
    """Wait for the jobs; after an interrupt or --max-time, wait STOP_GRACE more, then give up.

    A job given up on gets an INCONCLUSIVE (interrupted) finding, and its sockets are shut down so
    the worker thread unblocks; whatever it produces later is discarded (`_Job.settle`).
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    stop_at: float | None = None
    while True:
        pending = [f for f in futures if not f.done()]
        if not pending:
            return
        if stop_at is None and session.clock.up():
            stop_at = time.monotonic() + STOP_GRACE
        if stop_at is not None and time.monotonic() >= stop_at:
            break
        wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
    why = session.clock.why()
    for top, fut in zip(jobs, futures, strict=True):
        if fut.done():
            continue
        for job in top.chain():
            if not job.settle():
                continue
            meta = job.cls.metadata
            ctx = make_context(session, meta, job.service)
            f = ctx.inconclusive(f"{meta.title}: not completed.", f"{why} (the check was still running)",
                                 InconclusiveReason.INTERRUPTED)
            session.store.add_finding(f)
    aborted = session.limiter.abort_sockets()
    if aborted:
        session.store.note(f"{session.host}: {aborted} connection(s) still open after the interrupt were shut down")


def _map_clauses(store: EvidenceStore, clauses: list[Clause],
                 roles: dict[str, dict[str, tuple[ServiceRole, ...]]]) -> None:
    """Each finding records the clauses whose rules select it (by check and service role)."""
    store.map_findings(lambda f: dataclasses.replace(
        f, clauses=clauses_for_finding(f, clauses, roles.get(f.host, {}))))


def compute_verdicts(state: ScanState, catalog: Catalog) -> list[ClauseVerdict]:
    """Roles per target, then each finding's clauses, then every clause verdict in scope."""
    services, findings, _ = state.store.snapshot()
    state.roles = {host: assign_roles(host, services, findings) for host in state.targets}
    _map_clauses(state.store, [c for c in catalog.clauses if c.applies_to(state.profile.device_class)],
                 state.roles)
    out: list[ClauseVerdict] = []
    for host in state.targets:
        mine = [f for f in findings if f.host == host]
        for clause in state.scope.clauses:
            out.append(clause_verdict(clause, host, mine, state.scope.checks, state.declarations.get(clause.id),
                                      roles=state.roles[host], device_state=state.device_state))
    return out


def run_scan(state: ScanState, catalog: Catalog, progress: Progress | None = None,
             parallel_targets: int = 16) -> ScanState:
    """Scan every target; always returns the state, complete or not (never raises on device trouble)."""
    from concurrent.futures import ThreadPoolExecutor

    progress = progress or (lambda _e, _d: None)
    state.clock = RunClock.starting_now(state.options.safety.max_time, state.clock.cancel)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(parallel_targets, len(state.targets)))) as pool:
            futures = [pool.submit(_scan_target, state, catalog, h, progress) for h in state.targets]
            for fut in futures:
                while True:
                    try:
                        fut.result(timeout=0.2)
                        break
                    except TimeoutError:
                        continue
    finally:
        if state.clock.interrupted():
            state.mark_incomplete("interrupted by the operator (SIGINT/SIGTERM)")
        elif state.clock.out_of_time():
            state.mark_incomplete(f"--max-time {state.options.safety.max_time:g}s reached")
        state.verdicts = compute_verdicts(state, catalog)
        state.finished = datetime.now(UTC)
    return state


def run_single_check(check_id: str, host: str, services: list[Service], options: ScanOptions | None = None,
                     service: Service | None = None,
                     catalog: Catalog | None = None) -> tuple[list[Finding], EvidenceStore]:
    """Run one check against given services (for tests and for plugin authors).

    Runs the check exactly as the engine does (same gating, same error envelope, a real target
    session), without discovery, so a check can be exercised against a daemon a test started.
    Service roles come from these services and this check's findings alone, and each finding's
    `clauses` from the catalog's rules (every device class).
    """
    from probe.compliance.catalog import load_catalog

    cat = catalog or load_catalog(known_checks=set(registry()))
    cls = registry()[check_id]
    session = TargetSession(host, options or ScanOptions(), EvidenceStore())
    targets: list[Service | None] = [service] if service or cls.metadata.scope == "device" else \
        [s for s in services if service_matches(cls.metadata.services, s)]
    blocked = _gate(cls.metadata, session.options)
    for svc in targets:
        if blocked:
            ctx = make_context(session, cls.metadata, svc, services)
            session.store.add_finding(ctx.inconclusive("not run", blocked, InconclusiveReason.NOT_OPTED_IN))
            continue
        _run_job(session, cls, services, svc)
    known = list({s.key(): s for s in [*services, *([service] if service else [])]}.values())
    roles = assign_roles(host, known, session.store.snapshot()[1])
    _map_clauses(session.store, cat.clauses, {host: roles})
    return session.store.snapshot()[1], session.store
