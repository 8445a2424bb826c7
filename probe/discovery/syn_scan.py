"""Half-open (SYN) port sweep over raw sockets, for when probe runs as root.

Why: a connect sweep has to wait out a timeout for every port a hardened device silently drops, so
a full 65,535-port sweep of a gateway with a drop policy takes minutes. A SYN sweep sends probes
without waiting for each answer, collects SYN-ACKs (open), RSTs (closed) and ICMP unreachables
(filtered) as they arrive, and retransmits a probe only when its own timeout has passed.

How fast: adaptively, under a ceiling (`max_rate`, `--max-rate`). The sweep starts at a moderate
rate and raises it while the device keeps up, and cuts it as soon as the device shows it does not
(the idea of nmap's congestion control, rate-based here; see RateControl and docs/discovery.md):
a probe answered only on a retransmission proves the first one was lost; round-trip times that
grow well past the lowest seen mean a queue is building up in front of the device. A fragile
device is thus swept no faster than it answers, and never faster than the ceiling.

How: SYNs are built with struct (scapy is far too slow for 65k packets) and sent on an
AF_INET/SOCK_RAW/IPPROTO_TCP socket, so the kernel adds the IP header. Replies are read on the same
socket, connected to the target and with a classic-BPF filter (source = target, destination port =
our random source port), so the kernel discards the rest of the host's traffic. Each try of each
port carries its own sequence number, so a reply names the exact probe it answers (a late answer
to the first try is not mistaken for a lost probe) and counts only if its ACK is that number + 1. Our kernel answers
each SYN-ACK with a RST because no local socket owns it: that is ordinary half-open scanning and
leaves no connection on the device. Every sweep of the process (one per device in a multi-target
run) is driven by a shared send/receive loop (_Mux, one per core, at most two), each with its own
rate control.

Bounded in count and time: at most 1 + MAX_RETRIES probes per port, sent no slower than
MIN_RATE (unless the ceiling is lower), each waited for at most MAX_RTO.

IPv4 only; `SynUnavailable` tells the caller to fall back to the connect sweep.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import ipaddress
import os
import random
import select
import socket
import struct
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from probe.options import DEFAULT_MAX_RATE  # packets/s: the ceiling when the operator sets none

START_RATE = 5_000  # the first interval's rate (or the ceiling, when lower)
MIN_RATE = 1_000  # cuts stop here (or at the ceiling, when lower): a bound on the sweep's time
DEFAULT_RETRIES = 1  # an unanswered probe is sent once more...
MAX_RETRIES = 6  # ...and up to this many times while retransmissions are being answered (lossy path)
INITIAL_RTO, MIN_RTO, MAX_RTO = 0.3, 0.1, 1.0  # seconds a first probe is waited for before it is retried
MAX_BACKOFF = 2.0  # seconds: the longest wait for any try (the wait doubles with each retransmission)
CONTROL_INTERVAL = 0.05  # seconds between rate decisions (at least two smoothed RTTs)
RTT_GROWTH_SLACK = 0.02  # a sample this much over twice the lowest RTT is queueing, not jitter
_TRY_STRIDE = 1 << 24  # sequence-number distance between two tries of one port

_OPEN, _CLOSED, _ICMP = 1, 2, 3
_SYN, _RST, _ACK = 0x02, 0x04, 0x10
_MSS_OPTION = b"\x02\x04\x05\xb4"  # MSS 1460, as a normal stack's SYN carries one


class SynUnavailable(Exception):
    """The SYN sweep cannot run here (not root, IPv6 target, raw sockets refused)."""


@dataclass
class SynSweepResult:
    open_ports: list[int] = field(default_factory=list)
    # compact arrays, not lists: a full sweep has ~65,000 closed or filtered ports per device, and a
    # list of them costs 2.4 MB of int objects (16 devices finishing together: ~40 MB at once)
    closed_ports: array[int] = field(default_factory=lambda: array("H"))
    filtered_ports: array[int] = field(default_factory=lambda: array("H"))
    closed: int = 0  # answered with RST
    filtered: int = 0  # no answer after every retransmission, or ICMP unreachable
    icmp_unreachable: int = 0  # subset of filtered: an ICMP destination-unreachable named the probe
    unreachable: int = 0  # always 0 here (kept for the same shape as the connect sweep's result)
    scanned: int = 0  # ports with a final state
    complete: bool = True
    elapsed: float = 0.0
    packets_sent: int = 0
    retransmitted: int = 0
    answered_after_retransmit: int = 0  # ports whose first answer was to a retransmission (lost probes)
    icmp_after_retransmit: int = 0  # of those, answered by ICMP (the device rate-limits its ICMP errors)
    max_rate: int = DEFAULT_MAX_RATE  # the ceiling
    start_rate: int = START_RATE
    rate_reached: int = 0  # the highest send rate measured over one control interval (packets/s)
    final_rate: int = 0  # the rate control's rate when the sweep ended
    rate_cuts: int = 0  # times the rate was cut (lost probes or growing RTT)
    rate_cuts_rtt: int = 0  # of those, for growing round-trip times
    retries: int = DEFAULT_RETRIES  # retransmissions allowed at the start
    retries_reached: int = DEFAULT_RETRIES  # retransmissions allowed at the end (grows on a lossy path)
    min_rtt: float = 0.0
    max_rtt: float = 0.0
    source_port: int = 0


_SYN_HEADER = struct.Struct("!HHIIHHHH4s")  # TCP header + MSS option: 24 bytes
_OFFSET_FLAGS = ((_SYN_HEADER.size // 4) << 12) | _SYN
_WINDOW = 1024


class SynBuilder:
    """SYN segments (no IP header) from one source to one target, checksum included.

    Why not pack and checksum each segment from scratch: a full sweep builds 65,535 of them on one
    Python thread, and only the destination port and the sequence number change between two. The
    one's-complement sum of everything else (the IPv4 pseudo-header, the source port, flags,
    window, MSS option) is added up once; each segment adds three 16-bit words to it.
    """

    def __init__(self, src: bytes, dst: bytes, sport: int) -> None:
        self.sport = sport
        fixed = src + dst + struct.pack("!BBHHHHH", 0, socket.IPPROTO_TCP, _SYN_HEADER.size, sport, _OFFSET_FLAGS,
                                        _WINDOW, 0) + _MSS_OPTION
        self.base = sum(struct.unpack(f"!{len(fixed) // 2}H", fixed))

    def __call__(self, dport: int, seq: int) -> bytes:
        s = self.base + dport + (seq >> 16) + (seq & 0xFFFF)
        s = (s >> 16) + (s & 0xFFFF)
        s += s >> 16
        return _SYN_HEADER.pack(self.sport, dport, seq, 0, _OFFSET_FLAGS, _WINDOW, ~s & 0xFFFF, 0, _MSS_OPTION)


def build_syn(src: bytes, dst: bytes, sport: int, dport: int, seq: int) -> bytes:
    """A TCP SYN segment (no IP header) with a correct checksum over the IPv4 pseudo-header."""
    return SynBuilder(src, dst, sport)(dport, seq)


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


class RateControl:
    """How fast one sweep may send now: slow start, multiplicative cuts on loss, a hard ceiling.

    The same shape as TCP's and nmap's congestion control, on a rate instead of a window (a sweep
    keeps no connection whose window could clock it): every CONTROL_INTERVAL without a loss signal
    the rate doubles (below `ssthresh`) or grows by an eighth (above it), never past `ceiling`.
    A lost probe halves it and sets `ssthresh` there; round-trip times growing past twice the lowest
    seen (plus RTT_GROWTH_SLACK for our own scheduling jitter) cut it by a quarter. One congestion
    episode cuts once: only a probe first sent after the last cut can cause the next one, as TCP
    cuts once per window. The rate never falls below `floor`, which bounds the sweep's duration.
    Pure arithmetic on the times it is given, so the policy is unit-testable without a network.
    """

    def __init__(self, ceiling: float, start: float = START_RATE, floor: float = MIN_RATE) -> None:
        self.ceiling = float(ceiling)
        self.floor = min(float(floor), self.ceiling)
        self.rate = max(self.floor, min(float(start), self.ceiling))
        self.ssthresh = self.ceiling
        self.last_cut = -1.0  # time of the last cut (probes first sent before it cannot cut again)
        self.cuts = self.cuts_rtt = 0
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.min_rtt: float | None = None
        self.max_rtt = 0.0
        self._interval_start: float | None = None
        self._interval_rtt_sum = 0.0
        self._interval_rtt_n = 0
        self._interval_sent = 0
        self._interval_cut = False
        self.peak = 0.0  # highest measured send rate over an interval

    def rto(self) -> float:
        """How long a probe is waited for before it is retried (RFC 6298's estimator, clamped)."""
        if self.srtt is None:
            return INITIAL_RTO
        return max(MIN_RTO, min(MAX_RTO, self.srtt + 4 * self.rttvar))

    def on_rtt(self, rtt: float) -> None:
        if not 0 < rtt < 10:
            return
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.min_rtt = rtt if self.min_rtt is None else min(self.min_rtt, rtt)
        self.max_rtt = max(self.max_rtt, rtt)
        self._interval_rtt_sum += rtt
        self._interval_rtt_n += 1

    def on_sent(self, n: int = 1) -> None:
        self._interval_sent += n

    def on_loss(self, first_sent: float, now: float) -> bool:
        """A probe first sent at `first_sent` was lost (its retransmission was answered)."""
        if first_sent <= self.last_cut:
            return False
        self._cut(0.5, now)
        self.ssthresh = self.rate
        return True

    def _cut(self, factor: float, now: float) -> None:
        self.rate = max(self.floor, self.rate * factor)
        self.last_cut = now
        self.cuts += 1
        self._interval_cut = True

    def tick(self, now: float, sending: bool) -> None:
        """Called every loop turn: close the control interval when it is due and decide."""
        if self._interval_start is None:
            self._interval_start = now
            return
        length = now - self._interval_start
        if length < max(CONTROL_INTERVAL, 2 * (self.srtt or 0.0)):
            return
        if self._interval_sent:
            self.peak = max(self.peak, self._interval_sent / length)
        growing = (self._interval_rtt_n >= 4 and self.min_rtt is not None
                   and self._interval_rtt_sum / self._interval_rtt_n > 2 * self.min_rtt + RTT_GROWTH_SLACK)
        if growing and not self._interval_cut and self._interval_start > self.last_cut:
            self._cut(0.75, now)
            self.cuts_rtt += 1
            self.ssthresh = self.rate
        elif not self._interval_cut and sending:
            step = self.rate if self.rate < self.ssthresh else self.rate / 8
            self.rate = min(self.ceiling, self.rate + step)
        self._interval_start = now
        self._interval_rtt_sum, self._interval_rtt_n, self._interval_sent = 0.0, 0, 0
        self._interval_cut = False


_BATCH = 64  # probes handed to the kernel in one sendmmsg(2) call
_SLOT = _SYN_HEADER.size  # bytes per probe in a batch buffer
_PATCH = struct.Struct("!HIIHHH")  # what changes between two probes: dport, seq, ack, flags, window, checksum
_REPLY = struct.Struct("!HHIIxB")  # a reply's TCP header up to its flags: sport, dport, seq, ack, flags
_QUOTE = struct.Struct("!HHI")  # the TCP header an ICMP error quotes: sport, dport, seq
_SIOCGSTAMPNS = 0x8907  # ioctl: when the kernel received the packet last read from a socket
_STAMP = struct.Struct("@qq")  # struct timespec on 64-bit Linux


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", _Msghdr), ("len", ctypes.c_uint)]


def _libc(dll: type[ctypes.CDLL], name: str, *args: type) -> Callable[..., int] | None:
    try:
        fn = getattr(dll(None, use_errno=True), name)
    except (OSError, AttributeError):  # no such libc call here: the socket module's calls instead
        return None
    fn.restype = ctypes.c_int
    fn.argtypes = list(args)
    return fn


# sendmmsg releases the GIL (CDLL): the kernel's work for a batch (~0.35 ms, the device's answers
# included on a veth) runs while the receiving thread parses replies. recvmmsg and the time-stamp
# ioctl keep it (PyDLL): non-blocking calls of microseconds, where a GIL hand-over would cost more
# than the call and leave the receiver queued behind every other thread of the run.
_SENDMMSG = _libc(ctypes.CDLL, "sendmmsg", ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int)
_RECVMMSG = _libc(ctypes.PyDLL, "recvmmsg", ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int,
                  ctypes.c_void_p)
_IOCTL = _libc(ctypes.PyDLL, "ioctl", ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)
_RBATCH, _RSLOT = 64, 256  # replies read per recvmmsg call, and bytes kept of each (headers are enough)


class _Inbox:
    """Replies read up to _RBATCH at a time with recvmmsg(2) into one reused buffer (the receiving
    thread's own). Falls back to one recv per packet where libc has no recvmmsg."""

    def __init__(self) -> None:
        self.buf = ctypes.create_string_buffer(_RSLOT * _RBATCH)
        self._iov = (_Iovec * _RBATCH)()
        self._msgs = (_Mmsghdr * _RBATCH)()
        base = ctypes.addressof(self.buf)
        for i in range(_RBATCH):
            self._iov[i].base, self._iov[i].len = base + i * _RSLOT, _RSLOT
            self._msgs[i].hdr.iov, self._msgs[i].hdr.iovlen = ctypes.addressof(self._iov[i]), 1
        self._msgs_at = ctypes.addressof(self._msgs)
        words = ctypes.sizeof(_Mmsghdr) // 4  # msg_len is the uint32 after each 56-byte msghdr
        self._lens = memoryview(self._msgs).cast("B").cast("I")[_Mmsghdr.len.offset // 4::words]
        self._stamp = (ctypes.c_int64 * 2)()

    def read(self, sock: socket.socket) -> list[bytes]:
        """What is queued on `sock` now (at most _RBATCH packets), without blocking."""
        if _RECVMMSG is None:
            out = []
            for _ in range(_RBATCH):
                try:
                    out.append(sock.recv(_RSLOT, socket.MSG_DONTWAIT))
                except OSError:
                    break
            return out
        n = _RECVMMSG(sock.fileno(), self._msgs_at, _RBATCH, socket.MSG_DONTWAIT, None)
        if n <= 0:
            return []
        raw, lens = self.buf.raw, self._lens
        return [raw[i * _RSLOT:i * _RSLOT + lens[i]] for i in range(n)]

    def stamp(self, sock: socket.socket) -> float | None:
        """When the kernel received the packet last read from `sock` (CLOCK_REALTIME seconds), or None."""
        if _IOCTL is None:
            return _kernel_stamp(sock)
        if _IOCTL(sock.fileno(), _SIOCGSTAMPNS, ctypes.addressof(self._stamp)) != 0 or not self._stamp[0]:
            return None
        return self._stamp[0] + self._stamp[1] * 1e-9


class _Batch:
    """Up to _BATCH SYNs to one target, written in place and sent with one sendmmsg(2) system call.

    Why: the kernel's own work per probe (routing, the veth hop, the device's RST coming back) is
    fixed, but a Python `sendto` per probe adds its call, an address tuple parse and a bytes object
    on top; one call per 64 probes cut the send path's CPU by a fifth here (65,535 probes: 0.45 s
    with sendto, 0.35 s with sendmmsg). The buffer holds a complete SYN template per slot (source
    port, flags, window, MSS option); each probe patches only its destination port, sequence number
    and checksum into its slot. ctypes is in the standard library: no C build is needed, and where
    libc has no sendmmsg the same buffer goes out slot by slot with sendto.
    """

    def __init__(self, sock: socket.socket, host: str, template: bytes) -> None:
        self.sock, self.addr = sock, (host, 0)
        self.buf = ctypes.create_string_buffer(template * _BATCH, _SLOT * _BATCH)
        self.view = memoryview(self.buf).cast("B")
        self._sa = ctypes.create_string_buffer(struct.pack("=HH4s8x", socket.AF_INET, 0, socket.inet_aton(host)))
        self._iov = (_Iovec * _BATCH)()
        self._msgs = (_Mmsghdr * _BATCH)()
        base = ctypes.addressof(self.buf)
        for i in range(_BATCH):
            self._iov[i].base, self._iov[i].len = base + i * _SLOT, _SLOT
            hdr = self._msgs[i].hdr
            hdr.name, hdr.namelen = ctypes.addressof(self._sa), 16
            hdr.iov, hdr.iovlen = ctypes.addressof(self._iov[i]), 1
        self._msgs_at = ctypes.addressof(self._msgs)

    def send(self, n: int) -> None:
        """Send slots 0..n-1. ENOBUFS (the qdisc is full) or EINTR backs off briefly, at most 50
        times per batch; every other pass of the loop sends at least one slot."""
        done = stalls = 0
        while done < n:
            if _SENDMMSG is not None:
                r = _SENDMMSG(self.sock.fileno(), self._msgs_at + done * ctypes.sizeof(_Mmsghdr), n - done, 0)
                if r > 0:
                    done += r
                    continue
                err = ctypes.get_errno()
            else:
                try:
                    self.sock.sendto(self.view[done * _SLOT:(done + 1) * _SLOT], self.addr)
                    done += 1
                    continue
                except OSError as exc:
                    err = exc.errno or 0
            if err not in (errno.ENOBUFS, errno.EINTR):
                raise OSError(err, os.strerror(err))
            stalls += 1
            if stalls > 50:
                raise OSError(errno.ENOBUFS, "the send queue stayed full")
            time.sleep(0.002 * stalls)


def _kernel_stamp(sock: socket.socket) -> float | None:
    """When the kernel received the packet last read from `sock` (CLOCK_REALTIME seconds), or None."""
    try:
        sec, nsec = _STAMP.unpack(fcntl.ioctl(sock.fileno(), _SIOCGSTAMPNS, bytes(_STAMP.size)))
    except OSError:
        return None
    return sec + nsec * 1e-9 if sec else None


class _Job:
    """One target's sweep: what to send, what came back. Driven by the shared _Mux thread."""

    def __init__(self, host: str, src: str, ports: array[int], send: socket.socket, recv: socket.socket,
                 icmp: socket.socket | None, max_rate: int, start_rate: int, retries: int,
                 cancel: threading.Event, deadline: float | None,
                 progress: Callable[[int, int], None] | None, on_open: Callable[[int], None] | None) -> None:
        rng = random.SystemRandom()
        self.on_open = on_open
        self.host, self.send, self.recv, self.icmp_sock = host, send, recv, icmp
        self.cancel, self.deadline, self.progress = cancel, deadline, progress
        self.base_retries = retries
        self.sport = rng.randint(40000, 60999)
        self.base, self.mult = rng.getrandbits(32), rng.getrandbits(32) | 1
        self.src_b, self.target = socket.inet_aton(src), socket.inet_aton(host)
        self.syn = SynBuilder(self.src_b, self.target, self.sport)
        self.batch = _Batch(send, host, self.syn(0, 0))
        _attach_filter(recv, _bpf_filter(self.target, self.sport))  # an optimisation: the parser checks again
        # Per-port state lives in flat arrays indexed by port, not in per-probe objects: a run sweeping
        # many devices at once holds one set per device (~0.9 MB each). Times are float32 seconds since
        # the sweep started (30 us resolution after the longest sweep the bounds allow, ~8 min).
        self.order = ports
        # spread probes over the port space, as a device's rate limiter would like; the order
        # needs no secrecy (the sequence numbers carry that), so a seeded PRNG, not os.urandom per swap
        random.Random(rng.getrandbits(64)).shuffle(self.order)
        self.states = bytearray(65536)
        self.tries = bytearray(65536)  # probes sent per port
        self.sent_at = array("f", bytes(4 * 65536))  # the latest try's send time
        self.first_sent = array("f", bytes(4 * 65536))  # the first try's
        # every probe sent, one queue per try number (each in send order, so each queue's oldest
        # probe is the next to time out: a try waits rto * 2**tryno, TCP's backoff); heads[k] is the
        # oldest probe of queue k not yet resolved
        self.pending = [array("H") for _ in range(1 + MAX_RETRIES)]
        self.heads = [0] * (1 + MAX_RETRIES)
        self.retry_queue: deque[int] = deque()
        self.exhausted = array("H")  # ports given up at the retries allowed then: retried if that grows
        self.allowed = 1 + retries  # tries per port allowed now
        self.ctl = RateControl(max_rate, start_rate)
        self.res = SynSweepResult(max_rate=max_rate, start_rate=int(self.ctl.rate), retries=retries,
                                  source_port=self.sport)
        self.max_answered_try = 0
        self.started = time.monotonic()
        self.idx = 0
        self.credit = 0.0
        self.last_step: float | None = None
        self.complete = False
        self.error: OSError | None = None
        self.done = threading.Event()

    def seq_of(self, port: int, tryno: int = 0) -> int:
        return (self.base + port * self.mult + tryno * _TRY_STRIDE) & 0xFFFFFFFF

    def try_of(self, port: int, seq: int) -> int | None:
        """Which try of `port` carried sequence number `seq` (None: none of ours)."""
        d = (seq - self.base - port * self.mult) & 0xFFFFFFFF
        if d % _TRY_STRIDE:
            return None
        t = d // _TRY_STRIDE
        return t if t < self.tries[port] else None

    def allowed_retries(self) -> int:
        """Retransmissions per port: the operator's number, raised (up to MAX_RETRIES) to one more
        than the latest try that was ever answered: on a lossy path retries keep finding answers."""
        if self.base_retries == 0:
            return 0
        return min(MAX_RETRIES, max(self.base_retries, self.max_answered_try + 1))

    def stopped(self, now: float) -> bool:
        return self.cancel.is_set() or (self.deadline is not None and now > self.deadline)

    def step(self, now: float) -> float:
        """Resolve timed-out probes, send what the rate allows now; returns the time this job next
        wants attention, or 0 when it has finished."""
        if self.stopped(now):
            return self._finish(False)
        ctl = self.ctl
        sending = bool(self.retry_queue) or self.idx < len(self.order)
        ctl.tick(now, sending)
        self._expire(now, ctl.rto())
        burst = max(float(_BATCH), ctl.rate * 0.004)  # at most ~4 ms of sending in one go
        if self.last_step is not None:
            self.credit = min(burst, self.credit + (now - self.last_step) * ctl.rate)
        else:
            self.credit = min(burst, 16.0)
        self.last_step = now
        if self.credit >= 1.0:
            before = self.idx
            sent = self._send(int(self.credit), now)
            self.credit -= sent
            ctl.on_sent(sent)
            if self.progress and self.idx // 4096 != before // 4096:
                self.progress(self.idx, len(self.order))
        if not self.retry_queue and self.idx >= len(self.order):
            rel, rto = now - self.started, ctl.rto()
            due = [self.sent_at[q[h]] + self.wait_for(k, rto)
                   for k, (q, h) in enumerate(zip(self.pending, self.heads, strict=True)) if h < len(q)]
            if not due:
                return self._finish(True)
            return max(now + 0.002, now + min(due) - rel)
        return now + 1.0 / ctl.rate if self.credit < 1.0 else now

    @staticmethod
    def wait_for(tryno: int, rto: float) -> float:
        """How long try `tryno` of a port is waited for: the RTO, doubled per earlier try."""
        return min(MAX_BACKOFF, rto * (1 << tryno))

    def _expire(self, now: float, rto: float) -> None:
        """Walk the oldest probes: answered ones leave; timed-out ones are retried or given up."""
        allowed = 1 + self.allowed_retries()
        if allowed > self.allowed:  # retries are being answered: give the ports given up so far their new tries
            self.allowed = allowed
            self.retry_queue.extend(p for p in self.exhausted if not self.states[p])
            self.exhausted = array("H")
        states, sent_at, rel = self.states, self.sent_at, now - self.started
        for k, pending in enumerate(self.pending):
            wait = self.wait_for(k, rto)
            head = self.heads[k]
            while head < len(pending):
                port = pending[head]
                if states[port]:
                    head += 1
                    continue
                if sent_at[port] + wait > rel:
                    break
                head += 1
                self._timed_out(port, allowed)
            self.heads[k] = head

    def _timed_out(self, port: int, allowed: int) -> None:
        if self.tries[port] < allowed:
            self.retry_queue.append(port)
        elif allowed < 1 + MAX_RETRIES:
            self.exhausted.append(port)
        # else: given up; the port stays unanswered (filtered once the sweep is complete)

    def _send(self, n: int, now: float) -> int:
        """Send up to `n` probes (retransmissions first, then new ports) in batches; returns how many.

        The per-probe work is kept to a sequence number, a three-word checksum completion and one
        pack_into into the batch buffer, plus the per-port arrays: this loop runs 65,535 times per
        device, and with many devices it is the run's busiest Python code."""
        rel = now - self.started
        buf, patch, batch = self.batch.buf, _PATCH.pack_into, self.batch
        states, tries, pending = self.states, self.tries, self.pending
        sent_at, first_sent = self.sent_at, self.first_sent
        retry, order, idx, total = self.retry_queue, self.order, self.idx, len(self.order)
        base, mult, csum0 = self.base, self.mult, self.syn.base
        sent = k = retransmitted = 0
        while sent + k < n:
            if retry:
                port = retry.popleft()
                if states[port]:
                    continue
            elif idx < total:
                port = order[idx]
                idx += 1
            else:
                break
            tryno = tries[port]
            seq = (base + port * mult + (tryno << 24)) & 0xFFFFFFFF
            c = csum0 + port + (seq >> 16) + (seq & 0xFFFF)
            c = (c >> 16) + (c & 0xFFFF)
            c += c >> 16
            patch(buf, k * _SLOT + 2, port, seq, 0, _OFFSET_FLAGS, _WINDOW, ~c & 0xFFFF)
            tries[port] = tryno + 1
            sent_at[port] = rel
            if tryno:
                retransmitted += 1
            else:
                first_sent[port] = rel
            pending[tryno].append(port)
            k += 1
            if k == _BATCH:
                self.idx = idx
                batch.send(k)
                sent += k
                k = 0
        self.idx = idx
        if k:
            batch.send(k)
            sent += k
        self.res.packets_sent += sent
        self.res.retransmitted += retransmitted
        return sent

    def _finish(self, complete: bool) -> float:
        self.complete = complete
        self.done.set()
        return 0.0

    def record(self, port: int, state: int, tryno: int) -> None:
        """The first answer for `port` (the caller has checked it is one and names a try we sent)."""
        self.states[port] = state
        if tryno > self.max_answered_try:
            self.max_answered_try = tryno
        if state == _OPEN and self.on_open is not None:
            try:
                self.on_open(port)
            except Exception:  # the caller's hook must not stop every sweep: the port is still reported
                self.on_open = None
        if tryno > 0:  # every earlier try of this port went unanswered: those probes were lost
            self.res.answered_after_retransmit += 1
            if state == _ICMP:
                # the device rate-limits its ICMP errors (Linux: 1,000/s): the port is filtered
                # either way, and slowing to that rate would stretch a full sweep to minutes
                self.res.icmp_after_retransmit += 1
            else:
                self.ctl.on_loss(self.started + self.first_sent[port], time.monotonic())

    def sample_rtt(self, port: int, tryno: int, arrived: float) -> None:
        """One round-trip sample: from the send time of the try answered to `arrived`, when the
        kernel received the answer (monotonic clock). Only for the first try or the latest one, whose
        send time is kept."""
        if tryno == 0:
            sent = self.first_sent[port]
        elif tryno == self.tries[port] - 1:
            sent = self.sent_at[port]
        else:
            return
        self.ctl.on_rtt(arrived - self.started - sent)

    def read_tcp(self, inbox: _Inbox, sock: socket.socket) -> tuple[int, int] | None:
        """Drain the reply socket (bounded per turn): record every SYN-ACK/RST that answers a try of
        ours. Returns (port, try) of the last packet read if it was one, for a round-trip sample."""
        unpack, states, tries = _REPLY.unpack_from, self.states, self.tries
        target, mine, base, mult = self.target, self.sport, self.base, self.mult
        last = None
        for _ in range(16):
            pkts = inbox.read(sock)
            for pkt in pkts:
                last = None
                ihl = (pkt[0] & 0x0F) << 2
                if len(pkt) < ihl + 14 or pkt[12:16] != target:
                    continue
                port, dport, _seq, ack, flags = unpack(pkt, ihl)
                if dport != mine or not flags & _ACK:
                    continue
                d = (ack - 1 - base - port * mult) & 0xFFFFFFFF
                tryno = d >> 24
                if d & 0xFFFFFF or tryno >= tries[port] or states[port]:
                    continue  # not an answer to a try of ours, or not the first answer for the port
                if flags & _SYN:
                    self.record(port, _OPEN, tryno)
                elif not flags & _RST:
                    continue
                elif tryno:
                    self.record(port, _CLOSED, tryno)
                else:  # the common case, inline: a first probe answered by RST
                    states[port] = _CLOSED
                last = (port, tryno)
            if len(pkts) < _RBATCH:
                break
        return last

    def on_icmp(self, pkt: bytes) -> tuple[int, int] | None:
        ihl = (pkt[0] & 0x0F) * 4
        if len(pkt) < ihl + 8 + 20 + 8 or pkt[ihl] != 3:  # destination unreachable
            return None
        inner = pkt[ihl + 8:]
        iihl = (inner[0] & 0x0F) * 4
        if inner[9] != socket.IPPROTO_TCP or inner[16:20] != self.target or len(inner) < iihl + 8:
            return None
        sport, dport, seq = _QUOTE.unpack_from(inner, iihl)
        if sport != self.sport:
            return None
        tryno = self.try_of(dport, seq)
        if tryno is None or self.states[dport]:
            return None
        self.res.icmp_unreachable += 1
        self.record(dport, _ICMP, tryno)
        return dport, tryno

    def read_icmp(self, inbox: _Inbox, sock: socket.socket) -> tuple[int, int] | None:
        last = None
        for _ in range(16):
            pkts = inbox.read(sock)
            for pkt in pkts:
                last = self.on_icmp(pkt)
            if len(pkts) < _RBATCH:
                break
        return last


class _Mux:
    """One thread that sends and receives for the sweeps given to it (a run has one or two: _MUXES).

    Why not a thread per sweep: a run over many devices sweeps them all at once. With a sender and
    a receiver thread per device, 32 threads fight for the GIL around every sendto/recv and the run
    spent more CPU on that contention than on packets (16 lab devices: 39 s threaded against 25 s
    one after the other). Here each device still gets its own rate, sockets and sequence numbers; one loop
    sends every job's due packets in short bursts, then drains whatever replies are queued. Two
    threads for all jobs (one sending, so the kernel's share ran without the GIL, one parsing) were
    measured too and lost: 16 sweeps 20.6 s against 12.3 s, the GIL changing hands every batch.
    Two loops that each own half the jobs (send, parse, send...) win instead: while one is in
    sendmmsg without the GIL, the other parses (see _MUXES).

    Why round trips are timed by the kernel: with many devices (or a busy host) a reply can wait in
    the socket for milliseconds before this loop reads it. Timed at the read, that wait looked like
    a queue building up in front of the device and the rate control cut every sweep for probe's own
    lateness. Each drain therefore asks the kernel when it received the last packet read
    (SIOCGSTAMPNS), and the sample runs from the probe's send time to then.
    """

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
        inbox = _Inbox()
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
                    # each job's own clock reading: a send time taken before the other jobs' bursts
                    # would make every later job's round trips look longer by the loop's work
                    nxt = job.step(time.monotonic())
                except OSError as exc:
                    job.error = exc
                    nxt = job._finish(False)
                if nxt:
                    wake = min(wake, nxt)
            # sleep at least a couple of milliseconds unless a job is behind its rate: waking for
            # every packet costs more CPU than the packets (a burst catches up on the next turn)
            behind = wake <= time.monotonic()
            self._drain(jobs, 0.0 if behind else max(0.002, wake - time.monotonic()), inbox)

    @staticmethod
    def _drain(jobs: list[_Job], wait: float, inbox: _Inbox) -> None:
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
        if not ready:
            return
        # the kernel's receive times are CLOCK_REALTIME; the send times are monotonic
        real_to_mono = time.monotonic() - time.time()
        for s in ready:
            job, is_tcp = owners[s]
            last = job.read_tcp(inbox, s) if is_tcp else job.read_icmp(inbox, s)
            if last is not None:
                stamp = inbox.stamp(s)
                job.sample_rtt(*last, stamp + real_to_mono if stamp is not None else time.monotonic())


# One loop per core, at most two: the kernel's share of a probe (about two thirds of its CPU here: the
# send path, the veth hop, the device's answer) runs in sendmmsg without the GIL, so with two loops
# one core works in the kernel while the other parses. 16 lab devices swept at once on 2 cores:
# 12.6-13.8 s with one loop, 8.6-11.7 s with two, the same CPU (bench/results/2026-12-02-cpu.md).
# More than two was not measured (this machine has two cores).
_MUXES = [_Mux() for _ in range(max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                               else (os.cpu_count() or 1))))]


def syn_sweep(host: str, ports: Sequence[int], *, max_rate: int = DEFAULT_MAX_RATE, start_rate: int = START_RATE,
              retries: int = DEFAULT_RETRIES, cancel: threading.Event | None = None, deadline: float | None = None,
              progress: Callable[[int, int], None] | None = None,
              on_open: Callable[[int], None] | None = None) -> SynSweepResult:
    """SYN-probe every port, never faster than `max_rate` packets/s; raise SynUnavailable when raw
    sockets cannot be used. `on_open(port)` is called (on the sweep's thread: it must return
    quickly) for each port as soon as it is found open."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise SynUnavailable(f"{host!r} is not an IP literal") from None
    if addr.version != 4:
        raise SynUnavailable("the SYN sweep is IPv4-only")
    if os.geteuid() != 0:
        raise SynUnavailable("not running as root (raw sockets need CAP_NET_RAW)")
    cancel = cancel or threading.Event()
    max_rate = max(1, int(max_rate))
    start_rate = max(1, min(int(start_rate), max_rate))
    retries = max(0, min(int(retries), MAX_RETRIES))
    try:
        src = source_address(host)
    except OSError as exc:
        raise SynUnavailable(f"no route to {host}: {exc}") from None
    try:
        # ONE raw TCP socket per sweep sends the probes and reads the replies. connect(): the kernel
        # then matches it by source address before it copies a packet to it, instead of copying every
        # TCP packet the host receives into every sweep's socket for the BPF filter to drop. A raw TCP
        # socket that only sends still receives: a separate unconnected sending socket got a copy of
        # every reply of every device (16 devices: 16 clones per reply, dropped unread once its buffer
        # was full; 3.5 % of a 16-device run's CPU in raw_local_deliver). Sending with an address on
        # the connected socket is allowed for raw sockets.
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    except OSError as exc:
        raise SynUnavailable(f"raw socket refused: {exc}") from None
    icmp = None
    try:
        sock.connect((host, 0))
        try:
            icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except OSError:
            icmp = None
        for s in (sock, icmp):
            if s is None:
                continue
            try:
                s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root): replies arrive in bursts
            except OSError:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            _kernel_stamp(s)  # the first SIOCGSTAMPNS turns on receive timestamps for the socket (it says ENOENT)
        job = _Job(host, src, _port_order(ports), sock, sock, icmp, max_rate, start_rate, retries,
                   cancel, deadline, progress, on_open)
        return _sweep(job, cancel)
    except OSError as exc:
        raise SynUnavailable(f"raw socket error: {exc}") from None
    finally:
        for s in (sock, icmp):
            if s is not None:
                s.close()


def _port_order(ports: Sequence[int]) -> array[int]:
    """The ports once each, as a compact array (a range, the usual case, has no duplicates; a list
    is deduplicated through a 64 KB mask instead of a set of 65,535 Python ints per device)."""
    if isinstance(ports, range) and ports.step > 0 and (not ports or (ports.start >= 0 and ports.stop <= 65536)):
        return array("H", ports)
    seen, out = bytearray(65536), array("H")
    for p in ports:
        if not seen[p]:
            seen[p] = 1
            out.append(p)
    return out


def _sweep(job: _Job, cancel: threading.Event) -> SynSweepResult:
    min(_MUXES, key=lambda m: len(m.jobs)).add(job)  # the least busy loop
    # the mux finishes every job on its own bounds (cancel, deadline, tries, the rate floor); this
    # wait is a backstop against a bug, set past the longest sweep those bounds allow
    floor = job.ctl.floor
    limit = time.monotonic() + (1 + MAX_RETRIES) * (len(job.order) / floor + MAX_BACKOFF) + 30.0
    while not job.done.wait(0.2):
        if time.monotonic() > limit:
            cancel.set()
            if not job.done.wait(5):
                raise OSError("the SYN sweep did not stop when asked")
    if job.error is not None:
        raise job.error
    res, ctl, ports = job.res, job.ctl, job.order
    if job.progress and job.complete:
        job.progress(len(ports), len(ports))
    res.complete = job.complete
    res.min_rtt, res.max_rtt = ctl.min_rtt or 0.0, ctl.max_rtt
    res.rate_reached = int(ctl.peak)
    res.final_rate = int(ctl.rate)
    res.rate_cuts, res.rate_cuts_rtt = ctl.cuts, ctl.cuts_rtt
    res.retries_reached = job.allowed_retries()
    # in port order, through the per-port arrays (no sorted copy of the ports): a port with no try
    # was not asked; one tried and never answered is filtered once the sweep is complete
    states, tries, complete = job.states, job.tries, job.complete
    for p in range(65536):
        st = states[p]
        if st == _CLOSED:
            res.closed_ports.append(p)
        elif st == _OPEN:
            res.open_ports.append(p)
        elif st == _ICMP or (complete and tries[p]):
            res.filtered_ports.append(p)
    res.closed, res.filtered = len(res.closed_ports), len(res.filtered_ports)
    res.scanned = len(res.open_ports) + res.closed + res.filtered
    res.elapsed = time.monotonic() - job.started
    return res


def syn_stats(res: SynSweepResult) -> dict[str, int | float]:
    """What the evidence records of a SYN sweep's pace (discovery.stats): the ceiling, the rate it
    started at, reached and ended with, how often it was cut, retransmissions and lost probes."""
    answered = len(res.open_ports) + len(res.closed_ports) + res.icmp_unreachable
    return {
        "packets_sent": res.packets_sent, "retransmitted": res.retransmitted,
        "answered_after_retransmit": res.answered_after_retransmit,
        "icmp_after_retransmit": res.icmp_after_retransmit,
        # of the ports that answered, the share whose first probe was lost
        "loss_ratio": round(res.answered_after_retransmit / answered, 4) if answered else 0.0,
        "max_rate_pps": res.max_rate, "start_rate_pps": res.start_rate, "rate_reached_pps": res.rate_reached,
        "mean_rate_pps": int(res.packets_sent / res.elapsed) if res.elapsed > 0 else 0,
        "final_rate_pps": res.final_rate, "rate_cuts": res.rate_cuts, "rate_cuts_rtt": res.rate_cuts_rtt,
        "retries": res.retries, "retries_reached": res.retries_reached,
        "min_rtt_ms": round(res.min_rtt * 1000, 2), "max_rtt_ms": round(res.max_rtt * 1000, 2),
    }
