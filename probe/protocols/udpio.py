"""A bounded request/answer exchange over UDP with one device: the one implementation.

UDP has no handshake, so a request is sent on a socket *connected* to the device's host and port:
only datagrams from there are delivered, and an ICMP port unreachable surfaces as
ConnectionRefusedError ("closed"). Several requests may share one socket and one wait per round
(asking three SNMP versions costs no more time than one); each request is resent at most
`attempts` times while unanswered, every wait is bounded by `timeout`, and at most MAX_REPLIES
datagrams are kept per request. Used by discovery (probe.discovery.udp_probe) and by checks that
ask a UDP service again (CoAP, NTP control, Ubiquiti discovery).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_DATAGRAM = 65535
MAX_REPLIES = 16


@dataclass
class Ask:
    """One request of a multi-request exchange, and whether (and how) it was answered."""

    label: str
    request: bytes
    accept: Callable[[bytes], bool]
    replies: list[bytes] = field(default_factory=list)
    # whether the answer is whole: one datagram for most requests; an NTP control answer comes in
    # fragments, the last one without the "more" bit
    done: Callable[[list[bytes]], bool] = bool
    # for a request answered by several datagrams and no end marker (SSDP ssdp:all: one per device
    # or service type): stop waiting this long after the latest one instead of the whole timeout
    settle: float | None = None

    @property
    def waiting(self) -> bool:
        return not self.done(self.replies) and len(self.replies) < MAX_REPLIES


def exchange_each(host: str, port: int, asks: list[Ask], *, timeout: float, attempts: int) -> str:
    """Send every request, collect the answer to each for `timeout`, resend the unanswered ones up to
    `attempts` times. One socket, one wait per round: asking three SNMP versions costs no more
    time than asking one. Returns 'open' (something answered), 'closed' (ICMP port unreachable),
    'unreachable' (no route) or 'no-answer'."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((host, port))
        except OSError:
            return "unreachable"
        for _ in range(max(1, attempts)):
            waiting = [a for a in asks if not a.replies]
            if not any(a.waiting for a in asks):
                break
            for a in waiting:
                try:
                    s.send(a.request)
                except ConnectionRefusedError:
                    return "open" if any(x.replies for x in asks) else "closed"
                except OSError:
                    return "unreachable"
            end = time.monotonic() + timeout
            while any(a.waiting for a in asks) and (left := end - time.monotonic()) > 0:
                ready, _, _ = select.select([s], [], [], left)
                if not ready:
                    break
                try:
                    data = s.recv(MAX_DATAGRAM)
                except ConnectionRefusedError:
                    return "open" if any(x.replies for x in asks) else "closed"
                except OSError:
                    break
                for a in asks:
                    if a.waiting and a.accept(data):
                        a.replies.append(data)
                        if a.settle is not None:  # more answers come close together, or not at all
                            end = min(end, time.monotonic() + a.settle)
                        break
    return "open" if any(a.replies for a in asks) else "no-answer"


def ask(host: str, port: int, request: bytes, accept: Callable[[bytes], bool], *, timeout: float, attempts: int = 1,
        done: Callable[[list[bytes]], bool] = bool, label: str = "",
        settle: float | None = None) -> tuple[str, list[bytes]]:
    """One request: (state, the replies `accept` took)."""
    a = Ask(label, request, accept, done=done, settle=settle)
    return exchange_each(host, port, [a], timeout=timeout, attempts=attempts), a.replies
