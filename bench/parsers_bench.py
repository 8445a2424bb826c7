#!/usr/bin/env python3
"""Benchmark: probe's hand-written DNS/mDNS and SNMP parsers against scapy's DNS and SNMP layers.

Issue 15 asks whether scapy should do the packet work it is best at (the SNMP BER and DNS/mDNS
parsing) or leave the project. This measures what each costs a `probe run`:

  1. import: wall time and peak RSS of a fresh interpreter that imports probe's run-time modules,
     alone and then with scapy's DNS and SNMP layers, and each parser on its own (median of --runs);
  2. what importing scapy does to the machine: netlink requests (route, link, address dumps) seen
     with strace, when strace is installed;
  3. per packet: parse time and allocated bytes for a version.bind TXT answer, an mDNS PTR answer
     with five records and compression, and an SNMP GetResponse, each read down to the value
     probe uses (median of --runs, --loops parses each);
  4. hostile input: how many of --fuzz random datagrams each parser raises on (probe's callers
     must never see an exception from device bytes).

Sends no packet: every datagram is built in memory. Not a test: run it by hand and copy the table
into README.md (dependency table) when it changes.

  .venv/bin/python bench/parsers_bench.py [--runs 7] [--loops 2000] [--fuzz 5000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from probe.protocols import dns, snmp  # noqa: E402

PROBE_RUNTIME = ("import probe.cli, probe.engine, probe.discovery, probe.plugins; "
                 "list(probe.plugins.registry().values())")  # every check module, as before the lazy loader
IMPORT_CASES = {
    "probe run-time modules (all checks loaded)": PROBE_RUNTIME,
    "  + scapy.layers.dns + scapy.layers.snmp": PROBE_RUNTIME + "; import scapy.layers.dns, scapy.layers.snmp",
    "probe.protocols.dns + probe.protocols.snmp alone": "import probe.protocols.dns, probe.protocols.snmp",
    "scapy.layers.dns + scapy.layers.snmp alone": "import scapy.layers.dns, scapy.layers.snmp",
}
_MEASURE = ("import resource, time; t = time.perf_counter(); {stmt}; "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def import_cost(stmt: str, runs: int) -> tuple[float, float]:
    """(median seconds, median peak RSS in MB) of a fresh interpreter running `stmt`."""
    secs, rss = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _MEASURE.format(stmt=stmt)], capture_output=True, text=True,
                             check=True, cwd=REPO, timeout=120).stdout.split()
        secs.append(float(out[0]))
        rss.append(int(out[1]) / 1024)
    return statistics.median(secs), statistics.median(rss)


def netlink_requests(stmt: str) -> int | None:
    """Netlink messages the interpreter sends while running `stmt` (None without strace)."""
    if shutil.which("strace") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "trace"
        subprocess.run(["strace", "-f", "-e", "trace=sendto,sendmsg", "-o", str(log), sys.executable, "-c", stmt],
                       capture_output=True, check=True, cwd=REPO, timeout=120)
        return sum(1 for line in log.read_text().splitlines() if "nlmsg_type=" in line)


# -- packets, built in memory -----------------------------------------------------------------------
def version_bind_answer() -> bytes:
    question = dns.encode_name(dns.VERSION_BIND) + struct.pack("!HH", dns.TXT, dns.CH)
    txt = b"\x0cdnsmasq-2.90"
    rec = b"\xc0\x0c" + struct.pack("!HHIH", dns.TXT, dns.CH, 0, len(txt)) + txt
    return struct.pack("!HHHHHH", 0x1234, 0x8400, 1, 1, 0, 0) + question + rec


def mdns_ptr_answer() -> bytes:
    question = dns.encode_name(dns.MDNS_SERVICES) + struct.pack("!HH", dns.PTR, dns.IN)
    recs = b""
    for service in (b"_http", b"_ipp", b"_rtsp", b"_ssh", b"_hap"):
        target = bytes([len(service)]) + service + b"\x04_tcp\xc0\x23"  # "local" in the question
        recs += b"\xc0\x0c" + struct.pack("!HHIH", dns.PTR, dns.IN, 4500, len(target)) + target
    return struct.pack("!HHHHHH", 0x4321, 0x8400, 1, 5, 0, 0) + question + recs


def snmp_response() -> bytes:
    value = snmp.tlv(0x04, b"Linux gateway 5.10.0 #1 SMP armv7l")
    vb = snmp.tlv(0x30, snmp.tlv(0x30, snmp.enc_oid(snmp.SYS_DESCR) + value))
    pdu = snmp.tlv(snmp.RESPONSE, snmp.enc_int(77) + snmp.enc_int(0) + snmp.enc_int(0) + vb)
    return snmp.tlv(0x30, snmp.enc_int(1) + snmp.tlv(0x04, b"public") + pdu)


# -- each parser, down to the value probe uses --------------------------------------------------------
def ours_txt(data: bytes) -> object:
    r = dns.parse_response(data, 0x1234)
    return r.first(dns.TXT) if r else None


def ours_ptr(data: bytes) -> object:
    r = dns.parse_response(data, 0x4321)
    return r.all(dns.PTR) if r else None


def ours_snmp(data: bytes) -> object:
    return snmp.parse_message(data).varbinds[0][2]


def scapy_parsers() -> dict[str, Callable[[bytes], object]]:
    from scapy.layers.dns import DNS
    from scapy.layers.snmp import SNMP

    def txt(data: bytes) -> object:
        p = DNS(data)
        return b" ".join(p.an[0].rdata) if p.qr and p.an else None

    def ptr(data: bytes) -> object:
        p = DNS(data)
        return [rr.rdata for rr in p.an] if p.qr else None

    def snmp_value(data: bytes) -> object:
        return SNMP(data).PDU.varbindlist[0].value.val

    return {"txt": txt, "ptr": ptr, "snmp": snmp_value}


def _norm(value: object) -> object:
    """Compare values across parsers: bytes as text, names without the root dot."""
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.rstrip(".") if isinstance(value, str) else value


def per_packet(fn: Callable[[bytes], object], data: bytes, runs: int, loops: int) -> tuple[float, int]:
    """(median microseconds per parse, bytes allocated by one parse at its peak)."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        for _ in range(loops):
            fn(data)
        times.append((time.perf_counter() - t) / loops * 1e6)
    tracemalloc.start()
    fn(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak


def raises(fn: Callable[[bytes], object], blobs: list[bytes]) -> str:
    """How many blobs made `fn` raise, by exception type."""
    seen: Counter[str] = Counter()
    for b in blobs:
        try:
            fn(b)
        except Exception as exc:
            seen[type(exc).__name__] += 1
    return ", ".join(f"{n} {name}" for name, n in seen.most_common()) or "0"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--loops", type=int, default=2000)
    ap.add_argument("--fuzz", type=int, default=5000)
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print("\n| import | wall (median) | peak RSS |\n|---|---|---|")
    for label, stmt in IMPORT_CASES.items():
        s, mb = import_cost(stmt, args.runs)
        print(f"| {label} | {s * 1000:.0f} ms | {mb:.1f} MB |")
    for label, stmt in (("probe.protocols.dns + snmp", "import probe.protocols.dns, probe.protocols.snmp"),
                        ("scapy.layers.dns + snmp", "import scapy.layers.dns, scapy.layers.snmp")):
        n = netlink_requests(stmt)
        print(f"\nnetlink requests while importing {label}: {'strace not installed' if n is None else n}")
    theirs = scapy_parsers()
    cases = [("version.bind TXT answer", version_bind_answer(), ours_txt, theirs["txt"]),
             ("mDNS PTR answer, 5 records", mdns_ptr_answer(), ours_ptr, theirs["ptr"]),
             ("SNMP GetResponse sysDescr.0", snmp_response(), ours_snmp, theirs["snmp"])]
    print("\n| packet | probe (µs, bytes) | scapy (µs, bytes) | same value |\n|---|---|---|---|")
    for label, data, mine, other in cases:
        (mu, mb), (su, sb) = per_packet(mine, data, args.runs, args.loops), per_packet(other, data, args.runs, 200)
        same = _norm(mine(data)) == _norm(other(data))
        print(f"| {label} | {mu:.1f} µs, {mb} B | {su:.1f} µs, {sb} B | {'yes' if same else 'differs'} |")
    rnd = random.Random(15)

    def mutated(data: bytes) -> bytes:  # a real answer with 1-4 bytes changed: corrupt or hostile
        out = bytearray(data)
        for _ in range(rnd.randrange(1, 5)):
            out[rnd.randrange(len(out))] = rnd.randrange(256)
        return bytes(out)

    from scapy.layers.dns import DNS
    from scapy.layers.snmp import SNMP
    fuzz = [("DNS (version.bind, mDNS answers)", [mutated(d) for d in (cases[0][1], cases[1][1])
                                                  for _ in range(args.fuzz // 2)],
             lambda d: dns.parse_response(d), lambda d: DNS(d)),
            ("SNMP (GetResponse)", [mutated(cases[2][1]) for _ in range(args.fuzz)], snmp.parse_message,
             lambda d: SNMP(d))]
    print(f"\ncorrupted answers ({args.fuzz} each) on which the parser raises (BERError is probe's one "
          "documented refusal, which its callers catch):")
    for label, blobs, mine, other in fuzz:
        print(f"  {label}: probe {raises(mine, blobs)}, scapy {raises(other, blobs)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
