"""Checks start while discovery goes on, and the device's connection cap holds throughout.

One `probe run` against the media NAS (real daemons: lighttpd with a Basic login on 80, Samba,
the RTSP and console stand-ins, an unidentifiable binary service on 8000 that goes to nmap) with
`--max-connections 3`. The evidence must show a per-service check that started before discovery
ended (`run.timings[].started_s` against `discovery.<host>.stats.ended_s`, both counted from the
start of work on the target) and that no device-level check did; and the device itself, watched
from inside its namespace (its kernel's TCP table, read every 25 ms through /proc), must never have had more
connections from probe established at once than the cap (`_at_once`: it can miss a peak, never
invent one, so a breach it sees is real).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from probe.lab import LabDevice

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]

CAP = 3
SAMPLES = 4000  # reads of the table at most (bounded whatever happens to the scan)


def _hex_ip(address: str) -> str:
    """An IPv4 address as /proc/net/tcp writes it (little-endian hex)."""
    return socket.inet_aton(address)[::-1].hex().upper()


def _established(snapshot: str, device: str, peer: str) -> set[tuple[str, str]]:
    """Connections ESTABLISHED (state 01) between the device and `peer` in one /proc/net/tcp read."""
    local, remote = _hex_ip(device), _hex_ip(peer)
    out = set()
    for line in snapshot.splitlines():
        f = line.split()
        if len(f) > 3 and f[3] == "01" and f[1].split(":")[0] == local and f[2].split(":")[0] == remote:
            out.add((f[1], f[2]))
    return out


def _at_once(tables: list[set[tuple[str, str]]]) -> list[int]:
    """How many connections were surely open at the same moment, per read.

    One read of the table is not atomic (the kernel walks it bucket by bucket; under load a read
    was seen listing one connection twice, and it could list one that closed during the read
    beside one that opened later). A connection seen in the reads before and after read i was
    open through the whole of read i; so every connection in all three was open at once. This
    can miss a short-lived connection, never count one too many."""
    return [len(tables[i - 1] & tables[i] & tables[i + 1]) for i in range(1, len(tables) - 1)]


def _watch(namespace: str, stop: threading.Event, tables: list[set[tuple[str, str]]], device: str,
           peer: str) -> None:
    """Read the device's TCP table every 25 ms until `stop` (at most SAMPLES reads): through
    /proc/<pid>/net/tcp of a process inside its namespace, so no process is started per read."""
    pid = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, timeout=10,
                         check=True).stdout.split()[0]
    for _ in range(SAMPLES):
        if stop.is_set():
            return
        tables.append(_established(Path(f"/proc/{pid}/net/tcp").read_text(), device, peer))
        time.sleep(0.025)


def test_service_checks_start_during_discovery_and_the_cap_holds(nas: LabDevice, tmp_path: Path) -> None:
    out = tmp_path / "nas.json"
    stop, tables = threading.Event(), []  # type: ignore[var-annotated]
    watcher = threading.Thread(target=_watch, args=(nas.namespace, stop, tables, nas.address, nas.host_address),
                               daemon=True)
    watcher.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "probe", "run", "--target", nas.address, "--profile",
                               nas.profile, "--max-connections", str(CAP), "--out", str(out), "--quiet"],
                              capture_output=True, text=True, timeout=150)
    finally:
        stop.set()
        watcher.join(10)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    stats = doc["discovery"][nas.address]["stats"]
    ended = stats["ended_s"]
    timings = doc["run"]["timings"]
    early = [t for t in timings if t["port"] is not None and t["started_s"] < ended]
    assert early, f"no per-service check started before discovery ended at {ended} s: {timings}"
    # the binary port nmap looks at is not final until nmap is done: no check ran on it early
    assert 8000 in stats["nmap_ports"]
    assert not [t for t in early if t["port"] == 8000]
    # checks that read the device's whole service list start when discovery has ended
    device_level = [t for t in timings if t["port"] is None]
    assert device_level and all(t["started_s"] >= ended for t in device_level), (ended, device_level)
    assert stats["connections_peak"] <= CAP
    counts = _at_once(tables)
    assert len(counts) > 50, "the device's TCP table was hardly read"
    assert max(counts) >= 1, "the watcher never saw probe's connections: it read the wrong table"
    assert max(counts) <= CAP, f"{max(counts)} connections established at once on the device (cap {CAP})"
