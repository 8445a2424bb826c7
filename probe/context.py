"""What a check gets to work with: options, discovered services, capped connections, evidence.

Checks never open sockets on their own terms: `CheckContext.connection()` (or `slot()` for
libraries that open their own socket, such as paramiko) takes one of the device's connection
slots, so that the per-device cap holds whatever the plugins do, and every socket gets a timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from probe.models import Artefact, Finding, InconclusiveReason, Service, Status


@dataclass(frozen=True)
class ScanOptions:
    """Operator choices that bound what a scan may do to a device."""

    max_connections: int = 4  # concurrent connections per device, checks included
    timeout: float = 5.0  # per socket operation
    max_time: float | None = None  # whole-run budget in seconds
    allow_credentials: bool = True  # try default credentials (bounded by credential_budget)
    allow_brute_force: bool = False  # run the opt-in repeated-failure test
    credential_budget: int = 20  # login attempts per service
    credential_delay: float = 0.0  # seconds between attempts on one service
    credential_scope: str = "first"  # first: stop a service at its first accepted credential; accounts: every account
    max_read_bytes: int = 256 * 1024  # per service read cap
    use_nmap: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class Cancelled(Exception):
    """Raised inside a check when the run was interrupted or ran out of time."""


class EvidenceStore:
    """Thread-safe home of everything a run has gathered so far.

    It is what gets written when a run is interrupted, so it must always hold a consistent view:
    artefacts are added before the findings that cite them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.artefacts: dict[str, Artefact] = {}
        self.findings: list[Finding] = []
        self.services: list[Service] = []
        self.notes: list[str] = []
        self._ids = itertools.count(1)
        self._once: dict[object, tuple[threading.Lock, list[Any]]] = {}

    def next_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}-{next(self._ids):04d}"

    def add_artefact(self, kind: str, name: str, data: bytes, *, media_type: str = "application/octet-stream",
                     host: str | None = None, port: int | None = None) -> str:
        art = Artefact(self.next_id("a"), kind, name, bytes(data), media_type, host, port)
        with self._lock:
            self.artefacts[art.id] = art
        return art.id

    def add_finding(self, finding: Finding) -> None:
        with self._lock:
            self.findings.append(finding)

    def add_service(self, service: Service) -> None:
        with self._lock:
            self.services.append(service)

    def once(self, key: object, compute: Callable[[], Any]) -> Any:
        """compute() once per run for `key`; concurrent callers wait for the first and share its result.

        For surveys several checks read (the update survey, UPnP descriptions): the device is asked
        once, and every check cites the same artefacts.
        """
        with self._lock:
            lock, box = self._once.setdefault(key, (threading.Lock(), []))
        with lock:
            if not box:
                box.append(compute())
            return box[0]

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)

    def snapshot(self) -> tuple[list[Service], list[Finding], dict[str, Artefact]]:
        with self._lock:
            return list(self.services), list(self.findings), dict(self.artefacts)


class DeviceLimiter:
    """The per-device connection cap, shared by discovery's follow-ups and every check.

    It also knows every socket opened through it, so that after an interrupt the engine can shut
    them down (`abort_sockets`) and wake threads blocked in a read on a device that stalls.
    """

    def __init__(self, max_connections: int) -> None:
        self._sem = threading.BoundedSemaphore(max(1, max_connections))
        self._socks: set[socket.socket] = set()
        self._socks_lock = threading.Lock()

    @contextlib.contextmanager
    def tracked(self, sock: socket.socket) -> Iterator[socket.socket]:
        with self._socks_lock:
            self._socks.add(sock)
        try:
            yield sock
        finally:
            with self._socks_lock:
                self._socks.discard(sock)

    def abort_sockets(self) -> int:
        """Shut down every open socket: blocked recv()/send() return at once. Returns how many."""
        with self._socks_lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        return len(socks)

    @contextlib.contextmanager
    def slot(self, cancel: threading.Event) -> Iterator[None]:
        while not self._sem.acquire(timeout=0.2):
            if cancel.is_set():
                raise Cancelled()
        try:
            yield
        finally:
            self._sem.release()


class CheckContext:
    """Per-(check, target[, service]) view handed to `Check.run`."""

    def __init__(self, *, check_id: str, host: str, services: list[Service], service: Service | None,
                 options: ScanOptions, store: EvidenceStore, limiter: DeviceLimiter,
                 cancel: threading.Event, deadline: float | None, declaration: dict[str, Any] | None = None,
                 profile: dict[str, Any] | None = None, discovery_complete: bool = True) -> None:
        self.check_id = check_id
        self.host = host
        self.services = services
        self.service = service
        self.options = options
        self.store = store
        self.limiter = limiter
        self.cancel = cancel
        self.deadline = deadline
        self.declaration = declaration
        self.profile = profile or {}
        # False when the port sweep was cut short: absence of a service then proves nothing.
        self.discovery_complete = discovery_complete

    # -- time and cancellation -------------------------------------------------------------
    def cancelled(self) -> bool:
        return self.cancel.is_set() or (self.deadline is not None and time.monotonic() > self.deadline)

    def check_cancelled(self) -> None:
        """Call inside every loop: bounded loops stop promptly on Ctrl-C or --max-time."""
        if self.cancelled():
            raise Cancelled()

    def remaining(self, wanted: float | None = None) -> float:
        """A timeout that never outlives the run's budget."""
        wanted = self.options.timeout if wanted is None else wanted
        if self.deadline is None:
            return wanted
        return max(0.05, min(wanted, self.deadline - time.monotonic()))

    # -- connections -----------------------------------------------------------------------
    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the device's connection slots (for clients that make their own socket)."""
        self.check_cancelled()
        with self.limiter.slot(self.cancel):
            yield

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

    def services_for(self, *protocols: str) -> list[Service]:
        return [s for s in self.services if s.protocol in protocols]

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
