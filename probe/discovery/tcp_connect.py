"""A concurrent TCP connect scanner: works without root and without nmap.

asyncio lets one thread keep hundreds of connects in flight; `concurrency` bounds them and every
connect has its own timeout, so a firewall that drops packets costs time, never a hang. `max_rate`
(--max-rate) caps how many connects start per second, so a fragile device gets the same ceiling
whichever sweep runs; the connect sweep does not adapt below it (its pace is already clocked by
`concurrency`: a connect that is not answered holds its slot until its timeout).
"""

from __future__ import annotations

import asyncio
import errno
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class SweepResult:
    open_ports: list[int] = field(default_factory=list)
    closed: int = 0  # refused: the host answered
    filtered: int = 0  # timed out: dropped somewhere
    unreachable: int = 0  # host/network unreachable (ICMP or no route)
    scanned: int = 0
    complete: bool = True
    elapsed: float = 0.0


class _Pacer:
    """At most `rate` starts per second, strictly spaced: one caller at a time waits out the gap
    since the last start (a stalled event loop then delays starts; it never bunches them)."""

    def __init__(self, rate: int | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.last = float("-inf")
        self.lock = asyncio.Lock()

    async def wait(self, stop: Callable[[], bool]) -> None:
        """Wait for this caller's turn, in short sleeps so Ctrl-C and --max-time still stop it."""
        if not self.interval:
            return
        async with self.lock:
            while (left := self.last + self.interval - time.monotonic()) > 0 and not stop():
                await asyncio.sleep(min(left, 0.2))
            self.last = time.monotonic()


async def _probe(host: str, port: int, timeout: float, sem: asyncio.Semaphore, pacer: _Pacer,
                 stop: Callable[[], bool]) -> tuple[int, str]:
    async with sem:
        if stop():  # interrupted or out of time while queued: don't start new connects
            return port, "skipped"
        await pacer.wait(stop)
        if stop():
            return port, "skipped"
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except TimeoutError:
            return port, "filtered"
        except ConnectionRefusedError:
            return port, "closed"
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
                return port, "unreachable"
            return port, "closed"
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 0.5)
        except (TimeoutError, OSError):
            pass
        return port, "open"


async def _sweep(host: str, ports: Sequence[int], timeout: float, concurrency: int, max_rate: int | None,
                 cancel: threading.Event, deadline: float | None,
                 progress: Callable[[int, int], None] | None) -> SweepResult:
    res = SweepResult()
    sem = asyncio.Semaphore(concurrency)
    pacer = _Pacer(max_rate)
    start = time.monotonic()
    batch = max(concurrency * 4, 256)

    def stop() -> bool:
        return cancel.is_set() or (deadline is not None and time.monotonic() > deadline)

    if deadline is not None:  # no connect may wait past the run's deadline
        timeout = max(0.05, min(timeout, deadline - time.monotonic()))
    for i in range(0, len(ports), batch):
        if stop():
            res.complete = False
            break
        chunk = ports[i:i + batch]
        for port, state in await asyncio.gather(*(_probe(host, p, timeout, sem, pacer, stop) for p in chunk)):
            if state == "skipped":
                res.complete = False
                continue
            res.scanned += 1
            if state == "open":
                res.open_ports.append(port)
            else:
                setattr(res, state, getattr(res, state) + 1)
        if progress:
            progress(res.scanned, len(ports))
    res.open_ports.sort()
    res.elapsed = time.monotonic() - start
    return res


def sweep(host: str, ports: Sequence[int], *, timeout: float = 1.0, concurrency: int = 256,
          max_rate: int | None = None, cancel: threading.Event | None = None, deadline: float | None = None,
          progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Connect to every port once (at most `max_rate` connects started per second); report open
    ones plus counts of the rest."""
    return asyncio.run(_sweep(host, list(ports), timeout, max(1, concurrency), max_rate, cancel or threading.Event(),
                              deadline, progress))
