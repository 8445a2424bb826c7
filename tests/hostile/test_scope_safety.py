"""Scope safety: during a full `probe run`, no packet goes to any address but the target.

Set-up (all created and removed by this test):

    [ns scanner]  pss<N> 10.231.N.1/30  ====veth====  psd<N> 10.231.N.2/30  [ns device]
      default route via 10.231.N.2                    hostile servers + busybox telnetd

probe runs inside the scanner namespace, whose only non-loopback interface is the veth and whose
default route points down it. So a stray packet to ANY address (another host, a DNS server,
broadcast, multicast, another lab) is routed onto the veth and captured there, instead of
silently following the machine's own default route where a capture on the root namespace's
interfaces would have to separate it from other traffic on a shared machine. The device
namespace has no other interface and no forwarding, so nothing goes further. IPv6 is disabled
on both ends (no router solicitations or DAD noise). tcpdump captures everything on the veth;
every IPv4 packet must be scanner<->target, every ARP must be about those two addresses, and
nothing else may appear at all. Besides the hostile servers the device runs what the open-data
probes talk to (issue 12): Samba with a guest share (impacket's SMB session, share list and
folder listing), a socat-served fake console (the newline/echo probe), and a lighttpd with a
directory listing, read-only WebDAV, a snapshot and a status answer (the listing crawl, PROPFIND,
snapshot paths and status pages); the run must prove each of them open, so they really ran. The
UDP services consumer devices expose run there too (issue 12 section 3): tftpd-hpa serving a
configuration file, ntpsec with control queries open, libcoap's CoAP server, wsdd (unicast 3702
handed to it as in the lab's smart hub) and the Ubiquiti responder stand-in; the device's own
multicast (wsdd's Hello, IGMP reports) is dropped in the device namespace, since nothing the
device announces by itself is the scanner's doing. A second lighttpd serves a script-driven login
page whose redirects, frames, script files and login call also name other hosts (the web-login
search must follow only the target's own).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.data import DLT_EN10MB
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapReader

from probe.output.evidence import validate
from tests.helpers.cli import REPO as REPO_ROOT
from tests.helpers.cli import probe_cmd
from tests.helpers.netns import NetNSPair, available
from tests.helpers.processes import stop_detached

SERVERS = ("ftp-markup", "telnet-markup", "ssh-banner-only", "http-markup", "tls-malformed-cert")

pytestmark = [pytest.mark.skipif(available() is not None, reason=str(available())),
              pytest.mark.timeout(300)]  # a full scan of all 65,535 ports and every check (its own bound: 180 s)


def read_capture(pcap: Path, scanner: str, target: str) -> tuple[int, list[str], set[int]]:
    """(packets, summaries of every packet not between scanner and target, TCP ports the scanner
    sent a SYN to). The ~130,000 packets of a full sweep are read raw and their Ethernet, IPv4, ARP
    and TCP headers decoded here (fixed offsets); scapy dissects only what is not allowed, for the
    failure message (dissecting every packet with scapy took ~17 s)."""
    me, it = socket.inet_aton(scanner), socket.inet_aton(target)
    allowed, endpoints = {(me, it), (it, me)}, {me, it}
    count, strays, syns = 0, [], set()
    with RawPcapReader(str(pcap)) as reader:
        assert reader.linktype == DLT_EN10MB, reader.linktype
        for raw, _meta in reader:
            count += 1
            ethertype = struct.unpack_from("!H", raw, 12)[0]
            if ethertype == 0x0800:  # IPv4
                ihl, proto, src, dst = (raw[14] & 0x0F) * 4, raw[23], raw[26:30], raw[30:34]
                if (src, dst) in allowed:
                    if proto == 6 and src == me and raw[14 + ihl + 13] & 0x02:  # SYN flag
                        syns.add(struct.unpack_from("!H", raw, 14 + ihl + 2)[0])
                    continue
            elif ethertype == 0x0806 and {raw[28:32], raw[38:42]} <= endpoints:  # ARP about the two only
                continue
            strays.append(Ether(raw).summary())  # another address, IPv6, LLDP, anything: none may appear
    return count, strays, syns


CONSOLE = REPO_ROOT / "probe/lab/templates/console/debug-shell.sh"
JPEG = bytes.fromhex("ffd8ffe000104a46494600010101004800480000ffd9")  # JFIF header + end of image


def open_data_servers(pair: NetNSPair, work: Path, share: Path) -> None:
    """smbd (guest share), socat console, lighttpd (listing, WebDAV, snapshot, status) in the device."""
    for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc"):
        (work / "smb" / sub).mkdir(parents=True)
    (share / "media").mkdir()
    (share / "media" / "clip.txt").write_text("clip\n")
    (share / "tmpfs").mkdir()
    (share / "tmpfs" / "snap.jpg").write_bytes(JPEG)
    (share / "status.json").write_text('{"serialNo": "SCOPE0001", "mac": "02:00:00:00:00:09"}')
    smb = work / "smb.conf"
    smb.write_text("\n".join([
        "[global]", "server role = standalone server", f"interfaces = {pair.device_ip}", "bind interfaces only = yes",
        "smb ports = 445", "disable netbios = yes", "map to guest = Bad User", "load printers = no",
        "printing = bsd", "printcap name = /dev/null", "disable spoolss = yes", f"log file = {work}/smbd.log",
        *(f"{k} dir = {work / 'smb' / k}" for k in ("private", "ncalrpc")),
        *(f"{k} directory = {work / 'smb' / k}" for k in ("lock", "state", "cache", "pid")),
        "[Public]", f"path = {share}", "guest ok = yes", "read only = yes"]) + "\n")
    pair.spawn_in(pair.device_ns, ["smbd", "--foreground", "--no-process-group", "--debug-stdout", "-s", str(smb)])
    console = work / "console.sh"
    console.write_text(CONSOLE.read_text().replace("@{firmware}", "scope"))
    console.chmod(0o755)
    pair.spawn_in(pair.device_ns, ["socat", f"TCP-LISTEN:8023,bind={pair.device_ip},reuseaddr,fork",
                                   f"EXEC:{console},stderr"])
    web = work / "lighttpd.conf"
    web.write_text("\n".join([
        'server.modules = ("mod_access", "mod_dirlisting", "mod_webdav")', f'server.document-root = "{share}"',
        f'server.bind = "{pair.device_ip}"', "server.port = 9000", f'server.errorlog = "{work}/lighttpd.log"',
        'mimetype.assign = (".jpg" => "image/jpeg", ".json" => "application/json")',
        'dir-listing.activate = "enable"', 'webdav.activate = "enable"', 'webdav.is-readonly = "enable"']) + "\n")
    pair.spawn_in(pair.device_ns, ["lighttpd", "-D", "-f", str(web)])
    login_ui(pair, work)


# A single-page login whose redirects, frames, script files and login call name other hosts as well
# as its own pages: the login search follows only the target's own (a stray would be captured).
FOREIGN_UI = {
    "index.html": '<html><head><meta http-equiv="refresh" content="5; url=//192.0.2.44/x">'
                  '<script>if (false) { window.location.href = "http://203.0.113.5/login.html"; }\n'
                  'location.replace("/login.html");</script></head>'
                  '<body><iframe src="http://198.51.100.3/frame.html"></iframe></body></html>\n',
    "login.html": '<html><body>Login <input id="u"> <input id="p" type="password">'
                  '<script src="http://203.0.113.5/app.js"></script><script src="/js/login.js"></script>'
                  "</body></html>\n",
    "js/login.js": 'function go() { fetch("http://198.51.100.7/api/login", {method: "POST", '
                   "body: JSON.stringify({username: u, password: p})}); }\n",
}


def login_ui(pair: NetNSPair, work: Path) -> None:
    """lighttpd on 8080 serving FOREIGN_UI."""
    root = work / "login-ui"
    for rel, text in FOREIGN_UI.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    root.chmod(0o755)
    conf = work / "login-ui.conf"
    conf.write_text("\n".join([
        f'server.document-root = "{root}"', f'server.bind = "{pair.device_ip}"', "server.port = 8080",
        f'server.errorlog = "{work}/login-ui.log"', 'index-file.names = ("index.html")',
        'mimetype.assign = (".html" => "text/html", ".js" => "application/javascript")']) + "\n")
    pair.spawn_in(pair.device_ns, ["lighttpd", "-D", "-f", str(conf)])


DEVICE_NFT = """table ip scope_udp {{
    chain prerouting {{ type nat hook prerouting priority -100; ip daddr {ip} udp dport 3702 dnat to 239.255.255.250; }}
    chain rawout {{ type filter hook output priority raw; udp sport 3702 notrack; }}
    chain output {{ type filter hook output priority 0; ip daddr 224.0.0.0/4 drop; }}
    chain input {{ type filter hook input priority 0; tcp dport 5683 reject with tcp reset; }}
}}
"""


def udp_servers(pair: NetNSPair, work: Path) -> None:
    """TFTP, NTP, CoAP, WS-Discovery and the Ubiquiti responder in the device (see the docstring)."""
    pair.run_in(pair.device_ns, ["nft", "-f", "-"], input=DEVICE_NFT.format(ip=pair.device_ip))
    tftp_root = work / "tftp"
    tftp_root.mkdir()
    (tftp_root / "config.bin").write_text("hostname=scope\npsk=scope-not-a-key\n")
    pair.spawn_in(pair.device_ns, ["in.tftpd", "-L", "-a", f"{pair.device_ip}:69", "-u", "root", "-s",
                                   str(tftp_root)])
    ntp_conf = work / "ntp.conf"
    ntp_conf.write_text(f"driftfile {work}/ntp.drift\nrestrict default kod nomodify nopeer noquery limited\n"
                        "restrict 10.231.0.0 mask 255.255.0.0 kod nomodify limited\n")
    pair.spawn_in(pair.device_ns, ["ntpd", "-n", "-c", str(ntp_conf), "-p", str(work / "ntpd.pid")])
    pair.spawn_in(pair.device_ns, ["coap-server-notls", "-A", pair.device_ip, "-p", "5683"])
    pair.spawn_in(pair.device_ns, ["wsdd", "-4", "-t", "-i", pair.device_if, "-n", "SCOPE"])
    pair.spawn_in(pair.device_ns, [sys.executable, "-m", "probe.lab.ubnt_discovery", "--bind", pair.device_ip,
                                   "--mac", "02:00:00:00:00:0a", "--firmware", "scope", "--hostname", "scope",
                                   "--model", "SCOPE", "--lifetime", "300"], cwd=str(REPO_ROOT))
    deadline = time.monotonic() + 15
    wanted = {f":{p}" for p in (69, 123, 3702, 5683, 10001)}
    while time.monotonic() < deadline:
        bound = pair.run_in(pair.device_ns, ["ss", "-Hlun"]).stdout
        if all(any(ln.split()[3].endswith(w) for ln in bound.splitlines() if len(ln.split()) > 3) for w in wanted):
            break
        time.sleep(0.2)


@pytest.fixture
def isolated_pair() -> Iterator[NetNSPair]:
    with NetNSPair("s") as pair:  # namespaces probe-s-s<N>, probe-s-d<N>; links pss<N>, psd<N>
        yield pair


def test_full_scan_sends_nothing_to_any_other_address(isolated_pair: NetNSPair, tmp_path: Path) -> None:
    pair = isolated_pair
    pcap, out, ready = tmp_path / "veth.pcap", tmp_path / "evidence.json", tmp_path / "hostile.out"
    links = subprocess.run(["ip", "-n", pair.scanner_ns, "-o", "link"], capture_output=True, text=True, check=True,
                           timeout=30).stdout
    assert sorted(ln.split(":")[1].strip().split("@")[0] for ln in links.splitlines()) == ["lo", pair.scanner_if]

    serve = [a for i, name in enumerate(SERVERS) for a in ("--serve", f"{name}:{2000 + i}")]
    pair.spawn_in(pair.device_ns, [sys.executable, "-m", "probe.hostile", "--bind", pair.device_ip,
                                   "--allow-non-loopback", *serve], log=ready, cwd=str(REPO_ROOT))
    pair.spawn_in(pair.device_ns, ["busybox", "telnetd", "-F", "-p", "23", "-b", f"{pair.device_ip}:23", "-l",
                                   "/bin/false"])
    share = Path(tempfile.mkdtemp(prefix="probe-scope-share-"))  # the guest account must reach it
    share.chmod(0o755)
    try:
        open_data_servers(pair, tmp_path, share)
        udp_servers(pair, tmp_path)
        _scan_and_capture(pair, tmp_path, pcap, out, ready)
    finally:
        # smbd starts samba-dcerpcd (the share list) in a session of its own: stop it by its pid file
        stop_detached(tmp_path / "smb" / "pid" / "samba-dcerpcd.pid", str(tmp_path / "smb.conf"))
        shutil.rmtree(share, ignore_errors=True)


def _scan_and_capture(pair: NetNSPair, tmp_path: Path, pcap: Path, out: Path, ready: Path) -> None:
    capture = pair.spawn_in(pair.scanner_ns, ["tcpdump", "-i", pair.scanner_if, "-n", "-U", "-s", "128", "-w",
                                              str(pcap)])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (pcap.exists() and "ready" in ready.read_text()):
        time.sleep(0.1)
    assert "ready" in ready.read_text(), ready.read_text()
    assert pcap.exists(), "tcpdump did not start"
    time.sleep(0.5)
    start = time.monotonic()
    r = subprocess.run(["ip", "netns", "exec", pair.scanner_ns, *probe_cmd(
        "run", "--target", pair.device_ip, "--profile", "home-gateway", "--out", str(out), "--max-time", "90",
        "--timeout", "2", "--credential-budget", "3", "--quiet")], capture_output=True, text=True, timeout=180,
        cwd=REPO_ROOT)
    elapsed = time.monotonic() - start
    time.sleep(1.0)  # let late replies and resets land in the capture
    capture.send_signal(signal.SIGINT)  # tcpdump writes out what it buffered
    capture.wait(timeout=10)
    assert r.returncode == 1, r.stderr  # complete; cleartext logins on the markup servers: FAIL
    assert elapsed < 120
    doc = json.loads(out.read_text())
    validate(doc)
    assert doc["discovery"][pair.device_ip]["stats"]["tcp_ports_scanned"] == 65535  # a full sweep
    assert {s["port"] for s in doc["services"]} >= {23, 445, 8023, 9000} | {2000 + i for i in range(len(SERVERS))}
    opened = {f["port"] for f in doc["findings"] if f["check_id"] == "unauthenticated_access" and f["status"] == "FAIL"}
    assert opened >= {445, 8023, 9000, 69, 5683}, opened  # the SMB, console, web, TFTP and CoAP probes all ran
    udp = {s["port"]: s["protocol"] for s in doc["services"] if s["transport"] == "udp"}
    assert udp == {69: "tftp", 123: "ntp", 3702: "ws-discovery", 5683: "coap", 10001: "ubnt-discovery"}, udp
    ntp_svc = next(s for s in doc["services"] if s["transport"] == "udp" and s["port"] == 123)
    assert ntp_svc["details"]["ntp_mode6"] == "answered READVAR"  # the control query ran too
    ui = next(f for f in doc["findings"] if f["check_id"] == "default_credentials" and f.get("port") == 8080)
    assert ui["status"] == "INCONCLUSIVE" and "through scripts" in ui["summary"], ui  # own pages read, no login
    content = {a["id"]: a.get("content", "") for a in doc["artefacts"]}
    search = "\n".join(content[i] for i in ui["evidence"])
    assert "GET /login.html" in search and "GET /js/login.js" in search and "GET /app.js" not in search
    leak = next(f for f in doc["findings"] if f["check_id"] == "information_exposure")
    assert leak["status"] == "FAIL", leak["summary"]

    scanner, target = pair.scanner_ip, pair.device_ip
    count, strays, syns = read_capture(pcap, scanner, target)
    assert count > 65535, f"capture saw only {count} packets: the sweep alone sends one SYN per port"
    assert not strays, f"{len(strays)} packet(s) not between scanner and target: {strays[:10]}"
    assert len(syns) == 65535  # every port was probed, and only on the target
    assert ipaddress.ip_address(target) in ipaddress.ip_network(f"{scanner}/30", strict=False)


def test_capture_reader_names_every_stray(tmp_path: Path) -> None:
    """The raw reader above against a capture crafted with scapy: it must miss nothing."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP
    from scapy.utils import wrpcap

    s, t = "10.231.9.1", "10.231.9.2"
    # explicit MAC addresses: without them scapy would ask the network (ARP) while building the frames

    def eth() -> Ether:
        return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")

    packets = [eth() / IP(src=s, dst=t) / TCP(dport=22, flags="S"), eth() / IP(src=t, dst=s) / TCP(flags="SA"),
               eth() / IP(src=s, dst=t) / TCP(dport=23, flags="A"), eth() / ARP(psrc=s, pdst=t),
               eth() / IP(src=s, dst="192.0.2.53") / UDP(dport=53),  # a DNS query elsewhere
               eth() / IP(src=s, dst="239.255.255.250") / UDP(dport=1900),  # multicast
               eth() / ARP(psrc=s, pdst="10.231.9.3"), eth() / IPv6(src="fe80::1", dst="ff02::1") / ICMP(),
               eth() / IP(src=s, dst=t, options=b"\x01\x01\x01\x00") / TCP(dport=80, flags="S")]  # IHL 6
    pcap = tmp_path / "crafted.pcap"
    wrpcap(str(pcap), packets)
    count, strays, syns = read_capture(pcap, s, t)
    assert count == len(packets)
    assert len(strays) == 4 and "192.0.2.53" in strays[0] and "239.255.255.250" in strays[1]
    assert syns == {22, 80}
