"""Identification of real daemons on odd loopback ports (the port number must not decide)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.discovery import fingerprint as fp
from probe.discovery import identify
from probe.hostile import start_all
from tests.helpers.daemons import LocalDaemons
from tests.helpers.pki import TestPKI


def test_dnsmasq_over_tcp_on_odd_port(daemons: LocalDaemons) -> None:
    port = daemons.dnsmasq()
    # an odd port: the TLS, HTTP and MQTT probes come first and each waits out its timeout before
    # the DNS question (3 s each by default; 1 s is plenty on loopback)
    f = fp.fingerprint("127.0.0.1", port, timeout=1.0)
    assert (f.protocol, f.product, f.banner_kind) == ("dns", "dnsmasq", "dns-probe")
    assert f.version and f.version[0].isdigit()


def test_mosquitto_on_odd_port(daemons: LocalDaemons) -> None:
    port = daemons.mosquitto(anonymous=True)
    f = fp.fingerprint("127.0.0.1", port)
    assert (f.protocol, f.confidence, f.banner_kind) == ("mqtt", "handshake", "mqtt-probe")


def test_lighttpd_on_odd_port_gives_product_and_version(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd({})
    f = fp.fingerprint("127.0.0.1", port)
    assert (f.protocol, f.product) == ("http", "lighttpd")
    assert f.version and f.version[0].isdigit()


@pytest.mark.parametrize("server,expected", [
    ("lighttpd/1.4.69", ("lighttpd", "1.4.69")),
    ("Debian/12 UPnP/1.1 MiniUPnPd/2.3.1", ("MiniUPnPd", "2.3.1")),
    ("Apache/2.4.57 (Debian) OpenSSL/3.0.11", ("Apache", "2.4.57")),
    ("GoAhead-Webs", ("GoAhead-Webs", None)),
    (None, (None, None)),
])
def test_product_from_server(server: str | None, expected: tuple[str | None, str | None]) -> None:
    assert identify.product_from_server(server) == expected


def test_rtsp_and_probe_order() -> None:
    assert identify.from_http_response(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: GStreamer RTSP server\r\n\r\n") == \
        ("rtsp", "GStreamer RTSP server")
    assert fp.probe_order(554)[0] == "rtsp" and fp.probe_order(53)[0] == "dns" and fp.probe_order(1883)[0] == "mqtt"
    assert fp.probe_order(443)[0] == "tls" and fp.probe_order(8080)[0] == "http"
    assert "dns" in fp.probe_order(40123)  # unknown ports also get the DNS question


def test_ftp_product() -> None:
    assert identify.product_from_ftp("(vsFTPd 3.0.3)") == ("vsFTPd", "3.0.3")
    assert identify.product_from_ftp("Welcome") == ("Welcome", None)


@pytest.mark.parametrize(("data", "whole"), [
    (bytes.fromhex("15030300020246"), True),  # a whole alert record (protocol_version)
    (bytes.fromhex("160303000402000000"), True),  # a (tiny) whole record starting with a ServerHello
    (bytes.fromhex("16030300310200002d03"), False),  # the first bytes of a ServerHello record, then nothing
    (bytes.fromhex("1603030031"), False),
    (bytes.fromhex("160303000401000000"), False),  # whole, but a ClientHello echoed back
    (b"HTTP/1.1 400 Bad Request\r\n", False),
])
def test_a_tls_answer_counts_as_a_handshake_only_when_its_first_record_is_whole(data: bytes, whole: bool) -> None:
    assert identify.is_whole_tls_reply(data) is whole


# -- speed without typing into a shell (issue 14) -------------------------------------------------

def test_the_early_probe_goes_only_to_client_first_ports() -> None:
    """Beside the greeting wait, a client-first probe only on ports whose well-known protocol is
    client-first; on a port with no well-known protocol (a silent service there may be a console)
    only the empty line; on the ports of server-first protocols nothing."""
    assert {p: fp.early_probe(p) for p in (80, 443, 1883, 53, 445, 554, 7547, 8883, 5555)} == {
        80: "http", 443: "tls", 1883: "mqtt", 53: "dns", 445: "smb", 554: "rtsp", 7547: "http", 8883: "tls",
        5555: "adb"}
    assert [fp.early_probe(p) for p in (21, 22, 23, 2323, 25)] == [None] * 5
    assert [fp.early_probe(p) for p in (88, 2222, 9000, 31337, 40000)] == ["newline"] * 5


@pytest.mark.parametrize(("data", "whole"), [
    (b"RTSP/1.0 400 Bad Request\r\nSession: 10\r\n\r\n", True),  # RTSP without Content-Length: no body
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", False),
    (b"HTTP/1.1 204 No Content\r\n\r\n", True),
    (b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n<html>", False),  # body until the server closes
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", False),  # headers not ended
    (b"SSH-2.0-OpenSSH_9.2\r\n", False),
])
def test_an_http_or_rtsp_answer_is_read_until_it_is_whole(data: bytes, whole: bool) -> None:
    assert identify.http_answer_complete(data) is whole


@pytest.mark.parametrize(("data", "whole"), [
    (b"SSH-2.0-dropbear_2022.83\r\n", True), (b"SSH-2.0-OpenSSH_9.2p1 Debian-2", False),
    (b"220 (vsFTPd 3.0.3)\r\n", True), (b"220-Welcome\r\n220-to the box\r\n", False),
    (b"220-Welcome\r\n220 ready\r\n", True), (b"220 mail ESMTP Postfix", False),
    (b"\xff\xfd\x18\xff\xfd\x20", False), (b"login: ", False), (b"", False)])
def test_a_greeting_is_whole_at_its_end_marker_only(data: bytes, whole: bool) -> None:
    """An SSH identification line or a final `220 ` line ends the greeting wait at once; a telnet
    negotiation or a prompt has no end marker, so its read still ends only when the service idles."""
    assert identify.greeting_complete(data) is whole


def test_framed_and_non_tls_answers_are_known_whole_from_their_first_bytes() -> None:
    smb_done, dns_done = identify.framed_answer_complete(4), identify.framed_answer_complete(2)
    assert smb_done(b"\x00\x00\x00\x03abc") and not smb_done(b"\x00\x00\x00\x04abc")
    assert dns_done(b"\x00\x02ab") and not dns_done(b"\x00\x03ab") and not dns_done(b"\x00")
    assert identify.shows_not_tls(b"HTTP/1.0 400") and identify.shows_not_tls(b"\x16\x01\x00")
    assert not identify.shows_not_tls(b"\x16") and not identify.shows_not_tls(b"\x16\x03\x03\x00")
    assert not identify.shows_not_tls(b"")


class _Connections:
    """Every socket fingerprint() opens, in order, with its timeout and whether another was open."""

    def __init__(self) -> None:
        self.open = 0
        self.overlapped = False
        self.timeouts: list[float | None] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def track(self, sock: socket.socket) -> Iterator[socket.socket]:
        with self._lock:
            self.open += 1
            self.overlapped = self.overlapped or self.open > 1
            self.timeouts.append(sock.gettimeout())
        try:
            yield sock
        finally:
            with self._lock:
                self.open -= 1


@contextlib.contextmanager
def _second_slot() -> Iterator[bool]:
    yield True


def test_an_http_port_is_asked_beside_the_greeting_wait(daemons: LocalDaemons) -> None:
    """On an HTTP port the GET goes out on a second connection while the first waits for a
    greeting, and its answer ends that wait: the same identification, no greeting wait."""
    port = next(p for p in (8081, 8888, 49153, 49154) if _free(p))
    daemons.lighttpd({}, port=port)
    conns = _Connections()
    f = fp.fingerprint("127.0.0.1", port, track=conns.track, spare=_second_slot)
    assert (f.protocol, f.product, f.banner_kind, f.tried) == ("http", "lighttpd", "http-probe", ("greeting", "http"))
    assert conns.overlapped and len(conns.timeouts) == 2  # the GET was not sent again after the wait


def test_without_a_spare_slot_the_steps_run_one_after_another(daemons: LocalDaemons) -> None:
    port = next(p for p in (8081, 8888, 49153, 49154) if _free(p))
    daemons.lighttpd({}, port=port)
    conns = _Connections()
    f = fp.fingerprint("127.0.0.1", port, track=conns.track, greeting_wait=0.3)
    assert (f.protocol, f.tried) == ("http", ("greeting", "http"))
    assert not conns.overlapped


def test_a_stalling_port_is_asked_the_rest_with_short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port silent to the greeting, the empty line and two client-first probes has shown that it
    stalls: every later probe waits SILENT_WAIT instead of the full timeout, and all are still asked."""
    monkeypatch.setattr(fp, "SILENT_WAIT", 0.25)
    server = start_all("127.0.0.1", names=["stall"])[0]
    try:
        conns = _Connections()
        f = fp.fingerprint("127.0.0.1", server.port, timeout=1.0, greeting_wait=0.3, track=conns.track)
    finally:
        server.stop()
    assert f.confidence == "port" and f.tried == ("greeting", "newline", "tls", "http", "adb", "mqtt", "dns", "rtsp",
                                                  "smb")
    assert conns.timeouts == [1.0, 1.0, 1.0, 1.0, 0.25, 0.25, 0.25, 0.25, 0.25]


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_a_single_threaded_server_still_answers_the_early_probe(daemons: LocalDaemons, pki: TestPKI) -> None:
    """openssl s_server serves one connection at a time, as many embedded servers do: the early
    ClientHello is answered only once the greeting connection is closed, and still identifies."""
    port = next(p for p in (8443, 8883, 443) if _free(p))
    daemons.start(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(pki.modern.cert),
                   "-key", str(pki.modern.key), "-quiet"], port=port)
    f = fp.fingerprint("127.0.0.1", port, spare=_second_slot, greeting_wait=0.5)
    assert (f.tls, f.confidence, f.banner_kind) == (True, "handshake", "tls-probe"), f


def test_an_unknown_port_gets_its_empty_line_beside_the_greeting_wait(daemons: LocalDaemons) -> None:
    """lighttpd on a port with no well-known protocol: the empty line goes out on a second
    connection while the first waits for a greeting, its `400 Bad Request` proves the server
    client-first and ends the (here very long) greeting wait; TLS and HTTP follow as before."""
    port = daemons.lighttpd({})
    assert fp.early_probe(port) == "newline"
    conns = _Connections()
    start = time.monotonic()
    f = fp.fingerprint("127.0.0.1", port, track=conns.track, spare=_second_slot, greeting_wait=30.0)
    assert time.monotonic() - start < 15.0  # not the 30 s greeting wait
    assert (f.protocol, f.product, f.tried) == ("http", "lighttpd", ("greeting", "newline", "tls", "http"))
    assert conns.overlapped and len(conns.timeouts) == 4  # greeting, newline (once), TLS, HTTP


def test_a_console_on_an_unknown_port_gets_one_empty_line_and_nothing_else(daemons: LocalDaemons,
                                                                             tmp_path: Path) -> None:
    """A console that shows its prompt only after Enter: the empty line beside the greeting wait
    finds it, and nothing but that one empty line reaches it, on any connection."""
    log = tmp_path / "typed.log"
    port = daemons.console(f"""#!/bin/bash -p
# a debug console that waits for Enter before it shows its prompt; logs every line typed into it
IFS= read -r -t 5 line || exit 0
printf '%q\\n' "$line" >> {log}
printf '~ # '
IFS= read -r -t 1 line && printf '%q\\n' "$line" >> {log}
exit 0
""")
    f = fp.fingerprint("127.0.0.1", port, spare=_second_slot, greeting_wait=1.0)
    assert (f.protocol, f.banner_kind, f.tried) == ("console", "newline-probe", ("greeting", "newline"))
    time.sleep(0.3)  # the console's own log write after our close
    assert log.read_text().splitlines() == [r"$'\r'"]  # one empty line (its CR), nothing else
