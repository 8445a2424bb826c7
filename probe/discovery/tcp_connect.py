"""A concurrent TCP connect scanner: works without root and without nmap.

asyncio lets one thread keep hundreds of connects in flight; `concurrency` bounds them and every
connect has its own timeout, so a firewall that drops packets costs time, never a hang.
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


async def _probe(host: str, port: int, timeout: float, sem: asyncio.Semaphore,
                 stop: Callable[[], bool]) -> tuple[int, str]:
    async with sem:
        if stop():  # interrupted or out of time while queued: don't start new connects
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


async def _sweep(host: str, ports: Sequence[int], timeout: float, concurrency: int,
                 cancel: threading.Event, deadline: float | None,
                 progress: Callable[[int, int], None] | None) -> SweepResult:
    res = SweepResult()
    sem = asyncio.Semaphore(concurrency)
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
        for port, state in await asyncio.gather(*(_probe(host, p, timeout, sem, stop) for p in chunk)):
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
          cancel: threading.Event | None = None, deadline: float | None = None,
          progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Connect to every port once; report open ones plus counts of the rest."""
    return asyncio.run(_sweep(host, list(ports), timeout, max(1, concurrency), cancel or threading.Event(),
                              deadline, progress))
