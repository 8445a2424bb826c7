"""One target's scan: its host, its connection cap, the run's clock, its caches.

Discovery and every check on a target share one `TargetSession`. It is the single place that
knows whether time is up (`RunClock`), how many connections the device may have open
(`DeviceLimiter`), and what has already been asked of the device (`once`), so that a stall
counter or a survey several checks read is per device, not per check.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from probe.models import Service
from probe.options import ScanOptions
from probe.store import EvidenceStore


class Cancelled(Exception):
    """Raised inside discovery or a check when the run was interrupted or ran out of time."""


@dataclass(frozen=True)
class RunClock:
    """The run's one notion of "stop now": an operator interrupt or the --max-time deadline."""

    cancel: threading.Event = field(default_factory=threading.Event)
    deadline: float | None = None  # time.monotonic() value, or None for no budget

    @classmethod
    def starting_now(cls, max_time: float | None, cancel: threading.Event | None = None) -> RunClock:
        return cls(cancel or threading.Event(), time.monotonic() + max_time if max_time else None)

    def interrupted(self) -> bool:
        return self.cancel.is_set()

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def up(self) -> bool:
        """True once the run was interrupted or its budget is spent."""
        return self.interrupted() or self.out_of_time()

    def check(self) -> None:
        """Call inside every loop: bounded loops stop promptly on Ctrl-C or --max-time."""
        if self.up():
            raise Cancelled()

    def why(self) -> str:
        return "run interrupted" if self.interrupted() else "--max-time reached"

    def remaining(self, wanted: float) -> float:
        """A timeout that never outlives the run's budget."""
        if self.deadline is None:
            return wanted
        return max(0.05, min(wanted, self.deadline - time.monotonic()))


class DeviceLimiter:
    """The per-device connection cap, shared by discovery's follow-ups and every check.

    Discovery goes first: while a device's services are still being identified, checks that already
    run on the services found so far (the engine starts them early) queue behind discovery's
    questions (`slot(behind=True)`), so a scan's checks never slow down the discovery that the
    device-level checks wait for. Within each of the two, slots go to waiters by priority, then in
    order of arrival (`priority()`): credential trials
    mark each attempt with how many pairs its account still has to go, so the longest chains of
    slow failures (digest logins, SSH with its failed-login delay) are not starved by short work
    and do not end up running alone at the end of a scan while the device sits idle.

    It also knows every socket opened through it, so that after an interrupt the engine can shut
    them down (`abort_sockets`) and wake threads blocked in a read on a device that stalls.
    """

    def __init__(self, max_connections: int) -> None:
        self.size = max(1, max_connections)
        self._free = self.size
        self._cond = threading.Condition()
        self._queue: list[tuple[int, int, int]] = []  # heap of (behind, -priority, arrival) of the waiters
        self._arrivals = itertools.count()
        self._local = threading.local()
        self._socks: set[socket.socket] = set()
        self._socks_lock = threading.Lock()
        self.peak = 0  # the most slots ever held at once: never above `size` (the tests read it)

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
    def priority(self, value: int) -> Iterator[None]:
        """Slots this thread takes inside get `value` (higher first; everything else has 0)."""
        before = getattr(self._local, "priority", 0)
        self._local.priority = value
        try:
            yield
        finally:
            self._local.priority = before

    @contextlib.contextmanager
    def spare(self) -> Iterator[bool]:
        """One more slot if one is free right now and no discovery question waits for it (a
        check's slot, `behind`, comes after discovery anyway): yields True while held, False
        (holding nothing) otherwise. Never waits: for discovery work that can run on the slot it
        already holds and only goes faster with a second connection beside it."""
        with self._cond:
            held = self._free >= 1 and not any(not ticket[0] for ticket in self._queue)
            if held:
                self._free -= 1
        try:
            yield held
        finally:
            if held:
                with self._cond:
                    self._free += 1
                    self._cond.notify_all()

    @contextlib.contextmanager
    def slot(self, cancel: threading.Event, n: int = 1, *, behind: bool = False) -> Iterator[None]:
        """Hold `n` slots (n > 1 for work that runs n connections side by side), taken together:
        the first waiter in line gets them all at once or waits, so two workers that each want two
        can never hold one each and wait for ever. `behind`: a check's slot, served after every
        waiting discovery question whatever its priority."""
        n = max(1, min(n, self.size))
        ticket = (int(behind), -int(getattr(self._local, "priority", 0)), next(self._arrivals))
        with self._cond:
            heapq.heappush(self._queue, ticket)
            try:
                while not (self._queue[0] == ticket and self._free >= n):
                    if cancel.is_set():
                        raise Cancelled()
                    self._cond.wait(0.2)
            except BaseException:
                self._queue.remove(ticket)
                heapq.heapify(self._queue)
                self._cond.notify_all()
                raise
            heapq.heappop(self._queue)
            self._free -= n
            self.peak = max(self.peak, self.size - self._free)
            self._cond.notify_all()  # the next in line may fit in what is left
        try:
            yield
        finally:
            with self._cond:
                self._free += n
                self._cond.notify_all()


class TargetSession:
    """What every piece of work on one target shares."""

    def __init__(self, host: str, options: ScanOptions, store: EvidenceStore, clock: RunClock | None = None) -> None:
        self.host = host
        self.options = options
        self.store = store
        self.clock = clock or RunClock()
        self.limiter = DeviceLimiter(options.safety.max_connections)
        self.started = time.monotonic()  # when work on this target began (timings say when each job started)
        self._lock = threading.Lock()
        self._once: dict[object, tuple[threading.Lock, list[Any]]] = {}
        self._discovered = threading.Event()
        self._services: list[Service] = []
        self.discovery_ended: float | None = None  # time.monotonic() when discovery handed over its result

    @contextlib.contextmanager
    def slot(self, n: int = 1, *, behind: bool = False) -> Iterator[None]:
        """Hold one of the device's connection slots (`n`, at most the cap, taken together);
        `behind` for a check's slot (DeviceLimiter: discovery's questions go first)."""
        self.clock.check()
        with self.limiter.slot(self.clock.cancel, min(n, self.limiter.size), behind=behind):
            yield

    def discovery_finished(self, services: list[Service]) -> None:
        """Discovery is over: `services` is the device's whole service list (the engine calls this
        once, whether discovery completed or not, so nothing waits for ever)."""
        self._services = list(services)
        self.discovery_ended = time.monotonic()
        self._discovered.set()

    def all_services(self) -> list[Service]:
        """The device's whole service list, waiting for discovery to finish if it has not yet.

        A check the engine started early (its service was final while discovery went on) that reads
        the device's other services gets the same list as if it had started after discovery: the
        wait is outside any connection slot, bounded by discovery and by the run's clock."""
        while not self._discovered.wait(0.2):
            self.clock.check()
        return self._services

    def once(self, key: object, compute: Callable[[], Any]) -> Any:
        """compute() once per target for `key`; concurrent callers wait for the first and share its result.

        For surveys several checks read (the update survey, UPnP descriptions, a web page) and for
        per-device bookkeeping (stall counters): the device is asked once, and every check cites
        the same artefacts.
        """
        with self._lock:
            lock, box = self._once.setdefault(key, (threading.Lock(), []))
        with lock:
            if not box:
                box.append(compute())
            return box[0]
