"""probe.protocols.ssdp: M-SEARCH building, answer parsing (bytes fixtures) and the unicast search
against a real socket on loopback.

The search against a real UPnP daemon (miniupnpd in a namespace) is in
tests/discovery/test_discover_gateway.py and tests/update/test_upnp_exposure.py.
"""

from __future__ import annotations

import socket
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.protocols import ssdp

MINIUPNPD = (b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\n"
             b"USN: uuid:1234::upnp:rootdevice\r\nEXT:\r\nSERVER: Linux/5 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
             b"LOCATION: http://10.0.0.1:5000/rootDesc.xml\r\nBOOTID.UPNP.ORG: 1\r\n\r\n")


def test_msearch_is_unicast_to_the_host_given() -> None:
    req = ssdp.msearch("10.231.1.2", 1900).decode()
    assert req.startswith("M-SEARCH * HTTP/1.1\r\nHOST: 10.231.1.2:1900\r\n") and req.endswith("\r\n\r\n")
    assert 'MAN: "ssdp:discover"' in req and "ST: ssdp:all" in req and "239.255.255.250" not in req
    assert "HOST: [::1]:1900" in ssdp.msearch("::1", 1900).decode()


def test_answer_headers() -> None:
    m = ssdp.parse(MINIUPNPD)
    assert m.is_answer and m.status_line == "HTTP/1.1 200 OK"
    assert m.get("SERVER") == "Linux/5 UPnP/1.1 MiniUPnPd/2.3.1" and m.get("location").endswith("rootDesc.xml")
    assert m.get("bootid.upnp.org") == "1" and m.get("ext") == ""
    assert m.to_json()["_status"] == "HTTP/1.1 200 OK" and m.to_json()["st"] == "upnp:rootdevice"


def test_requests_and_errors_are_not_answers() -> None:
    assert not ssdp.parse(b"M-SEARCH * HTTP/1.1\r\n\r\n").is_answer  # our own request echoed
    assert not ssdp.parse(b"HTTP/1.1 500 Internal Server Error\r\n\r\n").is_answer
    assert ssdp.parse(b"NOTIFY * HTTP/1.1\nNT: upnp:rootdevice\n\n").get("nt") == "upnp:rootdevice"


def test_values_and_lines_are_capped_and_status_cannot_be_forged() -> None:
    m = ssdp.parse(b"HTTP/1.1 200 OK\r\n_status: forged\r\nSERVER: " + b"x" * 5000 + b"\r\n"
                   + b"".join(b"H%d: v\r\n" % i for i in range(500)))
    assert len(m.get("server") or "") == ssdp.MAX_VALUE
    assert len(m.headers) <= ssdp.MAX_HEADER_LINES and m.to_json()["_status"] == "HTTP/1.1 200 OK"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_parser_is_total(raw: bytes) -> None:
    m = ssdp.parse(raw)
    assert "_status" in m.to_json() and len(m.status_line) <= ssdp.MAX_STATUS


def _responder(answers: int) -> tuple[socket.socket, threading.Thread]:
    """A UDP socket on loopback that answers one M-SEARCH `answers` times, from another port too."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(5)

    def serve() -> None:
        try:
            req, peer = srv.recvfrom(2048)
        except OSError:
            return
        if req.startswith(b"M-SEARCH"):
            for _ in range(answers):
                srv.sendto(MINIUPNPD, peer)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:  # a second socket of the device
                other.sendto(MINIUPNPD, peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


def test_search_collects_every_answer_from_the_device_within_its_bounds() -> None:
    srv, t = _responder(answers=3)
    with srv:
        heard = ssdp.search("127.0.0.1", srv.getsockname()[1], listen=1.0, max_answers=32)
        t.join(5)
    assert heard.error is None and len(heard.answers) == 4  # the answer from the other port counts too
    assert all(ssdp.parse(a).is_answer for a in heard.answers)
    srv, t = _responder(answers=10)
    with srv:
        assert len(ssdp.search("127.0.0.1", srv.getsockname()[1], listen=1.0, max_answers=2).answers) == 2
        t.join(5)


def test_search_of_a_silent_port_retransmits_once_and_stops() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet:  # bound, never answers
        quiet.bind(("127.0.0.1", 0))
        quiet.settimeout(2)
        port = quiet.getsockname()[1]
        heard = ssdp.search("127.0.0.1", port, listen=1.2)
        got = [quiet.recvfrom(2048)[0] for _ in range(2)]  # the request, and its one retransmission
        quiet.settimeout(0.2)
        try:
            third = quiet.recvfrom(2048)[0]
        except TimeoutError:
            third = None
    assert heard.answers == [] and heard.error is None
    assert got[0] == got[1] == ssdp.msearch("127.0.0.1", port) and third is None


def test_search_ends_when_the_answers_are_in_and_at_once_on_a_closed_port() -> None:
    """A unicast search is answered at once: the wait ends SETTLE after the burst, not at `listen`;
    an ICMP port unreachable (IP_RECVERR on the unconnected socket) ends it at once as closed."""
    srv, t = _responder(answers=3)
    with srv:
        port = srv.getsockname()[1]
        heard = ssdp.search("127.0.0.1", port, listen=3.0)
        t.join(5)
    assert len(heard.answers) == 4 and not heard.closed and heard.seconds < 1.5
    assert heard.request == ssdp.msearch("127.0.0.1", port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    heard = ssdp.search("127.0.0.1", closed_port, listen=3.0)
    assert heard.closed and heard.answers == [] and "port unreachable" in (heard.error or "")
    assert heard.seconds < 1.0
