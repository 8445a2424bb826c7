"""The SYN sweep against real listeners: loopback, and a namespace with nftables DROP/REJECT rules.

Covers what the connect sweep cannot do quickly: a device that drops closed ports. Open, closed
(RST) and filtered (silence or ICMP unreachable) must each be classified correctly, and a full
1-65535 sweep of a drop-policy device must finish in seconds (bound: 60 s, a correctness bound).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from probe.discovery.syn_scan import SynSweepResult, SynUnavailable, build_syn, syn_sweep
from probe.discovery.tcp_connect import sweep
from tests.helpers.cli import REPO
from tests.helpers.netns import NetNS, available
from tests.helpers.ports import free_port
from tests.helpers.processes import require

needs_root = pytest.mark.skipif(available() is not None, reason=str(available()))


def _listeners(n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        out.append(s)
    return out


@pytest.mark.parametrize(("sport", "dport", "seq"), [(40000, 22, 0x12345678), (60999, 1, 0), (40001, 65535, 0xFFFFFFFF),
                                                    (50000, 8080, 0xFFFF0000), (41234, 443, 0x0000FFFF)])
def test_syn_checksum_matches_kernel_rule(sport: int, dport: int, seq: int) -> None:
    """A SYN's checksum over the pseudo-header must verify to zero (unit test of the builder, whose
    checksum is precomputed for the fixed fields and completed per segment, carries included)."""
    src, dst = socket.inet_aton("10.231.1.1"), socket.inet_aton("10.231.1.2")
    seg = build_syn(src, dst, sport, dport, seq)
    data = src + dst + bytes([0, 6]) + len(seg).to_bytes(2, "big") + seg
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF
    assert seg[13] == 0x02  # SYN only
    assert int.from_bytes(seg[2:4], "big") == dport and int.from_bytes(seg[4:8], "big") == seq


def test_ipv6_target_is_refused_for_fallback() -> None:
    with pytest.raises(SynUnavailable):
        syn_sweep("::1", [22])


@needs_root
def test_syn_and_connect_agree_on_loopback() -> None:
    socks = _listeners(3)
    try:
        open_ports = sorted(s.getsockname()[1] for s in socks)
        closed = free_port()  # nothing listens there
        ports = sorted(set(open_ports) | {closed} | set(range(min(open_ports) - 20, min(open_ports))))
        syn = syn_sweep("127.0.0.1", ports, max_rate=20000)
        con = sweep("127.0.0.1", ports, timeout=1.0)
        assert set(open_ports) <= set(syn.open_ports)
        assert set(open_ports) <= set(con.open_ports)
        assert closed in syn.closed_ports
        assert syn.scanned == len(ports) and syn.complete
        assert syn.filtered == 0  # loopback answers every probe
    finally:
        for s in socks:
            s.close()


@needs_root
def test_open_closed_filtered_classification(tmp_path: Path) -> None:
    with NetNS() as ns:
        ns.spawn([sys.executable, "-m", "http.server", "--bind", ns.ip, "8080"], cwd=str(tmp_path))
        ns.wait_tcp(8080)
        # 8081 closed (RST), 8082 silently dropped, 8083 rejected with ICMP port unreachable
        ns.nft("table inet pdisc {\n chain input {\n  type filter hook input priority 0; policy accept;\n"
               "  tcp dport 8082 drop\n  tcp dport 8083 reject with icmp type port-unreachable\n }\n}\n")
        res = syn_sweep(ns.ip, [8080, 8081, 8082, 8083], max_rate=1000, retries=1)
        assert res.open_ports == [8080]
        assert list(res.closed_ports) == [8081]
        assert sorted(res.filtered_ports) == [8082, 8083]
        assert res.icmp_unreachable == 1
        assert res.retransmitted >= 1  # the dropped port was asked twice before being called filtered
        con = sweep(ns.ip, [8080, 8081, 8082], timeout=1.0)
        assert con.open_ports == [8080] and con.closed == 1 and con.filtered == 1


@needs_root
def test_concurrent_sweeps_share_one_loop_without_crosstalk(tmp_path: Path) -> None:
    """Several devices swept at once (one run, many targets) go through one send/receive loop;
    each must get exactly its own answers: one device drops, the other answers RST."""
    with NetNS() as a, NetNS() as b:
        a.spawn([sys.executable, "-m", "http.server", "--bind", a.ip, "8080"], cwd=str(tmp_path))
        b.spawn([sys.executable, "-m", "http.server", "--bind", b.ip, "9090"], cwd=str(tmp_path))
        a.wait_tcp(8080)
        b.wait_tcp(9090)
        a.drop_policy(allow_tcp=[8080])
        ports = list(range(8000, 9200))
        out: dict[str, SynSweepResult] = {}
        threads = [threading.Thread(target=lambda ns=ns: out.__setitem__(ns.ip, syn_sweep(ns.ip, ports, max_rate=5000)))
                   for ns in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        ra, rb = out[a.ip], out[b.ip]
        assert ra.open_ports == [8080] and ra.closed == 0 and ra.filtered == len(ports) - 1
        assert rb.open_ports == [9090] and rb.closed == len(ports) - 1 and rb.filtered == 0
        assert ra.complete and rb.complete


@needs_root
@pytest.mark.timeout(120)  # the test's own bound (60 s) must be the one that speaks
def test_full_sweep_of_drop_policy_device_is_fast(tmp_path: Path) -> None:
    with NetNS() as ns:
        for port in (2222, 8080, 61000):
            ns.spawn([sys.executable, "-m", "http.server", "--bind", ns.ip, str(port)], cwd=str(tmp_path))
            ns.wait_tcp(port)
        ns.drop_policy(allow_tcp=[2222, 8080, 61000])
        t0 = time.monotonic()
        res = syn_sweep(ns.ip, range(1, 65536))
        elapsed = time.monotonic() - t0
        assert res.open_ports == [2222, 8080, 61000]
        assert res.closed == 0 and res.filtered == 65532
        assert res.complete and res.scanned == 65535
        assert elapsed < 60, f"full SYN sweep of a drop-policy device took {elapsed:.1f}s"


@needs_root
def test_sweep_stops_when_cancelled() -> None:
    with NetNS() as ns:
        ns.drop_policy()
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        t0 = time.monotonic()
        res = syn_sweep(ns.ip, range(1, 65536), max_rate=2000, cancel=cancel)
        assert time.monotonic() - t0 < 5
        assert not res.complete
        assert res.scanned < 65535  # unanswered ports of an unfinished sweep are not called filtered


@needs_root
def test_not_root_falls_back_to_connect_and_says_so() -> None:
    """Run discovery as an unprivileged user for real: the method and the reason are recorded.
    (The listener never answers: identification gives up after the 1 s timeout.)"""
    require("setpriv")
    socks = _listeners(1)
    port = socks[0].getsockname()[1]
    code = (
        "import json\n"
        "from probe.discovery import discover\n"
        "from probe.options import DiscoveryOptions, SafetyOptions, ScanOptions\n"
        "from probe.session import TargetSession\n"
        "from probe.store import EvidenceStore\n"
        "o = ScanOptions(safety=SafetyOptions(timeout=1.0), discovery=DiscoveryOptions(use_nmap=False))\n"
        "s = TargetSession('127.0.0.1', o, EvidenceStore())\n"
        f"r = discover(s, ({port},), ())\n"
        "print(json.dumps({'method': r.method, 'stats': r.stats, 'ports': [s.port for s in r.services],"
        " 'smethods': [s.method for s in r.services]}))\n"
    )
    try:
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                           capture_output=True, text=True, timeout=60, cwd="/",
                           env={**os.environ, "PYTHONPATH": str(REPO)})
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["method"] == "connect-scan"
        assert "root" in out["stats"]["syn_unavailable"]
        assert out["ports"] == [port] and out["smethods"] == ["connect-scan"]
    finally:
        socks[0].close()
