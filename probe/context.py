"""What a check gets to work with: options, discovered services, capped connections, evidence.

Checks never open sockets on their own terms: `CheckContext.connection()` (or `slot()` for
libraries that open their own socket, such as paramiko) takes one of the device's connection
slots, so that the per-device cap holds whatever the plugins do, and every socket gets a timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from probe.models import DeviceState, Finding, InconclusiveReason, Service, Status
from probe.options import ScanOptions
from probe.session import Cancelled, DeviceLimiter, TargetSession
from probe.store import EvidenceStore

if TYPE_CHECKING:  # a type only: the declaration reader (and PyYAML) loads when a run has a declaration
    from probe.compliance.declaration import Declared

__all__ = ["Cancelled", "CheckContext", "RunView", "ServiceContext"]


@dataclass(frozen=True)
class RunView:
    """What the run says about how the device was scanned, for checks that compare (no network)."""

    device_state: DeviceState = DeviceState.INITIALISED  # as the operator stated it (--device-state)
    tcp_ports: frozenset[int] = frozenset()  # the TCP ports discovery swept
    udp_ports: frozenset[int] = frozenset()  # the UDP ports discovery probed


class CheckContext:
    """Per-(check, target[, service]) view handed to `Check.run`; built by the engine only."""

    def __init__(self, session: TargetSession, check_id: str, *, services: list[Service] | None = None,
                 service: Service | None = None, profile: dict[str, Any] | None = None,
                 discovery_complete: bool = True, declaration: Declared | None = None,
                 run: RunView | None = None, services_later: bool = False) -> None:
        self.session = session
        self.check_id = check_id
        # services_later: the engine started this job while discovery still ran (its own service
        # was final); the device's whole list is read when the check asks for it (`services`)
        self._services: list[Service] | None = None if services_later else (services or [])
        self._service = service
        self.profile = profile or {}
        # False when the port sweep was cut short: absence of a service then proves nothing.
        self.discovery_complete = discovery_complete
        # what the manufacturer declared that a check can compare with the device (metadata `compares`)
        self.declaration = declaration
        self.run = run or RunView()
        self._slots = threading.local()  # per thread: when it last got one of the device's slots

    @property
    def services(self) -> list[Service]:
        """Every service discovery found on the device. For a job started before discovery ended
        this waits for its end (TargetSession.all_services), so a check that reads the device's
        other services sees exactly what it would have seen had it started after discovery."""
        if self._services is None:
            self._services = self.session.all_services()
        return self._services

    @property
    def service(self) -> Service | None:
        """The service this job is about; None for device-scoped checks."""
        return self._service

    @property
    def host(self) -> str:
        return self.session.host

    @property
    def options(self) -> ScanOptions:
        return self.session.options

    @property
    def store(self) -> EvidenceStore:
        return self.session.store

    @property
    def limiter(self) -> DeviceLimiter:
        return self.session.limiter

    # -- time and cancellation -------------------------------------------------------------
    def cancelled(self) -> bool:
        return self.session.clock.up()

    def check_cancelled(self) -> None:
        """Call inside every loop: bounded loops stop promptly on Ctrl-C or --max-time."""
        self.session.clock.check()

    def remaining(self, wanted: float | None = None) -> float:
        """A timeout that never outlives the run's budget."""
        return self.session.clock.remaining(self.options.safety.timeout if wanted is None else wanted)

    def once(self, key: object, compute: Callable[[], Any]) -> Any:
        """Ask the device once per target (see TargetSession.once)."""
        return self.session.once(key, compute)

    # -- connections -----------------------------------------------------------------------
    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the device's connection slots (for clients that make their own socket)."""
        with self.session.slot(behind=True):
            self._slots.at = time.monotonic()
            yield

    def slot_acquired_at(self) -> float | None:
        """When this thread last got a connection slot (time.monotonic()), or None: lets a caller
        tell the time it spent on the device from the time it queued for a slot."""
        at: float | None = getattr(self._slots, "at", None)
        return at

    @contextlib.contextmanager
    def connection(self, port: int | None = None, *, timeout: float | None = None,
                   tls: bool = False, client_speaks_first: bool = False) -> Iterator[socket.socket]:
        """A TCP connection to the device, inside a slot, with a timeout, closed on exit.

        With tls=True the socket is wrapped by a client that accepts any certificate and version
        (probe.protocols.tlswrap): for testing what runs inside TLS, not TLS itself.
        client_speaks_first: see tlswrap.wrap (catches TLS 1.3 alerts before the first request).
        """
        port = port if port is not None else (self.service.port if self.service else None)
        if port is None:
            raise ValueError("connection() needs a port outside a service-scoped check")
        with self.slot():
            sock = socket.create_connection((self.host, port), timeout=self.remaining(timeout))
            try:
                sock.settimeout(self.remaining(timeout))
                if tls:
                    from probe.protocols.tlswrap import wrap

                    sock = wrap(sock, self.remaining(timeout), client_speaks_first=client_speaks_first)
                with self.limiter.tracked(sock):  # the object in use (wrap() detaches the raw one)
                    yield sock
            finally:
                with contextlib.suppress(OSError):
                    sock.close()

    def findings_so_far(self) -> list[Finding]:
        """This target's findings recorded so far: what a `compares` check (which runs after every
        other check of the target) compares the declaration with."""
        return [f for f in self.store.snapshot()[1] if f.host == self.host]

    def services_for(self, *protocols: str) -> list[Service]:
        return [s for s in self.services if s.protocol in protocols]

    def findings_of(self, check_id: str, service: Service | None = None) -> list[Finding]:
        """Findings another check already recorded on this target (on `service`, when given). Only
        meaningful for a check that declares `after: [check_id]` in its metadata: the engine then
        runs it once that check has finished on the same service."""
        _s, findings, _a = self.session.store.snapshot()
        return [f for f in findings if f.check_id == check_id and f.host == self.host
                and (service is None or (f.port == service.port and (f.transport or "tcp") == service.transport))]

    # -- evidence --------------------------------------------------------------------------
    def artefact(self, kind: str, name: str, data: bytes | str, *, media_type: str | None = None,
                 port: int | None = None) -> str:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        mt = media_type or ("text/plain; charset=utf-8" if isinstance(data, str) else "application/octet-stream")
        port = port if port is not None else (self.service.port if self.service else None)
        return self.store.add_artefact(kind, name, raw, media_type=mt, host=self.host, port=port)

    def finding(self, status: Status, title: str, summary: str, *, reason: str | None = None,
                reason_code: InconclusiveReason | None = None, details: dict[str, Any] | None = None,
                artefacts: list[str] | tuple[str, ...] = (), severity: str = "medium",
                service: Service | None = None) -> Finding:
        """Build a finding bound to this check and (by default) this context's service."""
        svc = service or self.service
        if status in (Status.INCONCLUSIVE, Status.NOT_APPLICABLE) and not reason:
            raise ValueError(f"{status} needs a reason")
        if status is Status.MANUAL:
            raise ValueError("checks never return MANUAL: that is the clause layer's verdict")
        return Finding(
            id=self.store.next_id("f"),
            check_id=self.check_id,
            status=status,
            host=self.host,
            port=svc.port if svc else None,
            transport=svc.transport if svc else None,
            protocol=svc.protocol if svc else None,
            title=title,
            summary=summary,
            reason=reason,
            reason_code=reason_code if status is Status.INCONCLUSIVE else None,
            details=details or {},
            artefacts=tuple(artefacts),
            severity=severity,
        )

    def inconclusive(self, summary: str, reason: str, code: InconclusiveReason, **kw: Any) -> Finding:
        return self.finding(Status.INCONCLUSIVE, kw.pop("title", "Could not be tested"), summary,
                            reason=reason, reason_code=code, **kw)


class ServiceContext(CheckContext):
    """The context of a service-scoped check: `service` is the one service the job is about."""

    def __init__(self, session: TargetSession, check_id: str, *, service: Service,
                 services: list[Service] | None = None, profile: dict[str, Any] | None = None,
                 discovery_complete: bool = True, declaration: Declared | None = None,
                 run: RunView | None = None, services_later: bool = False) -> None:
        super().__init__(session, check_id, services=services, service=service, profile=profile,
                         discovery_complete=discovery_complete, declaration=declaration, run=run,
                         services_later=services_later)
        self._one_service = service

    @property
    def service(self) -> Service:
        return self._one_service
