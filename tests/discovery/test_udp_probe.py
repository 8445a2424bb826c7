"""UDP discovery against real snmpd and dnsmasq on loopback (odd ports), and the SNMP request it sends.

The DNS and SSDP message parsers are tested in tests/protocols/."""

from __future__ import annotations

import subprocess

import pytest

from probe.discovery import udp_probe
from tests.helpers.daemons import LocalDaemons
from tests.helpers.ports import free_port


@pytest.fixture
def snmpd(daemons: LocalDaemons) -> int:
    return daemons.snmpd(sys_descr="probe loopback test agent")


@pytest.fixture
def dnsmasq(daemons: LocalDaemons) -> int:
    return daemons.dnsmasq()


def test_snmpd_found_on_odd_port_with_v1_and_v2c(snmpd: int) -> None:
    r = udp_probe.probe_port("127.0.0.1", snmpd, timeout=1.0)
    assert r.state == "open" and r.protocol == "snmp"
    assert r.detail["snmpv2c_public"] == "accepted" and r.detail["snmpv1_public"] == "accepted"
    assert r.detail["sysdescr"] == "probe loopback test agent"
    labels = [e.label for e in r.exchanges]
    assert any("SNMPv2c" in lbl for lbl in labels) and any("SNMPv1" in lbl for lbl in labels)
    assert all(e.replies for e in r.exchanges)


def test_dnsmasq_found_with_product_and_version(dnsmasq: int) -> None:
    r = udp_probe.probe_port("127.0.0.1", dnsmasq, timeout=1.0)
    assert r.state == "open" and r.protocol == "dns"
    assert (r.product, r.version) == ("dnsmasq", subprocess.run(["dnsmasq", "--version"], capture_output=True,
                                                                 text=True).stdout.split()[2])


def test_closed_udp_port_is_closed_not_silent() -> None:
    port = free_port("udp")
    r = udp_probe.probe_port("127.0.0.1", port, timeout=0.5)
    assert r.state == "closed" and r.protocol is None


# -- parsers (unit tests) -------------------------------------------------------------------------
def test_snmp_request_encoding_is_ber() -> None:
    req = udp_probe.snmp_get_request("public", 1, 0x1234)
    assert req[0] == 0x30 and req[1] == len(req) - 2
    assert b"\x04\x06public" in req and b"\x06\x08\x2b\x06\x01\x02\x01\x01\x01\x00\x05\x00" in req
    assert req[req.index(b"\x04\x06public") + 8] == 0xA0  # GetRequest PDU


def test_snmp_parser_rejects_garbage_and_truncation() -> None:
    assert udp_probe.parse_snmp_response(b"") is None
    assert udp_probe.parse_snmp_response(b"\x30\x84\xff\xff\xff\xff") is None
    req = udp_probe.snmp_get_request("public", 1, 5)
    assert udp_probe.parse_snmp_response(req) is None  # a GetRequest is not a response
    resp = req.replace(b"\xa0", b"\xa2", 1)
    parsed = udp_probe.parse_snmp_response(resp)
    assert parsed is not None and parsed["request_id"] == 5 and parsed["community"] == "public"
    assert udp_probe.parse_snmp_response(resp[:-3]) is None

