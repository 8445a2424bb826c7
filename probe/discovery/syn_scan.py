"""Half-open (SYN) port sweep over raw sockets, for when probe runs as root.

Why: a connect sweep has to wait out a timeout for every port a hardened device silently drops, so
a full 65,535-port sweep of a gateway with a drop policy takes minutes. A SYN sweep sends every
probe at a fixed rate without waiting, collects SYN-ACKs (open), RSTs (closed) and ICMP
unreachables (filtered) as they arrive, retransmits only the unanswered probes, then waits a
bounded time: the whole sweep costs ports/rate seconds per pass plus a short wait.

How: SYNs are built with struct (scapy is far too slow for 65k packets) and sent on an
AF_INET/SOCK_RAW/IPPROTO_TCP socket, so the kernel adds the IP header. Replies are read on a second
raw TCP socket with a classic-BPF filter (source = target, destination port = our random source
port) so the kernel discards the rest of the host's traffic. A reply counts only if its ACK
number is our sequence number + 1 for that port. Our kernel answers each SYN-ACK with a RST because
no local socket owns it: that is ordinary half-open scanning and leaves no connection on the
device. Every sweep of the process (one per device in a multi-target run) is driven by one shared
send/receive loop (_Mux), each at its own rate.

IPv4 only; `SynUnavailable` tells the caller to fall back to the connect sweep.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import random
import select
import socket
import struct
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

DEFAULT_RATE = 10_000  # packets per second; ~6.6 s per pass over 65,535 ports
DEFAULT_RETRIES = 1  # unanswered probes are sent once more
MAX_RETRIES = 3

_OPEN, _CLOSED, _ICMP = 1, 2, 3
_SYN, _RST, _ACK = 0x02, 0x04, 0x10
_MSS_OPTION = b"\x02\x04\x05\xb4"  # MSS 1460, as a normal stack's SYN carries one


class SynUnavailable(Exception):
    """The SYN sweep cannot run here (not root, IPv6 target, raw sockets refused)."""


@dataclass
class SynSweepResult:
    open_ports: list[int] = field(default_factory=list)
    closed_ports: list[int] = field(default_factory=list)
    filtered_ports: list[int] = field(default_factory=list)
    closed: int = 0  # answered with RST
    filtered: int = 0  # no answer after every retransmission, or ICMP unreachable
    icmp_unreachable: int = 0  # subset of filtered: an ICMP destination-unreachable named the probe
    unreachable: int = 0  # always 0 here (kept for the same shape as the connect sweep's result)
    scanned: int = 0  # ports with a final state
    complete: bool = True
    elapsed: float = 0.0
    packets_sent: int = 0
    retransmitted: int = 0
    answered_after_retransmit: int = 0
    rate: int = DEFAULT_RATE
    retries: int = DEFAULT_RETRIES
    max_rtt: float = 0.0
    source_port: int = 0


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def build_syn(src: bytes, dst: bytes, sport: int, dport: int, seq: int) -> bytes:
    """A TCP SYN segment (no IP header) with a correct checksum over the IPv4 pseudo-header."""
    offset_flags = ((5 + len(_MSS_OPTION) // 4) << 12) | _SYN
    hdr = struct.pack("!HHIIHHHH", sport, dport, seq, 0, offset_flags, 1024, 0, 0) + _MSS_OPTION
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(hdr))
    csum = _checksum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", csum) + hdr[18:]


def _bpf_filter(target: bytes, sport: int) -> bytes:
    """Classic BPF over a raw-IP packet: accept only packets from `target` to TCP port `sport`."""
    ins = [
        (0x20, 0, 0, 12),  # ld  [12]           source address
        (0x15, 0, 4, int.from_bytes(target, "big")),  # jeq target, else drop
        (0xB1, 0, 0, 0),  # ldxb 4*([0]&0xf)    IP header length
        (0x48, 0, 0, 2),  # ldh [x+2]           TCP destination port
        (0x15, 0, 1, sport),  # jeq sport, else drop
        (0x06, 0, 0, 0xFFFF),  # ret accept
        (0x06, 0, 0, 0),  # ret drop
    ]
    return b"".join(struct.pack("HBBI", *i) for i in ins)


def _attach_filter(sock: socket.socket, prog: bytes) -> bool:
    import ctypes

    buf = ctypes.create_string_buffer(prog)
    fprog = struct.pack("HL", len(prog) // 8, ctypes.addressof(buf))
    try:
        sock.setsockopt(socket.SOL_SOCKET, 26, fprog)  # SO_ATTACH_FILTER
    except OSError:
        return False
    return True


def source_address(host: str) -> str:
    """The local address the kernel would use to reach `host` (connect() on UDP sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, 9))
        return s.getsockname()[0]


class _Job:
    """One target's sweep: what to send, what came back. Driven by the shared _Mux thread."""

    def __init__(self, host: str, src: str, ports: Sequence[int], send: socket.socket, recv: socket.socket,
                 icmp: socket.socket | None, rate: int, retries: int, cancel: threading.Event,
                 deadline: float | None, progress: Callable[[int, int], None] | None) -> None:
        rng = random.SystemRandom()
        self.host, self.send, self.recv, self.icmp_sock = host, send, recv, icmp
        self.rate, self.passes_left, self.cancel, self.deadline = rate, retries, cancel, deadline
        self.progress = progress
        self.sport = rng.randint(40000, 60999)
        self.base, self.mult = rng.getrandbits(32), rng.getrandbits(32) | 1
        self.src_b, self.target = socket.inet_aton(src), socket.inet_aton(host)
        _attach_filter(recv, _bpf_filter(self.target, self.sport))  # an optimisation: the parser checks again
        # Per-port state lives in flat arrays, not lists of Python ints/floats: a run sweeping many
        # devices at once holds one set per device (lists cost ~4 MB per device, arrays ~0.7 MB).
        self.order = array("H", ports)
        # spread probes over the port space, as a device's rate limiter would like; the order
        # needs no secrecy (the sequence numbers carry that), so a seeded PRNG, not os.urandom per swap
        random.Random(rng.getrandbits(64)).shuffle(self.order)
        self.states = bytearray(65536)
        self.sent_at = array("d", bytes(8 * 65536))
        self.res = SynSweepResult(rate=rate, retries=retries, source_port=self.sport)
        self.answered = self.icmp = 0
        self.max_rtt = 0.0
        self.started = time.monotonic()
        self.todo, self.idx, self.first = self.order, 0, True
        self.pass_start = self.started
        self.settle_until: float | None = None  # set while waiting for late answers after a pass
        self.answered_before_pass = 0
        self.complete = False
        self.error: OSError | None = None
        self.done = threading.Event()

    def seq_of(self, port: int) -> int:
        return (self.base + port * self.mult) & 0xFFFFFFFF

    def stopped(self, now: float) -> bool:
        return self.cancel.is_set() or (self.deadline is not None and now > self.deadline)

    def step(self, now: float, burst: int) -> float:
        """Send what the rate allows now (at most `burst`), move between passes; returns the time
        this job next wants attention, or 0 when it has finished."""
        if self.stopped(now):
            return self._finish(False)
        if self.settle_until is not None:
            if now < self.settle_until:
                return self.settle_until
            self.settle_until = None
            if not self.first:
                self.res.answered_after_retransmit += self.answered - self.answered_before_pass
            todo = array("H", (p for p in self.order if not self.states[p])) if self.passes_left > 0 else array("H")
            if not todo:
                return self._finish(True)
            self.passes_left -= 1
            self.todo, self.idx, self.first, self.pass_start = todo, 0, False, now
            self.answered_before_pass = self.answered
        sent = 0
        while self.idx < len(self.todo) and sent < burst:
            due = self.pass_start + self.idx / self.rate
            if due > now:
                return due
            port = self.todo[self.idx]
            self.idx += 1
            if self.first and self.progress and self.idx % 4096 == 0:
                self.progress(self.idx, len(self.todo))
            if self.states[port]:
                continue
            self._send(port)
            sent += 1
        if self.idx >= len(self.todo):
            # a bounded wait for late answers: a few round-trips, at least 0.3 s, at most 2 s
            self.settle_until = now + min(2.0, max(0.3, 4 * self.max_rtt))
            return self.settle_until
        return now

    def _send(self, port: int) -> None:
        pkt = build_syn(self.src_b, self.target, self.sport, port, self.seq_of(port))
        self.sent_at[port] = time.monotonic()
        for attempt in range(50):  # ENOBUFS: the qdisc is full; back off briefly, bounded
            try:
                self.send.sendto(pkt, (self.host, 0))
                break
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                time.sleep(0.002 * (attempt + 1))
        self.res.packets_sent += 1
        if not self.first:
            self.res.retransmitted += 1

    def _finish(self, complete: bool) -> float:
        self.complete = complete
        self.done.set()
        return 0.0

    def record(self, port: int, state: int) -> None:
        if self.states[port] == 0:
            self.states[port] = state
            self.answered += 1
            rtt = time.monotonic() - self.sent_at[port]
            if 0 < rtt < 10:
                self.max_rtt = max(self.max_rtt, rtt)

    def on_tcp(self, pkt: bytes) -> None:
        if len(pkt) < 40 or pkt[12:16] != self.target:
            return
        ihl = (pkt[0] & 0x0F) * 4
        if len(pkt) < ihl + 20:
            return
        sport, dport, _seq, ack, off_flags = struct.unpack_from("!HHIIH", pkt, ihl)
        flags = off_flags & 0x3F
        if dport != self.sport or not flags & _ACK or ack != (self.seq_of(sport) + 1) & 0xFFFFFFFF:
            return
        if flags & _SYN:
            self.record(sport, _OPEN)
        elif flags & _RST:
            self.record(sport, _CLOSED)

    def on_icmp(self, pkt: bytes) -> None:
        ihl = (pkt[0] & 0x0F) * 4
        if len(pkt) < ihl + 8 + 20 + 8 or pkt[ihl] != 3:  # destination unreachable
            return
        inner = pkt[ihl + 8:]
        iihl = (inner[0] & 0x0F) * 4
        if inner[9] != socket.IPPROTO_TCP or inner[16:20] != self.target or len(inner) < iihl + 8:
            return
        sport, dport, seq = struct.unpack_from("!HHI", inner, iihl)
        if sport == self.sport and seq == self.seq_of(dport):
            self.icmp += 1
            self.record(dport, _ICMP)


class _Mux:
    """One thread that sends and receives for every sweep running in this process.

    Why one thread: a run over many devices sweeps them all at once. With a sender and a receiver
    thread per device, 32 threads fight for the GIL around every sendto/recv and the run spent more
    CPU on that contention than on packets (16 lab devices: 39 s threaded against 25 s one after
    the other). Here each device still gets its own rate, sockets and sequence numbers; one loop
    sends every job's due packets in bursts, then drains whatever replies are queued.
    """

    BURST = 64  # packets per job per loop turn

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: list[_Job] = []
        self.thread: threading.Thread | None = None

    def add(self, job: _Job) -> None:
        with self.lock:
            self.jobs.append(job)
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="syn-sweep", daemon=True)
                self.thread.start()

    def _loop(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # a bug here must not leave callers waiting: fail every job
            with self.lock:
                jobs, self.jobs, self.thread = self.jobs, [], None
            for j in jobs:
                j.error = OSError(f"SYN sweep loop failed: {exc!r}")
                j.done.set()

    def _run(self) -> None:
        while True:
            with self.lock:
                jobs = [j for j in self.jobs if not j.done.is_set()]
                self.jobs = jobs
                if not jobs:
                    self.thread = None
                    return
            now = time.monotonic()
            wake = now + 0.05
            for job in jobs:
                try:
                    nxt = job.step(now, self.BURST)
                except OSError as exc:
                    job.error = exc
                    nxt = job._finish(False)
                if nxt:
                    wake = min(wake, nxt)
            # sleep at least a couple of milliseconds unless a job is behind its rate: waking for
            # every packet costs more CPU than the packets (a burst catches up on the next turn)
            behind = wake <= now
            self._drain(jobs, 0.0 if behind else max(0.002, wake - time.monotonic()))

    @staticmethod
    def _drain(jobs: list[_Job], wait: float) -> None:
        owners: dict[socket.socket, tuple[_Job, bool]] = {}
        for j in jobs:
            if not j.done.is_set():
                owners[j.recv] = (j, True)
                if j.icmp_sock is not None:
                    owners[j.icmp_sock] = (j, False)
        if not owners:
            return
        try:
            ready, _, _ = select.select(list(owners), [], [], min(wait, 0.05))
        except (OSError, ValueError):
            return  # a socket was closed under us: its job has ended
        for s in ready:
            job, is_tcp = owners[s]
            for _ in range(512):  # drain what is queued without blocking, bounded per turn
                try:
                    pkt = s.recv(256, socket.MSG_DONTWAIT)
                except OSError:  # nothing queued (BlockingIOError), or the socket is gone
                    break
                if is_tcp:
                    job.on_tcp(pkt)
                else:
                    job.on_icmp(pkt)


_MUX = _Mux()


def syn_sweep(host: str, ports: Sequence[int], *, rate: int = DEFAULT_RATE, retries: int = DEFAULT_RETRIES,
              cancel: threading.Event | None = None, deadline: float | None = None,
              progress: Callable[[int, int], None] | None = None) -> SynSweepResult:
    """SYN-probe every port; raise SynUnavailable when raw sockets cannot be used."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise SynUnavailable(f"{host!r} is not an IP literal") from None
    if addr.version != 4:
        raise SynUnavailable("the SYN sweep is IPv4-only")
    if os.geteuid() != 0:
        raise SynUnavailable("not running as root (raw sockets need CAP_NET_RAW)")
    cancel = cancel or threading.Event()
    rate = max(1, int(rate))
    retries = max(0, min(int(retries), MAX_RETRIES))
    try:
        src = source_address(host)
    except OSError as exc:
        raise SynUnavailable(f"no route to {host}: {exc}") from None
    try:
        send = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    except OSError as exc:
        raise SynUnavailable(f"raw socket refused: {exc}") from None
    recv = icmp = None
    try:
        recv = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        # connect(): the kernel then matches the raw socket's packets by source address before it
        # copies them to the socket, instead of copying every TCP packet the host receives into every
        # sweep's socket for the BPF filter to drop (a small saving: 16 threaded sweeps 41.6 -> 38.8 s).
        recv.connect((host, 0))
        try:
            icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except OSError:
            icmp = None
        for s in (recv, icmp):
            if s is None:
                continue
            try:
                s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root): replies arrive in bursts
            except OSError:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        return _sweep(host, src, array("H", dict.fromkeys(ports)), send, recv, icmp, rate, retries, cancel, deadline,
                      progress)
    except OSError as exc:
        raise SynUnavailable(f"raw socket error: {exc}") from None
    finally:
        for s in (send, recv, icmp):
            if s is not None:
                s.close()


def _sweep(host: str, src: str, ports: Sequence[int], send: socket.socket, recv: socket.socket,
           icmp: socket.socket | None, rate: int, retries: int, cancel: threading.Event, deadline: float | None,
           progress: Callable[[int, int], None] | None) -> SynSweepResult:
    job = _Job(host, src, ports, send, recv, icmp, rate, retries, cancel, deadline, progress)
    _MUX.add(job)
    # the mux finishes every job on its own bounds (cancel, deadline, passes); this wait is a backstop
    limit = time.monotonic() + (retries + 1) * (len(ports) / rate + 3.0) + 30.0
    while not job.done.wait(0.2):
        if time.monotonic() > limit:
            cancel.set()
            if not job.done.wait(5):
                raise OSError("the SYN sweep did not stop when asked")
    if job.error is not None:
        raise job.error
    res = job.res
    if progress and job.complete:
        progress(len(ports), len(ports))
    res.complete = job.complete
    res.max_rtt = job.max_rtt
    res.icmp_unreachable = job.icmp
    for p in ports:
        st = job.states[p]
        if st == _OPEN:
            res.open_ports.append(p)
        elif st == _CLOSED:
            res.closed_ports.append(p)
        elif st == _ICMP or job.complete:
            res.filtered_ports.append(p)
    res.closed, res.filtered = len(res.closed_ports), len(res.filtered_ports)
    res.scanned = len(res.open_ports) + res.closed + res.filtered
    res.open_ports.sort()
    res.elapsed = time.monotonic() - job.started
    return res
