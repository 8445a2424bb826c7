"""upnp_exposure (and model_designation via UPnP) against a real miniupnpd in a namespace we create.

miniupnpd wants real interfaces, so the test builds a network namespace with a veth pair to the
root namespace (LAN side, where SSDP and HTTP listen) and a second veth pair inside it as the
WAN (private address, no route anywhere: miniupnpd then refuses port mappings, which we never
ask for anyway, but answers SSDP, the description and status actions, per lab-notes). Packets
only ever go to the namespace's own address.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from probe.engine import run_single_check
from probe.models import Service
from probe.options import DiscoveryOptions, ScanOptions
from probe.services import upnp
from tests.helpers.netns import NetNS, available
from tests.helpers.processes import require

needs_root = pytest.mark.skipif(available() is not None, reason=str(available()))
READ_ONLY = {"GetExternalIPAddress", "GetStatusInfo", "GetGenericPortMappingEntry"}


@dataclass
class MiniUPnPd:
    ip: str
    log: Path  # miniupnpd -d: every HTTP request and every SOAPAction it received, in its own words

    def actions_since(self, offset: int) -> list[str]:
        """The SOAP actions miniupnpd received after `offset` bytes of its log."""
        text = self.log.read_bytes()[offset:].decode("utf-8", "replace")
        return re.findall(r"SOAPAction: \S+#(\w+)", text)


@pytest.fixture(scope="module")
def miniupnpd_ns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniUPnPd]:
    require("miniupnpd")
    tmp = tmp_path_factory.mktemp("miniupnpd")
    with NetNS("u") as ns:
        # the WAN: a veth pair inside the namespace, private address, no route anywhere
        ns.exec(["ip", "link", "add", "wan0", "type", "veth", "peer", "name", "wan0p"])
        ns.exec(["sysctl", "-qw", "net.ipv6.conf.wan0.disable_ipv6=1", "net.ipv6.conf.wan0p.disable_ipv6=1"])
        ns.exec(["ip", "addr", "add", "10.234.0.2/24", "dev", "wan0"])
        ns.exec(["ip", "link", "set", "wan0", "up"])
        ns.exec(["ip", "link", "set", "wan0p", "up"])
        conf = tmp / "miniupnpd.conf"
        conf.write_text("\n".join([
            "ext_ifname=wan0", f"listening_ip={ns.ns_if}", "port=5555", "enable_natpmp=no", "enable_upnp=yes",
            "secure_mode=yes", "system_uptime=yes", "uuid=3f1e2a6c-1111-4222-8333-944455556666",
            "friendly_name=ACME Gateway", "model_number=EX-GW1000", "serial=SN0001", "notify_interval=600",
            f"allow 1024-65535 {ns.host_ip}/32 1024-65535", "deny 0-65535 0.0.0.0/0 0-65535"]) + "\n")
        log = tmp / "miniupnpd.log"
        ns.spawn(["miniupnpd", "-f", str(conf), "-d", "-P", str(tmp / "miniupnpd.pid")], log=log)
        ns.wait_tcp(5555)
        yield MiniUPnPd(ns.ip, log)


@needs_root
def test_open_igd_control_fails(miniupnpd_ns: MiniUPnPd) -> None:
    before = miniupnpd_ns.log.stat().st_size
    findings, store = run_single_check("upnp_exposure", miniupnpd_ns.ip, [])
    assert len(findings) == 1
    f = findings[0]
    assert f.status == "FAIL", f.summary
    assert "GetExternalIPAddress" in f.summary and "AddPortMapping" in f.summary
    assert "jc-star:S1.1-01" in f.clauses and "jc-star:S1.1-13" in f.clauses
    calls = [c for e in f.details["igd"] for c in e["calls"]]
    assert {c["action"] for c in calls} <= READ_ONLY
    assert all(c["outcome"] == "answered" for c in calls)
    # no state-changing action was ever sent: miniupnpd's own log of what it received lists exactly
    # the read-only calls probe reports, nothing else (AddPortMapping & co. would be logged there too)
    received = miniupnpd_ns.actions_since(before)
    assert received and set(received) <= READ_ONLY, received
    assert sorted(received) == sorted(c["action"] for c in calls)
    # the transcripts are evidence
    answers = b"".join(a.data for a in store.artefacts.values() if a.kind == "http-response")
    assert b"GetExternalIPAddressResponse" in answers
    assert store.artefacts[f.artefacts[0]].kind == "ssdp"
    d = f.details["descriptions"][0]
    assert d["fields"]["modelNumber"] == "EX-GW1000"


@needs_root
def test_model_designation_from_upnp_description(miniupnpd_ns: MiniUPnPd) -> None:
    findings, _ = run_single_check("model_designation", miniupnpd_ns.ip,
                                   [Service(miniupnpd_ns.ip, 5555, "tcp", "upnp", "test")])
    assert findings[0].status == "PASS", findings[0].summary
    hows = {(s["value"], s["how"]) for s in findings[0].details["strings"]}
    assert ("EX-GW1000", "upnp:modelNumber") in hows


def test_soap_refuses_state_changing_actions() -> None:
    with pytest.raises(ValueError, match="read-only"):
        # no HTTP client at all: the refusal must come before anything could be sent
        upnp.soap_call(None, "http://127.0.0.1:1/ctl",  # type: ignore[arg-type]  # deliberately no client
                       "urn:schemas-upnp-org:service:WANIPConnection:1", "AddPortMapping")


def test_hostile_description_xml_is_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b"<root><device><modelName>&b;</modelName></device></root>")
    with pytest.raises(ValueError):
        upnp.parse_description(bomb, "http://127.0.0.1/")
    external = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b"<root><device><modelName>&x;</modelName></device></root>")
    with pytest.raises(ValueError):
        upnp.parse_description(external, "http://127.0.0.1/")


class _FakeSsdp:
    """A tiny test-only SSDP responder whose LOCATION points to another host (not the target)."""

    def __init__(self, location: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.location = location
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            if data.startswith(b"M-SEARCH"):
                answer = ("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:x::upnp:rootdevice\r\n"
                          f"LOCATION: {self.location}\r\nSERVER: test/1 UPnP/1.1 fake/1\r\n\r\n")
                self.sock.sendto(answer.encode(), addr)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


def test_foreign_location_is_recorded_never_fetched() -> None:
    other = socket.socket()
    other.bind(("127.0.0.3", 0))
    other.listen(2)
    other.settimeout(0.3)
    loc = f"http://127.0.0.3:{other.getsockname()[1]}/rootDesc.xml"
    fake = _FakeSsdp(loc)
    try:
        findings, _ = run_single_check("upnp_exposure", "127.0.0.1", [],
                                       options=ScanOptions(discovery=DiscoveryOptions(ssdp_port=fake.port)))
        f = findings[0]
        assert f.details["foreign_locations_not_fetched"] == [loc]
        assert f.details["ssdp_answered"] is True
        assert f.status == "INCONCLUSIVE" and "never contacts" in f.reason  # not a PASS: nothing was read
        with pytest.raises((socket.timeout, TimeoutError)):
            other.accept()
    finally:
        fake.close()
        other.close()


def test_no_upnp_is_not_applicable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        silent = s.getsockname()[1]
    findings, _ = run_single_check("upnp_exposure", "127.0.0.1", [],
                                   options=ScanOptions(discovery=DiscoveryOptions(ssdp_port=silent)))
    assert findings[0].status == "NOT_APPLICABLE"
