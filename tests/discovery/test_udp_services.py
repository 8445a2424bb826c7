"""The UDP services consumer devices expose, against real daemons: tftpd-hpa, libcoap's
coap-server and probe's Ubiquiti responder stand-in on loopback; ntpsec and wsdd in a namespace
(NTP needs port 123, wsdd a multicast-capable interface). Each: discovery identifies it with its
one read-only request, the check that judges it FAILs with proof, and a look-alike case shows no
false positive."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from probe.compliance.roles import assign_roles
from probe.discovery import discover, udp_probe
from probe.engine import run_single_check
from probe.models import InconclusiveReason, Status
from probe.options import SafetyOptions, ScanOptions
from probe.protocols import ntp, tftp, wsdiscovery
from probe.session import TargetSession
from probe.store import EvidenceStore
from tests.helpers.checks import artefact_text, check_service, one, service
from tests.helpers.daemons import LocalDaemons
from tests.helpers.netns import NetNS, available
from tests.helpers.ports import LOOPBACK, free_port

CONFIG = b"hostname=hub\nwifi_psk=not-a-real-key\n" + bytes(600)  # longer than one 512-byte block


def test_tftp_found_and_file_served_without_auth_fails(daemons: LocalDaemons) -> None:
    port = daemons.tftpd({"config.bin": CONFIG})
    r = udp_probe.probe_tftp(LOOPBACK, port, 1.0, 2)
    assert (r.state, r.protocol) == ("open", "tftp"), r
    assert r.detail["tftp_answer"].startswith("ERROR 1 (File not found)")  # the random name does not exist
    assert r.exchanges[0].request.startswith(b"\x00\x01probe-")  # a read request, never a write
    f = one(check_service("unauthenticated_access", port, "tftp", transport="udp")[0])
    assert f.status is Status.FAIL and f.details["file"] == "config.bin", f.summary
    assert f.details["first_bytes_hex"] == CONFIG[:64].hex()
    findings, store = check_service("unauthenticated_access", port, "tftp", transport="udp")
    first = next(store.artefacts[a] for a in findings[0].artefacts if store.artefacts[a].kind == "tftp-file")
    assert first.data == CONFIG[:tftp.BLOCK]  # the first block only: the transfer was ended after it


def test_tftp_serving_no_common_file_is_unproven_and_closed_port_is_closed(daemons: LocalDaemons) -> None:
    """This server hands its recovery image to anyone who names it (TFTP has no authentication):
    not finding a common name proves no access control, so it is never a PASS."""
    port = daemons.tftpd({"vendor-recovery-image.img": b"\x27\x05\x19\x56" + bytes(100)})
    findings, store = check_service("unauthenticated_access", port, "tftp", transport="udp")
    f = one(findings)
    assert (f.status, f.reason_code) == (Status.INCONCLUSIVE, InconclusiveReason.NO_INPUT), f.summary
    assert all(v.startswith("ERROR 1") for v in f.details["asked"].values()), f.details
    assert "config.bin" in artefact_text(store, f)
    silent = free_port("udp")
    assert udp_probe.probe_tftp(LOOPBACK, silent, 0.5, 2).state == "closed"  # ICMP port unreachable seen


def test_coap_resources_listed_without_auth_fail(daemons: LocalDaemons) -> None:
    port = daemons.coap_server()
    r = udp_probe.probe_coap(LOOPBACK, port, 1.0, 2)
    assert (r.state, r.protocol, r.detail["coap_answer"]) == ("open", "coap", "2.05 Content"), r
    assert "/time" in r.detail["coap_resources"].split(", ")
    f = one(check_service("unauthenticated_access", port, "coap", transport="udp")[0])
    assert f.status is Status.FAIL and f.severity == "high", f.summary
    assert {"target": "/time", "if": "clock", "rt": "ticks", "title": "Internal Clock", "ct": "0", "obs": ""} \
        in f.details["resources"]


def test_udp_probes_claim_nothing_on_other_services(daemons: LocalDaemons) -> None:
    """No false positive: a DNS server and an SNMP agent on odd ports are not taken for CoAP, NTP,
    WS-Discovery, Ubiquiti discovery or TFTP, whose probes they answer with nothing these accept."""
    dns_port, snmp_port = daemons.dnsmasq(), daemons.snmpd()
    for probe in (udp_probe.probe_coap, udp_probe.probe_ntp, udp_probe.probe_wsdiscovery, udp_probe.probe_ubnt,
                  udp_probe.probe_tftp):
        for port in (dns_port, snmp_port):
            r = probe(LOOPBACK, port, 0.3, 1)
            assert r.state != "open" and r.protocol is None, (probe.__name__, port, r)


def test_ubiquiti_discovery_answer_exposes_mac(daemons: LocalDaemons) -> None:
    port = daemons.ubnt_responder("02:15:6d:aa:01:02", "SH.ar7240.v2.1.4", "SH-10")
    r = udp_probe.probe_ubnt(LOOPBACK, port, 1.0, 2)
    assert (r.state, r.protocol, r.product, r.version) == ("open", "ubnt-discovery", "SH-10", "SH.ar7240.v2.1.4")
    assert r.detail["ubnt_hwaddr"] == "02:15:6d:aa:01:02"
    svc = service(port, "ubnt-discovery", transport="udp")
    findings, store = run_single_check("information_exposure", LOOPBACK, [svc],
                                       ScanOptions(safety=SafetyOptions(timeout=3.0)))
    f = one(findings)
    assert f.status is Status.FAIL and "mac" in f.details["categories"], f.summary
    assert any(i["value"] == "02:15:6d:aa:01:02" for e in f.details["exposures"] for i in e["found"]["mac"])
    proof = store.artefacts[f.artefacts[0]].data  # the answer itself is the proof
    assert proof[:2] == b"\x01\x00" and bytes.fromhex("02156daa0102") in proof


NTP_CONF = """driftfile {d}/ntp.drift
restrict default kod nomodify nopeer noquery limited
restrict 10.231.0.0 mask 255.255.0.0 kod nomodify limited{extra}
"""


@pytest.mark.skipif(available() is not None, reason=str(available()))
@pytest.mark.parametrize("noquery", [False, True], ids=["control-open", "noquery"])
def test_ntpsec_time_and_control_queries(tmp_path: Path, noquery: bool) -> None:
    """ntpsec answers the client request either way; READVAR (mode 6) only where its restrict line
    for the asking network lacks `noquery`: then its version and OS are shown (supporting evidence),
    and with `noquery` nothing is claimed."""
    conf = tmp_path / "ntp.conf"
    conf.write_text(NTP_CONF.format(d=tmp_path, extra=" noquery" if noquery else ""))
    with NetNS("t") as ns:
        ns.spawn(["ntpd", "-n", "-c", str(conf), "-p", str(tmp_path / "ntpd.pid")], tmp_path / "ntpd.log")
        deadline = time.monotonic() + 10
        r = udp_probe.UdpResult(123, "no-answer")
        while time.monotonic() < deadline and r.state != "open":
            r = udp_probe.probe_ntp(ns.ip, ntp.PORT, 0.5, 1)
        assert (r.state, r.protocol) == ("open", "ntp"), r
        assert r.detail["ntp_server"].startswith("NTPv4 server, stratum")
        svc = service(ntp.PORT, "ntp", transport="udp", host=ns.ip)
        f = one(run_single_check("information_exposure", ns.ip, [svc], ScanOptions(safety=SafetyOptions(
            timeout=3.0)))[0])
        if noquery:
            assert r.detail["ntp_mode6"] == "no answer" and "ntp_version" not in r.detail
            assert f.status is Status.PASS and not f.details["exposures"], f.summary
            # an NTP server that tells nothing never stands in for a web service that could not be read
            dead_web = service(80, "http", host=ns.ip)  # nothing listens on 80 in this namespace
            g = one(run_single_check("information_exposure", ns.ip, [dead_web, svc],
                                     ScanOptions(safety=SafetyOptions(timeout=3.0)))[0])
            assert g.status is Status.INCONCLUSIVE, g.summary
            return
        assert r.detail["ntp_mode6"] == "answered READVAR"
        assert (r.product, r.version) == ("ntpsec", r.detail["ntp_version"].split("ntpsec-")[1])
        assert "system=Linux" in r.detail["ntp_variables"]
        # versions are supporting evidence, not a FAIL (identifiers and secrets are what FAIL)
        assert f.status is Status.PASS and f.details["categories"] == ["firmware"], f.summary
        keys = {i["key"] for e in f.details["exposures"] for i in e["found"]["firmware"]}
        assert keys == {"sw_version", "kernel_version"}


WSD_NFT = """table ip wsd {{
 chain pre {{ type nat hook prerouting priority -100; ip daddr {ip} udp dport 3702 dnat to 239.255.255.250; }}
 chain out {{ type filter hook output priority raw; udp sport 3702 notrack; }}
}}
"""


@pytest.mark.skipif(available() is not None, reason=str(available()))
def test_wsdd_answers_a_unicast_probe(tmp_path: Path) -> None:
    """wsdd (Samba's WS-Discovery host daemon) listens on the multicast group only; without the
    namespace's rewrite of unicast 3702 to the group (as the lab's smart hub has), its silence is
    reported as silence, not as a service. With it, the unicast Probe for wsdp:Device is answered."""
    with NetNS("w") as ns:
        ns.spawn(["wsdd", "-4", "-t", "-i", ns.ns_if, "-n", "SMARTHUB"], tmp_path / "wsdd.log")
        deadline = time.monotonic() + 10
        while f"{ns.ip}:3702" not in ns.exec(["ss", "-Hlun"]).stdout and time.monotonic() < deadline:
            time.sleep(0.1)  # until wsdd has bound its sockets
        silent = udp_probe.probe_wsdiscovery(ns.ip, wsdiscovery.PORT, 0.5, 1)
        assert silent.state == "no-answer" and silent.protocol is None
        ns.nft(WSD_NFT.format(ip=ns.ip))
        store = EvidenceStore()
        res = discover(TargetSession(ns.ip, ScanOptions(), store), (), (wsdiscovery.PORT,))
        svc = next(s for s in res.services if s.transport == "udp")
        assert (svc.port, svc.protocol) == (3702, "ws-discovery")
        assert "wsdp:Device" in svc.details["wsd_types"].split() and svc.details["wsd_endpoint"].startswith("urn:uuid:")
        assert [r.role for r in assign_roles(ns.ip, [svc], [])[svc.key()]] == ["device-api"]
        art = store.artefacts[svc.banner_artefact or ""]
        assert b"ProbeMatches" in art.data and b"wsdp:Device" in art.data
