"""Service discovery: which ports are open on a target, and what speaks on each.

Discovery is the first half of every scan and its own evidence: the open-port inventory is what
the "unused services disabled" clauses rest on, and every check is scheduled from it. Four steps:

1. TCP sweep: a SYN sweep over raw sockets when running as root (seconds even for a full
   1-65535 sweep of a device that drops closed ports), else the asyncio connect sweep. Which one
   ran, and why, is recorded (`method`, `stats`).
2. Identification of every open TCP port by our own probes (fingerprint.py), through the
   device's connection slots like any check.
3. nmap -sV (when installed and not --no-nmap) only on the ports step 2 could not identify or
   whose product/version it could not read, one bounded nmap run per port; XML kept as evidence.
4. UDP: one protocol-correct request per UDP port of the profile (udp_probe.py).

Steps 2 and 4 overlap step 1: the UDP probes start with the sweep, and each port the SYN sweep
finds open is handed to identification at once. A service that is final (identified, and not
headed for nmap) is handed to the caller's `on_service` at once, so its checks can start while
discovery goes on (the engine does; docs/discovery.md "What overlaps what").

The policy and the measurements behind it are in docs/discovery.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from probe.discovery import fingerprint as fp
from probe.discovery import nmap_scan, udp_probe
from probe.discovery.syn_scan import SynUnavailable, syn_stats, syn_sweep
from probe.discovery.tcp_connect import sweep
from probe.models import Service
from probe.options import ScanMethod
from probe.session import Cancelled, TargetSession

Progress = Callable[[str, dict[str, Any]], None]
SCAN_METHODS = ("auto", "syn", "connect")


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


def _tcp_sweep(session: TargetSession, ports: tuple[int, ...], result: DiscoveryResult,
               progress: Progress | None, on_open: Callable[[int], None] | None = None) -> tuple[list[int], bool]:
    """Run the best available sweep; fill result.method/stats; return (open ports, complete).
    The SYN sweep calls `on_open` with each port as it finds it open."""
    host, opts, clock = session.host, session.options.discovery, session.clock
    method, concurrency, connect_timeout = opts.method, opts.concurrency, opts.connect_timeout

    def sweep_progress(done: int, total: int) -> None:
        if progress:
            progress("sweep", {"host": host, "done": done, "total": total})

    stats: dict[str, Any] = {"tcp_ports_requested": len(ports)}
    if method in (ScanMethod.AUTO, ScanMethod.SYN):
        try:
            syn = syn_sweep(host, ports, max_rate=opts.max_rate, retries=opts.retries, cancel=clock.cancel,
                            deadline=clock.deadline, progress=sweep_progress, on_open=on_open)
        except SynUnavailable as exc:
            stats["syn_unavailable"] = str(exc)
            result.notes.append(f"SYN sweep not used ({exc}); used the TCP connect sweep instead")
        else:
            result.method = "syn-scan"
            stats.update({"sweep_method": "syn-scan", "tcp_ports_scanned": syn.scanned, "open": len(syn.open_ports),
                          "closed": syn.closed, "filtered": syn.filtered, "icmp_unreachable": syn.icmp_unreachable,
                          "unreachable": 0, "sweep_seconds": round(syn.elapsed, 3), **syn_stats(syn)})
            result.stats.update(stats)
            return syn.open_ports, syn.complete
    sw = sweep(host, ports, timeout=connect_timeout, concurrency=concurrency, max_rate=opts.max_rate,
               cancel=clock.cancel, deadline=clock.deadline, progress=sweep_progress)
    result.method = "connect-scan"
    stats.update({"sweep_method": "connect-scan", "tcp_ports_scanned": sw.scanned, "open": len(sw.open_ports),
                  "closed": sw.closed, "filtered": sw.filtered, "unreachable": sw.unreachable,
                  "sweep_seconds": round(sw.elapsed, 3), "connect_timeout": connect_timeout,
                  "concurrency": concurrency, "max_rate_pps": opts.max_rate})
    result.stats.update(stats)
    return sw.open_ports, sw.complete


def _identify_tcp(session: TargetSession, port: int, method: str) -> Service | None:
    host, store, clock = session.host, session.store, session.clock
    if clock.up():
        return _unidentified(host, port, method)
    # a port whose well-known protocol is client-first gets two slots: its first probe goes out
    # beside the greeting wait (fingerprint.early_probe), and the port costs one round trip; a port
    # with no well-known protocol sends its empty line beside the greeting wait on a second slot
    # taken when one is free during the wait (DeviceLimiter.spare, never waited for), so unknown
    # ports, which may stall for seconds, never hold two slots or wait at the head of the queue
    early = fp.early_probe(port)
    pair = early is not None and early != "newline" and session.limiter.size >= 2
    spare = _held if pair else session.limiter.spare if early == "newline" else None
    try:
        with session.slot(2 if pair else 1):
            f = fp.fingerprint(host, port, timeout=min(session.options.safety.timeout, 3.0), deadline=clock.deadline,
                               cancel=clock.cancel, track=session.limiter.tracked, spare=spare)
    except Cancelled:
        return _unidentified(host, port, method)
    except OSError as exc:
        if clock.up():
            return _unidentified(host, port, method)
        store.note(f"{host}:{port}/tcp was open during the sweep but not on identification: {exc}")
        return None
    if f.confidence == "port" and clock.up():  # cut short, not silent: say so
        return _unidentified(host, port, method)
    art = None
    if f.banner:
        art = store.add_artefact("banner", f"{host}:{port}/tcp {f.banner_kind}",
                                 f.banner[:session.options.safety.max_read_bytes], host=host, port=port)
    return Service(host=host, port=port, transport="tcp", protocol=f.protocol, method=method,
                   product=f.product, version=f.version, tls=f.tls, banner_artefact=art, confidence=f.confidence,
                   probes=f.tried)


@contextlib.contextmanager
def _held() -> Iterator[bool]:
    """The second slot of a pair already taken by _identify_tcp."""
    yield True


def _unidentified(host: str, port: int, method: str) -> Service:
    """An open port we had no time to identify: kept (nothing the sweep saw is lost), marked as a guess."""
    return Service(host=host, port=port, transport="tcp", protocol=fp.identify.PORT_GUESS.get(port, "unknown"),
                   method=f"{method}-unidentified", confidence="port")


def _probe_udp(session: TargetSession, port: int) -> tuple[udp_probe.UdpResult | None, Service | None]:
    """One UDP port's probe. It holds none of the device's TCP connection slots: a datagram and its
    answer leave no state on the device, while a silent port waits out its whole timeout (2 s), and
    with three silent UDP ports holding three of four slots, the TCP ports the sweep had found (and
    every check of theirs) waited for them (camera lab device: port 80 identified at 2.1 s). UDP
    probes are bounded on their own: discover() runs them on --max-connections workers."""
    host, store, options = session.host, session.store, session.options
    if session.clock.up():
        return None, None
    def ssdp_search(listen: float, resend: bool) -> udp_probe.ssdp.Search:  # the checks reuse its answers
        return udp_probe.shared_ssdp_search(session.once, host, port, listen=listen, resend=resend)

    r = udp_probe.probe_port(host, port, timeout=min(options.discovery.udp_timeout, options.safety.timeout),
                             ssdp_search=ssdp_search)
    if r.state != "open" or r.protocol is None:
        return r, None
    first_art = None
    for ex in r.exchanges:
        for i, reply in enumerate(ex.replies):
            suffix = f" #{i + 1}" if len(ex.replies) > 1 else ""
            art = store.add_artefact("banner", f"{host}:{port}/udp {ex.label} response{suffix}",
                                     reply[:options.safety.max_read_bytes], host=host, port=port)
            first_art = first_art or art
    if r.protocol == "snmp":
        accepted = [k.split("_")[0] for k, v in r.detail.items() if k.endswith("_public") and v == "accepted"]
        if accepted:
            store.note(f"{host}:{port}/udp answered an SNMP GET with community 'public' "
                       f"({', '.join(accepted)}): the community is accepted (discovery probe, artefact {first_art})")
    if r.protocol == "snmp" and r.detail.get("snmpv3_engine"):
        store.note(f"{host}:{port}/udp answered SNMPv3 engine discovery: {r.detail['snmpv3_engine']} "
                   "(an SNMP agent is listening, whichever communities it accepts)")
    return r, Service(host=host, port=port, transport="udp", protocol=r.protocol, method="udp-probe",
                      product=r.product, version=r.version, tls=False, banner_artefact=first_art,
                      confidence="handshake", details=dict(r.detail))


NMAP_SHARE = 0.2  # of the remaining --max-time budget
NMAP_MAX_SECONDS = 90.0  # per device, all gap-filling nmap runs together


class _NmapGaps:
    """nmap -sV on each TCP port our own probes left a gap on, started the moment identification
    has given up on that port (not after every port is done), so nmap's seconds overlap the
    identification of the other ports and the sweep.

    Each nmap process holds one of the device's connection slots while it runs (one port, one
    connection at a time), as every other question does, so the per-device cap still holds. nmap
    gets at most NMAP_MAX_SECONDS per device, counted from its first start, and under --max-time
    at most NMAP_SHARE of what was left then; Ctrl-C and --max-time stop a running nmap.
    """

    def __init__(self, session: TargetSession, result: DiscoveryResult, progress: Progress | None,
                 discovery_start: float) -> None:
        self.session, self.result, self.progress = session, result, progress
        self.discovery_start = discovery_start
        opts = session.options.discovery
        self.enabled = opts.use_nmap
        self.nmap = nmap_scan.available() if self.enabled else None
        self.pool = ThreadPoolExecutor(max_workers=session.options.safety.max_connections,
                                       thread_name_prefix="nmap") if self.nmap else None
        self.lock = threading.Lock()
        self.sent: dict[int, Service] = {}  # port -> the service as our probes left it
        self.futures: dict[int, Future[Service]] = {}
        self.skipped: list[int] = []
        self.started: float | None = None
        self.deadline = 0.0
        self.ended = 0.0
        self.done = 0

    def wants(self, svc: Service) -> bool:
        opts = self.session.options.discovery
        return (self.enabled and svc.transport == "tcp" and not svc.method.endswith("-unidentified")
                and nmap_scan.wanted(svc.protocol, svc.confidence, svc.product, svc.version, opts.nmap_versions,
                                     svc.tls))

    def submit(self, svc: Service) -> bool:
        """Called with each identified TCP service as soon as its identification is over. True when
        nmap will look at it (the service is final only once nmap is done), False when it is final."""
        if not self.wants(svc):
            return False
        with self.lock:
            self.sent[svc.port] = svc
            if self.pool is not None:
                self.futures[svc.port] = self.pool.submit(self._run, svc)
        return self.pool is not None

    def _budget_start(self) -> None:
        with self.lock:
            if self.started is None:
                self.started = time.monotonic()
                deadline = self.session.clock.deadline
                # nmap -sV can spend a minute on one silent port, and the checks still have to run
                allowed = NMAP_MAX_SECONDS if deadline is None else \
                    min(NMAP_MAX_SECONDS, max(0.0, deadline - self.started) * NMAP_SHARE)
                self.deadline = self.started + allowed

    def _run(self, svc: Service) -> Service:
        try:
            return self._scan(svc)
        finally:
            with self.lock:
                self.ended = max(self.ended, time.monotonic())

    def _scan(self, svc: Service) -> Service:
        session = self.session
        host, store, clock = session.host, session.store, session.clock
        if clock.up():
            return svc
        try:
            with session.slot():
                self._budget_start()
                if self.deadline - time.monotonic() < 1.0:
                    with self.lock:
                        self.skipped.append(svc.port)
                    return svc
                budget = min(session.options.discovery.nmap_timeout, self.deadline - time.monotonic())
                n = nmap_scan.scan_port(host, svc.port, timeout=budget, unidentified=svc.confidence == "port",
                                        cancel=clock.cancel)
        except Cancelled:
            return svc
        except OSError as exc:
            store.note(f"{host}:{svc.port}/tcp nmap could not be run: {exc}")
            return svc
        with self.lock:
            self.done += 1
            done, total = self.done, len(self.sent)
        if self.progress:
            self.progress("nmap", {"host": host, "done": done, "total": total})
        return _merge_nmap(session, svc, n)

    def finish(self, services: list[Service]) -> list[Service]:
        """Wait for the nmap runs still going; return `services` with nmap's answers merged in."""
        result = self.result
        ports = sorted(self.sent)
        if not self.enabled:
            result.stats["nmap"] = "disabled (--no-nmap)"
            return services
        result.stats.update({"nmap": self.nmap or "not installed", "nmap_ports": ports})
        if self.pool is None:
            if ports:
                result.notes.append("nmap is not installed: ports our probes could not identify stay 'unknown' "
                                    f"({', '.join(map(str, ports))})")
            return services
        enriched = {p: f.result() for p, f in self.futures.items()}
        self.pool.shutdown(wait=True)
        if not ports:
            return services
        result.stats["nmap_seconds"] = round(self.ended - self.started, 3) if self.started is not None else 0.0
        if self.started is not None:  # when the first nmap started, counted like identify_seconds
            result.stats["nmap_started_s"] = round(self.started - self.discovery_start, 3)
        if self.skipped:
            result.stats["nmap_skipped"] = sorted(self.skipped)
            result.notes.append(f"nmap -sV skipped on {', '.join(map(str, sorted(self.skipped)))}: its share "
                                f"of the scan's time (at most {NMAP_MAX_SECONDS:g} s, or {NMAP_SHARE:.0%} of "
                                "--max-time) was used up")
        result.stats["nmap_identified"] = sorted(p for p, s in enriched.items() if s != self.sent[p])
        return [enriched.get(s.port, s) if s.transport == "tcp" else s for s in services]

    def cancel(self) -> None:
        """On the way out of an error: no new nmap starts; running ones see the run's cancel."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _merge_nmap(session: TargetSession, svc: Service, n: nmap_scan.NmapService) -> Service:
    """Keep nmap's XML as evidence and take from its answer only what our probes lacked."""
    host, store = session.host, session.store
    art = None
    if n.xml:
        art = store.add_artefact("nmap-xml", f"{host}:{svc.port}/tcp nmap -sV", n.xml,
                                 media_type="application/xml", host=host, port=svc.port)
    if n.error:
        store.note(f"{host}:{svc.port}/tcp nmap -sV gave no answer: {n.error}")
        return svc
    if svc.confidence == "port" and n.protocol:  # nmap identified what our probes could not
        return dataclasses.replace(svc, protocol=n.protocol, product=n.product, version=n.version,
                                   tls=n.tls or svc.tls, confidence="nmap",
                                   banner_artefact=svc.banner_artefact or art)
    if svc.confidence == "port" and n.method == "probed" and n.name:
        # nmap recognised something outside our protocol vocabulary (e.g. smux): the protocol
        # stays "unknown" (no check applies) but the inventory shows what nmap saw
        return dataclasses.replace(svc, product=n.product or n.name, version=n.version, confidence="nmap",
                                   banner_artefact=svc.banner_artefact or art)
    if n.protocol == svc.protocol and (n.product or n.version):  # same protocol: fill what we lacked
        if not svc.product:
            return dataclasses.replace(svc, product=n.product, version=svc.version or n.version)
        # what the device said about itself stays; nmap's version only if it names the same product
        same = n.product and (n.product.lower() in svc.product.lower() or svc.product.lower() in n.product.lower())
        if same and not svc.version and n.version:
            return dataclasses.replace(svc, version=n.version)
    return svc


def _final(session: TargetSession, svc: Service) -> bool:
    """Will discovery leave this service as it is? Not when it is a guess (no time to identify it)
    or nmap is to look at it (nmap may name another protocol, or fill product/version)."""
    opts = session.options.discovery
    if svc.method.endswith("-unidentified"):
        return False
    return svc.transport != "tcp" or not opts.use_nmap or nmap_scan.available() is None or not nmap_scan.wanted(
        svc.protocol, svc.confidence, svc.product, svc.version, opts.nmap_versions, svc.tls)


def discover(session: TargetSession, tcp_ports: tuple[int, ...], udp_ports: tuple[int, ...],
             progress: Progress | None = None,
             on_service: Callable[[Service], None] | None = None) -> DiscoveryResult:
    """Sweep `tcp_ports`, identify what answers, probe `udp_ports`; services go to the session's store.

    `on_service(service)` is called (from a discovery thread) with each service as soon as it is
    final (`_final`); the others are final only in the returned result."""
    host, store = session.host, session.store
    result = DiscoveryResult()
    services: list[Service] = []
    udp_results: list[udp_probe.UdpResult] = []
    total = len(udp_ports)  # + the open TCP ports, once the sweep has found them
    done = 0
    lock = threading.Lock()

    def tick() -> None:
        nonlocal done
        with lock:
            done += 1
            if progress:
                progress("identify", {"host": host, "done": done, "total": max(done, total)})

    def tcp_job(port: int, method: str) -> None:
        try:
            svc = _identify_tcp(session, port, method)
        except Cancelled:
            svc = None
        if svc is not None:
            with lock:
                services.append(svc)
            gaps.submit(svc)  # our probes gave up on it: nmap starts now, beside the other ports
            if on_service is not None and _final(session, svc):
                on_service(svc)
        tick()

    def udp_job(port: int) -> None:
        try:
            r, svc = _probe_udp(session, port)
        except Cancelled:
            r, svc = None, None
        except OSError as exc:
            store.note(f"{host}:{port}/udp could not be probed: {exc}")
            r, svc = None, None
        with lock:
            if r is not None:
                udp_results.append(r)
            if svc is not None:
                services.append(svc)
        if svc is not None and on_service is not None:
            on_service(svc)
        tick()

    # Identification and the UDP probes overlap the TCP sweep: a port the SYN sweep finds open is
    # identified at once, through the device's connection slots, while the sweep goes on (a full
    # sweep takes seconds; the ports it finds first need not wait for the last).
    udp_start = time.monotonic()
    early: dict[int, Future[None]] = {}
    gaps = _NmapGaps(session, result, progress, udp_start)
    try:
        # the UDP probes have workers of their own, so a silent UDP port never keeps an open TCP
        # port the sweep found from being identified (and its checks from starting)
        with ThreadPoolExecutor(max_workers=session.options.safety.max_connections) as pool, \
                ThreadPoolExecutor(max_workers=session.options.safety.max_connections) as udp_pool:
            futures = [udp_pool.submit(udp_job, p) for p in udp_ports]

            def on_open(port: int) -> None:
                with lock:
                    early[port] = pool.submit(tcp_job, port, "syn-scan")

            open_ports, complete = _tcp_sweep(session, tcp_ports, result, progress, on_open)
            result.complete = complete
            total += len(open_ports)
            with lock:
                futures += [early.get(p) or pool.submit(tcp_job, p, result.method) for p in open_ports]
            for fut in futures:
                fut.result()
    except BaseException:
        gaps.cancel()
        raise
    services.sort(key=lambda s: (s.transport, s.port))
    services = gaps.finish(services)

    udp_open = sorted(r.port for r in udp_results if r.state == "open")
    result.stats.update({
        "udp_ports_requested": len(udp_ports), "udp_open": udp_open,
        "udp_closed": sorted(r.port for r in udp_results if r.state == "closed"),
        "udp_no_answer": sorted(r.port for r in udp_results if r.state == "no-answer"),
        "udp_unreachable": sorted(r.port for r in udp_results if r.state == "unreachable"),
        "identify_seconds": round(time.monotonic() - udp_start, 3),
        "root": os.geteuid() == 0,
    })
    if udp_results and any(r.state == "no-answer" for r in udp_results):
        result.notes.append("UDP ports that did not answer our probe are open|filtered: UDP cannot tell a "
                            "silent service from a dropped datagram")
    for svc in services:
        result.services.append(svc)
        store.add_service(svc)

    tcp_answered = result.stats.get("open", 0) + result.stats.get("closed", 0)
    if tcp_answered == 0 and not udp_open and not result.stats["udp_closed"]:
        # Nothing answered at all: either the host is down or it drops everything.
        result.reachable = False
        result.notes.insert(0, "no TCP port answered (open or closed) and no UDP probe was answered: target "
                               "unreachable or filtering everything")
    identified_tcp = sum(1 for s in services if s.transport == "tcp")
    if any(s.method.endswith("-unidentified") for s in services) or (
            (identified_tcp < len(open_ports) or len(udp_results) < len(udp_ports)) and session.clock.up()):
        result.complete = False
        result.notes.append("identification was cut short (interrupt or --max-time): some open ports are "
                            "listed with the protocol their port number suggests")
    return result
