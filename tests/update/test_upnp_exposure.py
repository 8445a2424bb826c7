"""upnp_exposure (and model_designation via UPnP) against a real miniupnpd in a namespace we create.

miniupnpd wants real interfaces, so the test builds a network namespace with a veth pair to the
root namespace (LAN side, where SSDP and HTTP listen) and a second veth pair inside it as the
WAN (no route anywhere). As the lab runs it, the WAN address is private and miniupnpd maps
nothing but answers SSDP, the description and status actions (lab-notes). For the opt-in mapping
test a second and third instance report a routable-looking external address (ext_ip, never
contacted) and get the nftables chains their backend needs, inside their own namespace, so they
really map ports: one with secure_mode off (maps for any LAN address), one with it on. Packets
only ever go to the namespaces' own addresses.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from probe.discovery import discover
from probe.engine import make_context, run_single_check
from probe.models import Service
from probe.options import DiscoveryOptions, SafetyOptions, ScanOptions
from probe.plugins import registry
from probe.services import upnp
from probe.session import TargetSession
from probe.store import EvidenceStore
from tests.helpers.netns import NetNS, available
from tests.helpers.processes import require

needs_root = pytest.mark.skipif(available() is not None, reason=str(available()))
READ_ONLY = {"GetExternalIPAddress", "GetStatusInfo", "GetGenericPortMappingEntry"}


@dataclass(frozen=True)
class IGD:
    """A running miniupnpd: its LAN address, its namespace and its own log of what it received."""

    ip: str
    ns: str
    log: Path  # miniupnpd -d: every HTTP request and every SOAPAction it received, in its own words

    def actions_since(self, offset: int) -> list[str]:
        """The SOAP actions miniupnpd received after `offset` bytes of its log."""
        text = self.log.read_bytes()[offset:].decode("utf-8", "replace")
        return re.findall(r"SOAPAction: \S+#(\w+)", text)


# The chains miniupnpd's nftables backend adds its rules to (Debian's nft_init.sh needs a helper
# file the package does not ship): created inside the test's own namespace only.
NFT_TABLE = """table inet filter {
  chain miniupnpd {
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    jump miniupnpd
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
  }
}
"""
# miniupnpd refuses every mapping while its external address is private (lab-notes). ext_ip only
# sets the address it *reports* as external: a routable-looking value nothing ever sends a packet
# to (the namespace has no route out; the WAN veth's peer is inside the namespace too).
REPORTED_EXTERNAL_IP = "198.20.0.1"


@contextlib.contextmanager
def miniupnpd(tmp: Path, *, secure_mode: bool, mappable: bool) -> Iterator[IGD]:
    """A real miniupnpd in a namespace we create (reserved, tests/helpers/netns.py)."""
    require("miniupnpd")
    with NetNS("u") as ns:
        # the WAN: a veth pair inside the namespace, private address, no route anywhere
        ns.exec(["ip", "link", "add", "wan0", "type", "veth", "peer", "name", "wan0p"])
        ns.exec(["sysctl", "-qw", "net.ipv6.conf.wan0.disable_ipv6=1", "net.ipv6.conf.wan0p.disable_ipv6=1"])
        ns.exec(["ip", "addr", "add", "10.234.0.2/24", "dev", "wan0"])
        ns.exec(["ip", "link", "set", "wan0", "up"])
        ns.exec(["ip", "link", "set", "wan0p", "up"])
        lines = ["ext_ifname=wan0", f"listening_ip={ns.ns_if}", "port=5555", "enable_natpmp=no", "enable_upnp=yes",
                 f"secure_mode={'yes' if secure_mode else 'no'}", "system_uptime=yes",
                 "uuid=3f1e2a6c-1111-4222-8333-944455556666", "friendly_name=ACME Gateway",
                 "model_number=EX-GW1000", "serial=SN0001", "notify_interval=600"]
        if mappable:
            ns.nft(NFT_TABLE)
            # any LAN address may be named as the mapping's client: the test host's subnet and beyond
            lines += [f"ext_ip={REPORTED_EXTERNAL_IP}", "allow 1024-65535 10.231.0.0/16 1024-65535"]
        else:
            lines += [f"allow 1024-65535 {ns.host_ip}/32 1024-65535"]
        lines.append("deny 0-65535 0.0.0.0/0 0-65535")
        conf = tmp / "miniupnpd.conf"
        conf.write_text("\n".join(lines) + "\n")
        log = tmp / "miniupnpd.log"
        ns.spawn(["miniupnpd", "-f", str(conf), "-d", "-P", str(tmp / "miniupnpd.pid")], log=log)
        ns.wait_tcp(5555)
        yield IGD(ns.ip, ns.name, log)


@pytest.fixture(scope="module")
def miniupnpd_ns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IGD]:
    """As the lab's gateways run it: private WAN address, so it maps nothing, whatever is asked."""
    with miniupnpd(tmp_path_factory.mktemp("miniupnpd"), secure_mode=True, mappable=False) as igd:
        yield igd


@pytest.fixture(scope="module")
def weak_igd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IGD]:
    """secure_mode off: it maps ports for any LAN address, not only for the host that asks."""
    with miniupnpd(tmp_path_factory.mktemp("weak-igd"), secure_mode=False, mappable=True) as dev:
        yield dev


@pytest.fixture(scope="module")
def secure_igd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IGD]:
    """secure_mode on and able to map: a mapping only for the asking host, what IGD on a LAN is for."""
    with miniupnpd(tmp_path_factory.mktemp("secure-igd"), secure_mode=True, mappable=True) as dev:
        yield dev


def _soap_raw(ip: str, action: str, args: dict[str, str]) -> bytes:
    """The test's own read of the mapping table, independent of probe's client."""
    st = "urn:schemas-upnp-org:service:WANIPConnection:1"
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in args.items())
    body = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
            f'<u:{action} xmlns:u="{st}">{inner}</u:{action}></s:Body></s:Envelope>').encode()
    req = (f"POST /ctl/IPConn HTTP/1.1\r\nHost: {ip}:5555\r\nContent-Type: text/xml\r\n"
           f'SOAPAction: "{st}#{action}"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n').encode()
    with socket.create_connection((ip, 5555), timeout=5) as s:
        s.sendall(req + body)
        data = b""
        for _ in range(64):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


@needs_root
def test_discovery_and_the_upnp_checks_ask_the_device_once(miniupnpd_ns: IGD) -> None:
    """Discovery's UDP probe of udp/1900 and the UPnP survey the device-level checks share are one
    question: miniupnpd receives one M-SEARCH, the survey cites the same answers without waiting
    again, and the search ended when the answers were in (not after the 2 s listen bound)."""
    before = miniupnpd_ns.log.stat().st_size
    session = TargetSession(miniupnpd_ns.ip, ScanOptions(), EvidenceStore())
    found = discover(session, (), (1900,))
    ssdp_svc = next(s for s in found.services if s.protocol == "ssdp")
    heard = session.once(("ssdp-search", 1900), lambda: None)
    assert heard is not None and heard.answers and heard.seconds < 1.5, heard
    ctx = make_context(session, registry()["upnp_exposure"].metadata, services=found.services)
    info = upnp.gather(ctx)
    assert info.ssdp_answered and info.ssdp_error is None
    assert len(info.responses) == len(heard.answers)
    art = session.store.snapshot()[2][info.ssdp_artefact]
    assert art.data == b"".join(a + b"\r\n----\r\n" for a in heard.answers)
    assert ssdp_svc.banner_artefact is not None
    text = miniupnpd_ns.log.read_bytes()[before:].decode("utf-8", "replace")
    assert text.count("SSDP M-SEARCH from") == 1, text


MAPPING_TEST = ScanOptions(safety=SafetyOptions(upnp_mapping_test=True))


@needs_root
def test_read_only_igd_on_the_lan_is_exposure_not_a_fail(miniupnpd_ns: IGD) -> None:
    """IGD answering read-only actions on the LAN is what IGD is for: recorded, never a FAIL."""
    before = miniupnpd_ns.log.stat().st_size
    findings, store = run_single_check("upnp_exposure", miniupnpd_ns.ip, [])
    assert len(findings) == 1
    f = findings[0]
    assert f.status == "PASS", f.summary
    assert "what a gateway's IGD is for" in f.summary and "--allow-upnp-mapping-test" in f.summary
    assert "AddPortMapping" in f.details["state_changing_actions_advertised"]
    # it bears on S1.1-01 (fails-only: its PASS never counts) and supports the inventory review
    assert "jc-star:S1.1-01" in f.clauses and "jc-star:S1.1-13" in f.clauses
    calls = [c for e in f.details["igd"] for c in e["calls"]]
    assert {c["action"] for c in calls} <= READ_ONLY
    assert all(c["outcome"] == "answered" for c in calls)
    # no state-changing action was ever sent: miniupnpd's own log of what it received lists exactly
    # the read-only calls probe reports, nothing else (AddPortMapping & co. would be logged there too)
    received = miniupnpd_ns.actions_since(before)
    assert received and set(received) <= READ_ONLY, received
    assert sorted(received) == sorted(c["action"] for c in calls)
    assert f.details["mapping_test"] == {"run": False, "why": "not opted in (--allow-upnp-mapping-test)"}
    # the transcripts are evidence; no state-changing action was ever sent
    sent = b"".join(a.data for a in store.artefacts.values() if a.kind == "http-response")
    assert b"GetExternalIPAddressResponse" in sent and b"AddPortMappingResponse" not in sent
    assert store.artefacts[f.artefacts[0]].kind == "ssdp"
    d = f.details["descriptions"][0]
    assert d["fields"]["modelNumber"] == "EX-GW1000"


@needs_root
def test_read_only_igd_does_not_fail_the_access_control_clause(miniupnpd_ns: IGD) -> None:
    from probe.compliance.catalog import load_catalog
    from probe.compliance.verdicts import clause_verdict

    findings, _ = run_single_check("upnp_exposure", miniupnpd_ns.ip, [])
    clause = load_catalog().get("jc-star:S1.1-01")
    v = clause_verdict(clause, miniupnpd_ns.ip, findings, clause.checks, None)
    assert v.verdict == "MANUAL" and findings[0].id in v.findings  # attached, decides nothing


@needs_root
def test_opt_in_mapping_for_another_host_fails_and_is_removed(weak_igd: IGD) -> None:
    ip, ns = weak_igd.ip, weak_igd.ns
    findings, store = run_single_check("upnp_exposure", ip, [], options=MAPPING_TEST)
    f = findings[0]
    assert f.status == "FAIL", f.summary
    assert "port mapping for another host" in f.summary
    test = f.details["mapping_test"]
    assert test["run"] and len(test["trials"]) == 1
    trial = test["trials"][0]
    assert trial["outcome"] == "accepted" and trial["for"] == "another host" and trial["deleted"] is True
    assert trial["internal_client"] == ip  # the gateway's own address: no third party ever gets traffic
    port = trial["external_port"]
    actions = [s["action"] for s in test["steps"]]
    assert actions == ["GetSpecificPortMappingEntry", "AddPortMapping", "DeletePortMapping",
                       "GetSpecificPortMappingEntry"]  # checked free, added once, deleted, checked gone
    assert test["left_behind"] == [] and not store.notes
    # the mapping table afterwards, read by the test itself: the entry is gone, the table empty
    gone = _soap_raw(ip, "GetSpecificPortMappingEntry", {"NewRemoteHost": "", "NewExternalPort": str(port),
                                                          "NewProtocol": "TCP"})
    assert b"<errorCode>714</errorCode>" in gone
    first = _soap_raw(ip, "GetGenericPortMappingEntry", {"NewPortMappingIndex": "0"})
    assert b"<errorCode>713</errorCode>" in first
    rules = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "filter"],
                           capture_output=True, text=True, timeout=15, check=True).stdout
    assert f"dport {port}" not in rules


@needs_root
def test_opt_in_mapping_refused_by_a_secure_igd_is_no_fail(secure_igd: IGD) -> None:
    ip = secure_igd.ip
    findings, _ = run_single_check("upnp_exposure", ip, [], options=MAPPING_TEST)
    f = findings[0]
    assert f.status == "PASS", f.summary
    trial = f.details["mapping_test"]["trials"][0]
    assert trial["outcome"] == "refused" and trial["for"] == "another host"
    assert "refused" in f.summary and REPORTED_EXTERNAL_IP in f.summary  # answered on the LAN side, not the WAN


@needs_root
def test_without_opt_in_the_weak_igd_is_not_touched(weak_igd: IGD) -> None:
    ip = weak_igd.ip
    findings, store = run_single_check("upnp_exposure", ip, [])
    assert findings[0].status == "PASS" and findings[0].details["mapping_test"]["run"] is False
    answers = b"".join(a.data for a in store.artefacts.values())
    assert b"AddPortMappingResponse" not in answers and b"DeletePortMappingResponse" not in answers
    assert b"<errorCode>713</errorCode>" in _soap_raw(ip, "GetGenericPortMappingEntry", {"NewPortMappingIndex": "0"})


def test_mapping_actions_need_the_opt_in() -> None:
    class _Ctx:
        options = ScanOptions()
        host = "127.0.0.1"

    with pytest.raises(ValueError, match="opt-in"):
        upnp.mapping_call(_Ctx(), "http://127.0.0.1:1/ctl",  # type: ignore[arg-type]
                          "urn:schemas-upnp-org:service:WANIPConnection:1", "AddPortMapping", {})

    class _OptedIn(_Ctx):
        options = MAPPING_TEST

    with pytest.raises(ValueError, match="not a mapping-test action"):
        upnp.mapping_call(_OptedIn(), "http://127.0.0.1:1/ctl",  # type: ignore[arg-type]
                          "urn:schemas-upnp-org:service:WANIPConnection:1", "ForceTermination", {})


@needs_root
def test_model_designation_from_upnp_description(miniupnpd_ns: IGD) -> None:
    findings, _ = run_single_check("model_designation", miniupnpd_ns.ip,
                                   [Service(miniupnpd_ns.ip, 5555, "tcp", "upnp", "test")])
    assert findings[0].status == "PASS", findings[0].summary
    hows = {(s["value"], s["how"]) for s in findings[0].details["strings"]}
    assert ("EX-GW1000", "upnp:modelNumber") in hows


def test_soap_refuses_state_changing_actions() -> None:
    with pytest.raises(ValueError, match="read-only"):
        upnp.soap_call(None, "http://127.0.0.1:1/ctl", "urn:schemas-upnp-org:service:WANIPConnection:1",  # type: ignore[arg-type]
                       "AddPortMapping")


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
