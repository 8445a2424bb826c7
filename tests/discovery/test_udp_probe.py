"""UDP discovery against real snmpd and dnsmasq on loopback (odd ports), and the SNMP requests it sends.

The DNS and SSDP message parsers are tested in tests/protocols/."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

import pytest

from probe.compliance.roles import assign_roles
from probe.discovery import discover, udp_probe
from probe.options import ScanOptions
from probe.protocols import natpmp, snmp
from probe.session import TargetSession
from probe.store import EvidenceStore
from tests.helpers import gateway
from tests.helpers.daemons import LocalDaemons
from tests.helpers.netns import NetNS, available
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


def test_agent_without_public_found_by_its_v3_report_with_engine_id(daemons: LocalDaemons) -> None:
    """A v1/v2c agent whose only community is not "public" drops our GETs silently; its answer to
    SNMPv3 engine discovery (net-snmp answers it with no v3 user configured) still finds it."""
    port = daemons.snmpd(ro="k7-not-public-9f2", sys_descr="per-device community agent")
    r = udp_probe.probe_port("127.0.0.1", port, timeout=0.5)
    assert r.state == "open" and r.protocol == "snmp", r.detail
    assert r.detail["snmpv2c_public"] == "no answer" and r.detail["snmpv1_public"] == "no answer"
    assert r.detail["snmpv3"] == "answered engine discovery"
    engine = bytes.fromhex(r.detail["snmpv3_engine_id"])
    assert engine[:4] == bytes.fromhex("80001f88")  # RFC 3411 format, enterprise 8072: net-snmp
    assert "enterprise 8072" in r.detail["snmpv3_engine"] and "usmStatsUnknownEngineIDs" in r.detail["snmpv3_engine"]
    assert [e.label for e in r.exchanges] == ["SNMPv3 engine discovery (GET, empty engine ID and user)"]
    assert snmp.parse_v3_message(r.exchanges[0].replies[0]).engine_id == engine


def test_v3_only_agent_found_with_engine_id(daemons: LocalDaemons) -> None:
    port = daemons.snmpd(ro=None, extra=['createUser labadmin SHA-256 "k7-auth-pass-phrase" AES "k7-priv-phrase"',
                                         "rouser labadmin priv"])
    r = udp_probe.probe_port("127.0.0.1", port, timeout=0.5)
    assert r.state == "open" and r.protocol == "snmp"
    assert (r.detail["snmpv2c_public"], r.detail["snmpv1_public"]) == ("no answer", "no answer")
    assert len(r.detail["snmpv3_engine_id"]) >= 10


def test_v1_and_v2c_are_asked_separately(daemons: LocalDaemons) -> None:
    """An agent whose VACM grants "public" to v2c only answers one of the two: each is reported."""
    port = daemons.snmpd(ro=None, sys_descr="v2c only agent",
                         extra=["com2sec ro default public", "group rog v2c ro", "view all included .1",
                                'access rog "" any noauth exact all none none'])
    r = udp_probe.probe_port("127.0.0.1", port, timeout=0.5)
    assert r.state == "open" and r.protocol == "snmp"
    assert r.detail["snmpv2c_public"] == "accepted" and r.detail["snmpv1_public"] == "no answer"
    assert r.detail["sysdescr"] == "v2c only agent" and r.detail["snmpv3"] == "answered engine discovery"


def test_silent_udp_port_is_no_answer_after_all_three_snmp_questions() -> None:
    """A bound socket that never answers: no SNMP service is invented, and the probe is bounded."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet:
        quiet.bind(("127.0.0.1", 0))
        started = time.monotonic()
        r = udp_probe.probe_snmp("127.0.0.1", quiet.getsockname()[1], timeout=0.3, attempts=2)
        assert r.state == "no-answer" and r.protocol is None
        assert time.monotonic() - started < 2.0  # one wait per round, not one per question
        got = []
        quiet.settimeout(0.1)
        with contextlib.suppress(TimeoutError):
            while len(got) < 10:
                got.append(quiet.recv(65535))
        assert len(got) == 6  # v2c, v1, v3 sent twice each, nothing else


@pytest.mark.skipif(available() is not None, reason=str(available()))
def test_natpmp_found_on_real_miniupnpd_with_read_only_request(tmp_path: Path) -> None:
    """miniupnpd (NAT-PMP on, in a namespace): the external-address request identifies it; its
    private WAN address makes it answer "network failure", which still names the service."""
    with NetNS() as ns:
        gateway.miniupnpd(ns, tmp_path, natpmp=True)
        r = udp_probe.probe_port(ns.ip, natpmp.PORT, timeout=1.0)
        assert r.state == "open" and r.protocol == "nat-pmp", r
        assert r.exchanges[0].request == b"\x00\x00"  # version 0, opcode 0: read-only
        assert r.detail["natpmp_result"] == "3 Network Failure" and int(r.detail["natpmp_epoch_s"]) > 0
        assert "NAT-PMP public address request" in (tmp_path / "miniupnpd.log").read_text()
        store = EvidenceStore()
        res = discover(TargetSession(ns.ip, ScanOptions(), store), (), (natpmp.PORT,))
        svc = next(s for s in res.services if s.transport == "udp")
        assert (svc.port, svc.protocol, svc.details["natpmp_result"]) == (5351, "nat-pmp", "3 Network Failure")
        assert [r.role for r in assign_roles(ns.ip, [svc], [])[svc.key()]] == ["device-api"]


def test_natpmp_parser() -> None:
    ok = natpmp.parse(bytes.fromhex("0080000000001234c0000205"))
    assert (ok.result, ok.epoch, ok.external_address) == (0, 0x1234, "192.0.2.5")
    assert natpmp.parse(bytes.fromhex("00800003000022df00000000")).external_address is None
    assert natpmp.parse(bytes.fromhex("0080000100000001")).result_name == "Unsupported Version"  # PCP-only
    for bad in (b"", b"\x00\x00", bytes.fromhex("0081000000001234c0000205"), bytes.fromhex("02800000000012"),
                bytes.fromhex("0080000000001234")):
        with pytest.raises(natpmp.NatPmpError):
            natpmp.parse(bad)


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

