"""Service discovery: which ports are open on a target, and what speaks on each.

Discovery is the first half of every scan and its own evidence: the open-port inventory is what
the "unused services disabled" clauses rest on, and every check is scheduled from it. The sweep
runs with its own concurrency (`--scan-concurrency`), then identification uses the device's
connection slots like any check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..context import Cancelled, DeviceLimiter, EvidenceStore, ScanOptions
from ..models import Service
from ..profile import Profile
from . import fingerprint as fp
from .tcp_connect import sweep

Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class DiscoveryResult:
    services: list[Service] = field(default_factory=list)
    complete: bool = True
    reachable: bool = True
    method: str = "connect-scan"
    stats: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "complete": self.complete, "reachable": self.reachable,
                "stats": self.stats, "notes": self.notes}


def discover(host: str, profile: Profile, options: ScanOptions, store: EvidenceStore, limiter: DeviceLimiter,
             cancel: threading.Event, deadline: float | None, progress: Progress | None = None) -> DiscoveryResult:
    result = DiscoveryResult()
    ports = options.extra.get("ports_override") or profile.tcp_ports
    concurrency = int(options.extra.get("scan_concurrency", 512))
    connect_timeout = float(options.extra.get("connect_timeout", 1.0))

    def sweep_progress(done: int, total: int) -> None:
        if progress:
            progress("sweep", {"host": host, "done": done, "total": total})

    sw = sweep(host, ports, timeout=connect_timeout, concurrency=concurrency, cancel=cancel, deadline=deadline,
               progress=sweep_progress)
    result.stats = {"tcp_ports_scanned": sw.scanned, "tcp_ports_requested": len(ports), "open": len(sw.open_ports),
                    "closed": sw.closed, "filtered": sw.filtered, "unreachable": sw.unreachable,
                    "sweep_seconds": round(sw.elapsed, 3)}
    result.complete = sw.complete
    if not sw.open_ports and sw.closed == 0:
        # Nothing answered at all: either the host is down or it drops everything.
        result.reachable = False
        result.notes.append("no TCP port answered (open or closed): target unreachable or filtering everything")
    if profile.udp_ports:
        result.notes.append("UDP discovery is not implemented by the connect scanner; UDP services "
                            f"{list(profile.udp_ports)} were not probed")

    def stopped() -> bool:
        return cancel.is_set() or (deadline is not None and time.monotonic() > deadline)

    def identify(port: int) -> Service | None:
        if stopped():
            return _unidentified(host, port)
        try:
            with limiter.slot(cancel):
                f = fp.fingerprint(host, port, timeout=min(options.timeout, 3.0), deadline=deadline, cancel=cancel,
                                   track=limiter.tracked)
        except Cancelled:
            return _unidentified(host, port)
        except OSError as exc:
            if stopped():
                return _unidentified(host, port)
            store.note(f"{host}:{port}/tcp was open during the sweep but not on identification: {exc}")
            return None
        if f.confidence == "port" and stopped():  # cut short, not silent: say so
            return _unidentified(host, port)
        art = None
        if f.banner:
            art = store.add_artefact("banner", f"{host}:{port}/tcp {f.banner_kind}", f.banner[:options.max_read_bytes],
                                     host=host, port=port)
        return Service(host=host, port=port, transport="tcp", protocol=f.protocol, method="connect-scan",
                       product=f.product, version=f.version, tls=f.tls, banner_artefact=art,
                       confidence=f.confidence)

    with ThreadPoolExecutor(max_workers=max(1, options.max_connections)) as pool:
        for i, svc in enumerate(pool.map(identify, sw.open_ports), 1):
            if svc is not None:
                result.services.append(svc)
                store.add_service(svc)
            if progress:
                progress("identify", {"host": host, "done": i, "total": len(sw.open_ports)})
    if any(s.method == "connect-scan-unidentified" for s in result.services) or (
            len(result.services) < len(sw.open_ports) and stopped()):
        result.complete = False
        result.notes.append("identification was cut short (interrupt or --max-time): some open ports are "
                            "listed with the protocol their port number suggests")
    return result


def _unidentified(host: str, port: int) -> Service:
    """An open port we had no time to identify: kept (nothing the sweep saw is lost), marked as a guess."""
    return Service(host=host, port=port, transport="tcp", protocol=fp.identify.PORT_GUESS.get(port, "unknown"),
                   method="connect-scan-unidentified", confidence="port")
