"""Discovery end to end against a hardened gateway built from real daemons in a namespace.

The namespace runs lighttpd (HTTP + quiet HTTPS), dropbear, busybox telnetd, mosquitto, vsftpd,
dnsmasq (TCP+UDP 53), snmpd (UDP 161, and TCP on 7161 as a service our probes cannot name) and
miniupnpd (SSDP 1900 + its description server on 5000), behind an nftables DROP policy.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from probe.discovery import DiscoveryResult, discover
from probe.options import DiscoveryOptions, ScanMethod, ScanOptions
from probe.output.evidence import validate
from probe.session import TargetSession
from probe.store import EvidenceStore
from tests.helpers import gateway as devices
from tests.helpers.cli import REPO, probe_cmd
from tests.helpers.netns import NetNS, available
from tests.helpers.processes import require

pytestmark = [pytest.mark.skipif(available() is not None, reason=str(available())), pytest.mark.slow,
              pytest.mark.timeout(300)]  # the module's runs (bounded at 240 s) start with its first test

UNKNOWN_TCP = 7161  # snmpd over TCP: neither our probes nor nmap 7.93 name it
EXPECTED_TCP = {21: "ftp", 22: "ssh", 23: "telnet", 53: "dns", 80: "http", 443: "https", 1883: "mqtt",
                5000: "upnp", UNKNOWN_TCP: "unknown"}
EXPECTED_UDP = {53: "dns", 161: "snmp", 1900: "ssdp"}
NMAP_PORTS = (*sorted(EXPECTED_TCP), 8081)
SWEEP_PORTS = (*range(1, 1501), 1883, 5000, UNKNOWN_TCP)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetNS]:
    tmp = tmp_path_factory.mktemp("gw")
    with NetNS() as ns:
        devices.gateway(ns, tmp)
        devices.snmpd_tcp(ns, tmp, UNKNOWN_TCP)
        ns.drop_policy(allow_tcp=sorted(EXPECTED_TCP), allow_udp=[53, 161, 1900])
        yield ns


def _discover(host: str, tcp: tuple[int, ...], udp: tuple[int, ...],
              options: DiscoveryOptions) -> tuple[DiscoveryResult, EvidenceStore]:
    store = EvidenceStore()
    session = TargetSession(host, ScanOptions(discovery=options), store)
    return discover(session, tcp, udp), store


@dataclass
class CliRun:
    returncode: int
    stderr: str
    elapsed: float
    out: Path


@dataclass
class Runs:
    cli: CliRun
    discoveries: dict[str, Future[tuple[DiscoveryResult, EvidenceStore]]]

    def discovery(self, name: str) -> tuple[DiscoveryResult, EvidenceStore]:
        return self.discoveries[name].result()  # re-raises what that run raised, in its own test


@pytest.fixture(scope="module")
def runs(gateway: NetNS, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Every discovery run of this module, started at once against the same gateway.

    Each run spends its time waiting on the device (nmap's service probes on the silent port,
    connect timeouts on dropped ports, the checks' reads), not on this machine's CPU, so together
    they take as long as the longest one. Each test then judges its own run.
    """
    require("nmap")
    out = tmp_path_factory.mktemp("cli") / "ev.json"
    started = time.monotonic()
    proc = subprocess.Popen(probe_cmd("run", "--target", gateway.ip, "--profile", "home-gateway", "--no-nmap",
                                      "--no-credentials", "--out", str(out), "--quiet"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    udp = (53, 161, 1900, 5353)
    jobs: dict[str, tuple[tuple[int, ...], tuple[int, ...], DiscoveryOptions]] = {
        "nmap-default": (NMAP_PORTS, udp, DiscoveryOptions(use_nmap=True)),
        "nmap-versions": (NMAP_PORTS, udp, DiscoveryOptions(use_nmap=True, nmap_versions=True)),
        "syn": (SWEEP_PORTS, (), DiscoveryOptions(use_nmap=False)),
        "connect": (SWEEP_PORTS, (), DiscoveryOptions(use_nmap=False, method=ScanMethod.CONNECT)),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(_discover, gateway.ip, *job) for name, job in jobs.items()}
        try:
            _, stderr = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        elapsed = time.monotonic() - started
    return Runs(CliRun(proc.returncode, stderr, elapsed, out), futures)


def test_cli_no_nmap_full_sweep_finds_every_service(gateway: NetNS, runs: Runs) -> None:
    out, elapsed = runs.cli.out, runs.cli.elapsed
    assert out.exists(), runs.cli.stderr
    doc = json.loads(out.read_text())
    validate(doc)
    disc = doc["discovery"][gateway.ip]
    assert disc["method"] == "syn-scan" and disc["complete"] and disc["reachable"]
    st = disc["stats"]
    assert st["tcp_ports_scanned"] == 65535 and st["open"] == len(EXPECTED_TCP)
    assert st["closed"] == 0 and st["filtered"] == 65535 - len(EXPECTED_TCP)
    assert st["nmap"] == "disabled (--no-nmap)"
    tcp = {s["port"]: s for s in doc["services"] if s["transport"] == "tcp"}
    udp = {s["port"]: s for s in doc["services"] if s["transport"] == "udp"}
    assert {p: s["protocol"] for p, s in tcp.items()} == EXPECTED_TCP
    assert {p: s["protocol"] for p, s in udp.items()} == EXPECTED_UDP
    assert all(s["method"] == "syn-scan" for s in tcp.values())
    assert all(s["method"] == "udp-probe" for s in udp.values())
    assert tcp[443]["tls"] is True and tcp[80]["tls"] is False
    assert (tcp[21]["product"], tcp[21]["version"]) == ("vsFTPd", "3.0.3")
    assert tcp[22]["product"] == "dropbear"
    assert tcp[53]["product"] == "dnsmasq" and udp[53]["product"] == "dnsmasq"
    assert tcp[5000]["product"] == "MiniUPnPd" and udp[1900]["product"] == "MiniUPnPd"
    assert tcp[UNKNOWN_TCP]["confidence"] == "port"
    arts = {a["id"]: a for a in doc["artefacts"]}
    snmp_art = arts[udp[161]["banner_artefact"]]
    assert "SNMPv2c" in snmp_art["name"] and "public" in snmp_art["name"]
    assert any("community 'public'" in n for n in doc["notes"])
    ssdp_art = arts[udp[1900]["banner_artefact"]]
    assert "MiniUPnPd" in ssdp_art["content"] and gateway.ip in ssdp_art["content"]
    assert not any("UDP discovery is not implemented" in n for n in disc["notes"])
    # the profile's UDP ports this gateway runs nothing on (drop policy: silence, not ICMP)
    assert st["udp_no_answer"] == [69, 123, 3702, 5351, 5353, 5683, 10001]
    assert udp[161]["details"]["snmpv2c_public"] == "accepted" and udp[161]["details"]["snmpv3_engine_id"]
    assert elapsed < 120, f"full --no-nmap run took {elapsed:.0f}s"


def test_nmap_runs_only_on_unidentified_ports_by_default(runs: Runs) -> None:
    res, store = runs.discovery("nmap-default")
    st = res.stats
    # never the HTTP(S)/UPnP ports (nmap lingers on them), nor identified ones: only the unidentified port
    assert set(st["nmap_ports"]) == {UNKNOWN_TCP}
    xml = {a.port: a for a in store.artefacts.values() if a.kind == "nmap-xml"}
    assert set(xml) == {UNKNOWN_TCP}
    svcs = {s.port: s for s in res.services if s.transport == "tcp"}
    assert svcs[UNKNOWN_TCP].protocol == "unknown"  # nmap could not name it either: stays unknown, honestly
    assert set(svcs) == set(EXPECTED_TCP)


def test_nmap_versions_fills_gaps_and_keeps_its_xml(runs: Runs) -> None:
    res, store = runs.discovery("nmap-versions")
    st = res.stats
    assert set(st["nmap_ports"]) == {23, 1883, UNKNOWN_TCP}
    xml = {a.port: a for a in store.artefacts.values() if a.kind == "nmap-xml"}
    assert set(xml) == {23, 1883, UNKNOWN_TCP}
    assert all(a.data.startswith(b"<?xml") and b"<nmaprun" in a.data for a in xml.values())
    assert all(b' -n ' in a.data and b"-Pn" in a.data for a in xml.values())
    svcs = {s.port: s for s in res.services if s.transport == "tcp"}
    assert svcs[1883].protocol == "mqtt" and svcs[1883].product == "mosquitto"
    assert svcs[1883].version and svcs[1883].version[0].isdigit()
    assert svcs[UNKNOWN_TCP].protocol == "unknown"
    assert set(svcs) == set(EXPECTED_TCP)


def test_connect_sweep_finds_the_same_ports(runs: Runs) -> None:
    syn, _ = runs.discovery("syn")
    con, _ = runs.discovery("connect")
    assert syn.method == "syn-scan" and con.method == "connect-scan"
    syn_ports = {s.port: s.protocol for s in syn.services}
    con_ports = {s.port: s.protocol for s in con.services}
    assert syn_ports == con_ports == EXPECTED_TCP
    assert con.stats["filtered"] == syn.stats["filtered"] == len(SWEEP_PORTS) - len(EXPECTED_TCP)
