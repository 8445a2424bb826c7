"""SSDP (UPnP Device Architecture 2.0 §1.3): the M-SEARCH request, its answers, and a unicast search.

The one SSDP implementation: discovery's UDP probe and the UPnP survey (probe.services.upnp)
both build their M-SEARCH and read the answers here.

Network safety: the search is *unicast* to the one address given (the device under test). A
multicast M-SEARCH sent from the host would follow the default route out of the machine, so
nothing here ever sends to 239.255.255.250.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from probe import __version__

USER_AGENT = f"probe/{__version__} UPnP/1.1 probe/{__version__}"  # the UDA's "OS/ver UPnP/ver product/ver"
MAX_HEADER_LINES = 50
MAX_VALUE = 500  # characters kept of one header value
MAX_STATUS = 200  # characters kept of the status line
_LINE_END = re.compile(r"\r?\n")
# An answer to M-SEARCH is an HTTPU 200; a device may also send its NOTIFY to our unicast address
_ANSWER_STARTS = (b"HTTP/1.1 200", b"HTTP/1.0 200", b"NOTIFY ")


def msearch(host: str, port: int, search_target: str = "ssdp:all") -> bytes:
    """A unicast M-SEARCH to host:port (MX 1: a device answers within a second)."""
    h = f"[{host}]" if ":" in host else host
    return ("M-SEARCH * HTTP/1.1\r\n"
            f"HOST: {h}:{port}\r\n"
            'MAN: "ssdp:discover"\r\n'
            "MX: 1\r\n"
            f"ST: {search_target}\r\n"
            f"USER-AGENT: {USER_AGENT}\r\n\r\n").encode("ascii")


@dataclass(frozen=True)
class Message:
    """One SSDP datagram: its first line and its headers (names lower-cased, values capped)."""

    status_line: str
    headers: dict[str, str]

    @property
    def is_answer(self) -> bool:
        """An M-SEARCH answer (200) or a NOTIFY: not our own request echoed, not an error."""
        return self.status_line.encode("latin-1").startswith(_ANSWER_STARTS)

    def get(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def to_json(self) -> dict[str, str]:
        """The evidence shape: the headers, and the first line under `_status`."""
        return {"_status": self.status_line, **self.headers}


def parse(packet: bytes) -> Message:
    """Any datagram as an SSDP message; never raises (the caller judges `is_answer`)."""
    lines = _LINE_END.split(packet.decode("latin-1"))
    headers: dict[str, str] = {}
    for line in lines[1:MAX_HEADER_LINES]:
        name, sep, value = line.partition(":")
        if sep and name.strip() and name.strip().lower() != "_status":
            headers[name.strip().lower()] = value.strip()[:MAX_VALUE]
    return Message(lines[0][:MAX_STATUS], headers)


@dataclass
class Search:
    """What one unicast search heard: every datagram from the device's address, verbatim."""

    answers: list[bytes] = field(default_factory=list)
    error: str | None = None  # why the search could not be made or was cut short
    closed: bool = False  # the device said "port unreachable" (ICMP): nothing listens there
    request: bytes = b""  # the M-SEARCH as sent
    seconds: float = 0.0  # how long the search waited


SETTLE = 0.3  # seconds to wait past the latest answer: a device sends its answers in one burst


def search(host: str, port: int, *, listen: float, max_answers: int = 32,
           check_cancelled: Callable[[], None] | None = None, settle: float | None = SETTLE,
           resend: bool = True) -> Search:
    """Unicast M-SEARCH to host:port; listen up to `listen` seconds for answers from host.

    The socket is not connected: a device may answer from another port than the one asked, so
    every datagram whose source address is the device counts, and datagrams from any other
    address are dropped. UDP may lose the request: it is sent once more (no more) when the first
    half-second brings nothing (`resend=False`: never).

    The wait ends as soon as the answer is complete, not at `listen`: a unicast M-SEARCH is
    answered at once (MX bounds the random delay of answers to a *multicast* search, where many
    devices must not answer together; miniupnpd answers a unicast ssdp:all with its whole burst
    of datagrams within about 0.1 s), so the search stops `settle` seconds after the latest
    answer; and an ICMP port unreachable (IP_RECVERR reports it on this unconnected socket,
    Linux) ends it at once as `closed`. `settle=None` listens the whole `listen`.
    """
    msg = msearch(host, port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    out = Search(request=msg)
    start = time.monotonic()
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        recverr = (socket.IPPROTO_IPV6, 25) if family == socket.AF_INET6 else (socket.IPPROTO_IP, 11)  # *_RECVERR
        with contextlib.suppress(OSError):
            sock.setsockopt(*recverr, 1)  # only the device is ever sent anything: its ICMP errors only
        try:
            sock.sendto(msg, (host, port))
            deadline = start + listen
            resend_at: float | None = start + 0.5 if resend else None
            while len(out.answers) < max_answers:
                if check_cancelled is not None:
                    check_cancelled()
                now = time.monotonic()
                left = deadline - now
                if left <= 0:
                    break
                if resend_at is not None and now >= resend_at:
                    resend_at = None
                    try:
                        sock.sendto(msg, (host, port))
                    except ConnectionRefusedError:  # the first request's ICMP error, reported here
                        out.closed, out.error = True, f"ICMP port unreachable: nothing listens on udp/{port}"
                        break
                wait = min(left, 0.5 if resend_at is None else max(0.0, resend_at - now))
                ready, _, _ = select.select([sock], [], [], wait)
                if not ready:
                    continue
                try:
                    pkt, addr = sock.recvfrom(8192)
                except ConnectionRefusedError:
                    if out.answers:  # an answer came first: something listens; the error is stray
                        continue
                    out.closed = True
                    out.error = f"ICMP port unreachable: nothing listens on udp/{port}"
                    break
                if addr[0] == host:
                    out.answers.append(pkt)
                    resend_at = None  # answered: the request arrived
                    if settle is not None:
                        deadline = min(deadline, time.monotonic() + settle)
        except OSError as exc:
            out.error = f"{exc.__class__.__name__}: {exc}"
    out.seconds = round(time.monotonic() - start, 3)
    return out
