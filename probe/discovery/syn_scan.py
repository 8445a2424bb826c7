"""Half-open (SYN) port sweep over raw sockets, for when probe runs as root.

Why: a connect sweep has to wait out a timeout for every port a hardened device silently drops, so
a full 65,535-port sweep of a gateway with a drop policy takes minutes. A SYN sweep sends every
probe at a fixed rate without waiting, collects SYN-ACKs (open), RSTs (closed) and ICMP
unreachables (filtered) as they arrive, retransmits only the unanswered probes, then waits a
bounded time: the whole sweep costs ports/rate seconds per pass plus a short wait.

How: SYNs are built with struct (scapy is far too slow for 65k packets) and sent on an
AF_INET/SOCK_RAW/IPPROTO_TCP socket, so the kernel adds the IP header. Replies are read on a second
raw TCP socket with a classic-BPF filter (source = target, destination port = our random source
port) so the kernel discards the rest of the host's traffic. A reply counts only if its ACK number
is our sequence number + 1 for that port. Our kernel answers each SYN-ACK with a RST because no
local socket owns it: that is ordinary half-open scanning and leaves no connection on the device.

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


class _Receiver(threading.Thread):
    """Reads replies until stopped; records the first answer per port."""

    def __init__(self, tcp_sock: socket.socket, icmp_sock: socket.socket | None, target: bytes, sport: int,
                 seq_of: Callable[[int], int], states: bytearray, sent_at: list[float]) -> None:
        super().__init__(daemon=True, name="syn-receiver")
        self.tcp_sock, self.icmp_sock = tcp_sock, icmp_sock
        self.target, self.sport, self.seq_of = target, sport, seq_of
        self.states, self.sent_at = states, sent_at
        self.stop = threading.Event()
        self.answered = 0
        self.max_rtt = 0.0
        self.icmp = 0

    def run(self) -> None:
        socks = [s for s in (self.tcp_sock, self.icmp_sock) if s is not None]
        while not self.stop.is_set():
            try:
                ready, _, _ = select.select(socks, [], [], 0.05)
            except (OSError, ValueError):
                return
            for s in ready:
                for _ in range(256):  # drain what is queued without blocking, bounded per wake-up
                    try:
                        pkt = s.recv(256, socket.MSG_DONTWAIT)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        return
                    if s is self.tcp_sock:
                        self._tcp(pkt)
                    else:
                        self._icmp(pkt)

    def _record(self, port: int, state: int) -> None:
        if self.states[port] == 0:
            self.states[port] = state
            self.answered += 1
            rtt = time.monotonic() - self.sent_at[port]
            if 0 < rtt < 10:
                self.max_rtt = max(self.max_rtt, rtt)

    def _tcp(self, pkt: bytes) -> None:
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
            self._record(sport, _OPEN)
        elif flags & _RST:
            self._record(sport, _CLOSED)

    def _icmp(self, pkt: bytes) -> None:
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
            self._record(dport, _ICMP)


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
        return _sweep(host, src, list(dict.fromkeys(ports)), send, recv, icmp, rate, retries, cancel, deadline,
                      progress)
    except OSError as exc:
        raise SynUnavailable(f"raw socket error: {exc}") from None
    finally:
        for s in (send, recv, icmp):
            if s is not None:
                s.close()


def _sweep(host: str, src: str, ports: list[int], send: socket.socket, recv: socket.socket,
           icmp: socket.socket | None, rate: int, retries: int, cancel: threading.Event, deadline: float | None,
           progress: Callable[[int, int], None] | None) -> SynSweepResult:
    res = SynSweepResult(rate=rate, retries=retries)
    rng = random.SystemRandom()
    sport = rng.randint(40000, 60999)
    base = rng.getrandbits(32)
    mult = rng.getrandbits(32) | 1

    def seq_of(port: int) -> int:
        return (base + port * mult) & 0xFFFFFFFF

    src_b, dst_b = socket.inet_aton(src), socket.inet_aton(host)
    _attach_filter(recv, _bpf_filter(dst_b, sport))  # an optimisation only: the parser checks everything again
    states = bytearray(65536)
    sent_at = [0.0] * 65536
    rx = _Receiver(recv, icmp, dst_b, sport, seq_of, states, sent_at)
    res.source_port = sport
    start = time.monotonic()
    rx.start()

    def stopped() -> bool:
        return cancel.is_set() or (deadline is not None and time.monotonic() > deadline)

    def send_pass(todo: list[int], first: bool) -> bool:
        t0 = time.monotonic()
        for i, port in enumerate(todo):
            if i % 64 == 0:
                if stopped():
                    return False
                ahead = t0 + i / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                if first and progress and i % 4096 == 0:
                    progress(i, len(todo))
            if states[port]:
                continue
            pkt = build_syn(src_b, dst_b, sport, port, seq_of(port))
            sent_at[port] = time.monotonic()
            for attempt in range(50):  # ENOBUFS: the qdisc is full; back off briefly, bounded
                try:
                    send.sendto(pkt, (host, 0))
                    break
                except OSError as exc:
                    if exc.errno != errno.ENOBUFS:
                        raise
                    time.sleep(0.002 * (attempt + 1))
            res.packets_sent += 1
            if not first:
                res.retransmitted += 1
        return True

    def settle() -> None:
        """Bounded wait for late answers: a few round-trips, at least 0.3 s, at most 2 s."""
        wait = min(2.0, max(0.3, 4 * rx.max_rtt))
        end = time.monotonic() + wait
        while time.monotonic() < end and not stopped():
            time.sleep(0.02)

    try:
        order = list(ports)
        rng.shuffle(order)  # spread probes over the port space, as a device's rate limiter would like
        done = send_pass(order, True)
        if done:
            settle()
        for _ in range(retries):
            if not done:
                break
            todo = [p for p in order if not states[p]]
            if not todo:
                break
            before = rx.answered
            done = send_pass(todo, False)
            if done:
                settle()
            res.answered_after_retransmit += rx.answered - before
        if progress:
            progress(len(ports), len(ports))
    finally:
        rx.stop.set()
        rx.join(timeout=2)
    res.complete = done
    res.max_rtt = rx.max_rtt
    res.icmp_unreachable = rx.icmp
    for p in ports:
        st = states[p]
        if st == _OPEN:
            res.open_ports.append(p)
        elif st == _CLOSED:
            res.closed_ports.append(p)
        elif st == _ICMP or done:
            res.filtered_ports.append(p)
    res.closed, res.filtered = len(res.closed_ports), len(res.filtered_ports)
    res.scanned = len(res.open_ports) + res.closed + res.filtered
    res.open_ports.sort()
    res.elapsed = time.monotonic() - start
    return res
