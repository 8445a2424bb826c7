"""Identification of real daemons on odd loopback ports (the port number must not decide)."""

from __future__ import annotations

import pytest

from probe.discovery import fingerprint as fp
from probe.discovery import identify
from tests.helpers.daemons import LocalDaemons


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
