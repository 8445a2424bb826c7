"""nmap service/version detection, used only where our own fingerprinting left a gap.

Why so narrow: `nmap -sV` is thorough but slow exactly where our probes are already good. Measured
here (nmap 7.93, one veth hop): a quiet HTTPS port (no Server header) costs it minutes, a silent
unknown port 167 s at the default intensity, while SSH/FTP/telnet cost 0.4 s. Our own sweep finds
the open ports and our own probes identify the common protocols; nmap then runs only on ports we
could not identify (confidence "port") or whose product/version we could not read and where nmap
is known to be quick to fill them (ftp, ssh, smtp, telnet, mqtt, dns). HTTP/HTTPS/TLS ports are
never sent to nmap: the checks read those themselves.

Each port gets its own nmap process (`-n -Pn -sV -p PORT IP`, IP literal, no DNS) with its own
`--host-timeout`, so one slow port cannot throw away the others' results (a host timeout makes
nmap drop everything it found for the host). The process is polled, so Ctrl-C or --max-time stop
it. Its XML output is kept verbatim as an `nmap-xml` artefact and parsed with python-nmap.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

NMAP_TO_PROTOCOL = {
    "ssh": "ssh", "telnet": "telnet", "ftp": "ftp", "http": "http", "http-proxy": "http", "https": "https",
    "domain": "dns", "snmp": "snmp", "upnp": "upnp", "mqtt": "mqtt", "mosquitto": "mqtt", "rtsp": "rtsp",
    "smtp": "smtp", "ssl": "tls", "tls": "tls", "ssdp": "ssdp", "mdns": "mdns", "secure-mqtt": "mqtts",
    "microsoft-ds": "smb", "netbios-ssn": "smb",
}

# nmap's mqtt-subscribe version script reports e.g. name="mosquitto version 2.0.11"
NMAP_SCRIPT_NAMES = {"mosquitto": "mqtt"}
_SCRIPT_NAMED = re.compile(r"^(mosquitto) version (\S+)$", re.IGNORECASE)

# protocols whose product/version nmap fills quickly (measured: 0.4-14 s each)
QUICK_FILL = frozenset({"ftp", "ssh", "smtp", "telnet", "mqtt", "dns"})
# never worth nmap's time: our own probes identify them and nmap lingers on quiet ones for minutes;
# and never a console: nmap's probes are lines of text a shell would try to run
NEVER = frozenset({"http", "https", "tls", "upnp", "rtsp", "console", "smb"})

DEFAULT_PORT_TIMEOUT = 60.0


@dataclass
class NmapService:
    port: int
    state: str
    protocol: str | None  # our vocabulary; None when nmap only guessed from its port table
    name: str  # nmap's service name as printed
    product: str | None
    version: str | None
    extrainfo: str | None
    tls: bool
    method: str  # nmap's: probed | table
    xml: bytes  # the whole XML document of this nmap run
    elapsed: float
    timed_out: bool = False
    error: str | None = None


def available() -> str | None:
    """nmap's path, or None."""
    return shutil.which("nmap")


def wanted(protocol: str, confidence: str, product: str | None, version: str | None,
           fill_versions: bool = False, tls: bool = False) -> bool:
    """Should nmap look at this TCP service? (the policy documented in docs/discovery.md)

    By default only ports our own probes could not identify: no check depends on product/version,
    and filling them costs nmap tens of seconds on services with login delays (telnet, FTP).
    `fill_versions` (--nmap-versions) also asks for those. A port that answered as TLS is never
    sent, whatever it carries: the TLS checks read it themselves, and quiet TLS ports are where
    nmap spends minutes.
    """
    if protocol in NEVER or tls:
        return False
    if confidence == "port":
        return True
    return fill_versions and protocol in QUICK_FILL and (product is None or version is None)


def nmap_argv(nmap: str, host: str, port: int, timeout: float, unidentified: bool) -> list[str]:
    ipaddress.ip_address(host)  # IP literals only: nmap must never resolve a name
    argv = [nmap, "-n", "-Pn", "-sV", "--max-retries", "1", "--host-timeout", f"{max(1, int(timeout))}s",
            "-oX", "-", "-p", f"T:{port}"]
    if not unidentified:
        argv.insert(4, "--version-intensity")
        argv.insert(5, "7")
    if ":" in host:
        argv.append("-6")
    argv.append(host)
    return argv


def scan_port(host: str, port: int, *, timeout: float = DEFAULT_PORT_TIMEOUT, unidentified: bool = True,
              cancel: threading.Event | None = None) -> NmapService:
    """Run nmap -sV on one TCP port; never raises for nmap trouble (error is set instead)."""
    nmap_path = available()
    if nmap_path is None:
        return NmapService(port, "unknown", None, "", None, None, None, False, "", b"", 0.0, error="nmap not installed")
    argv = nmap_argv(nmap_path, host, port, timeout, unidentified)
    start = time.monotonic()
    # nmap's own --host-timeout bounds it; the hard limit here also covers a hung nmap
    hard = timeout + 15.0
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out = err = b""
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                if (cancel is not None and cancel.is_set()) or time.monotonic() - start > hard:
                    proc.kill()
                    out, err = proc.communicate(timeout=10)
                    elapsed = time.monotonic() - start
                    why = "cancelled" if cancel is not None and cancel.is_set() else f"nmap exceeded {hard:.0f}s"
                    return NmapService(port, "unknown", None, "", None, None, None, False, "", out, elapsed,
                                       timed_out=True, error=why)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    elapsed = time.monotonic() - start
    if proc.returncode != 0 and not out:
        return NmapService(port, "unknown", None, "", None, None, None, False, "", out, elapsed,
                           error=f"nmap exited {proc.returncode}: {err.decode('utf-8', 'replace')[-300:]}")
    return parse_xml(out, host, port, elapsed)


def parse_xml(xml: bytes, host: str, port: int, elapsed: float = 0.0) -> NmapService:
    """Read one port's service from nmap XML (python-nmap for the fields, ElementTree for tunnel/method)."""
    import nmap  # python-nmap; imported here so that probe works without it when nmap is unused

    base = NmapService(port, "unknown", None, "", None, None, None, False, "", xml, elapsed)
    try:
        parsed = nmap.PortScanner.__new__(nmap.PortScanner).analyse_nmap_xml_scan(xml.decode("utf-8", "replace"))
    except Exception as exc:  # python-nmap raises its own error type and ElementTree's
        base.error = f"unreadable nmap XML: {exc.__class__.__name__}: {exc}"
        return base
    scan: dict[str, Any] = parsed.get("scan", {})
    scanned: dict[str, Any] = next(iter(scan.values()), {})
    entry = scanned.get("tcp", {}).get(port) if scan else None
    if entry is None:
        stats = parsed.get("nmap", {}).get("scanstats", {})
        base.error = "nmap reported no result for the port" + (" (host timeout)" if stats.get("down") == "1" else "")
        base.timed_out = b'timedout="true"' in xml
        return base
    tunnel, method = "", ""
    try:
        root = ET.fromstring(xml)
        el = root.find(f".//port[@protocol='tcp'][@portid='{port}']/service")
        if el is not None:
            tunnel, method = el.get("tunnel", ""), el.get("method", "")
    except ET.ParseError:
        pass
    name = entry.get("name") or ""
    product, version = entry.get("product") or None, entry.get("version") or None
    m = _SCRIPT_NAMED.match(name)  # a version script (mqtt-subscribe) renames the service itself
    if m:
        name, product, version = NMAP_SCRIPT_NAMES[m.group(1).lower()], m.group(1), m.group(2)
    tls = tunnel == "ssl" or name in ("https", "ssl")
    proto = NMAP_TO_PROTOCOL.get(name) if method == "probed" else None
    if proto == "http" and tls:
        proto = "https"
    if proto == "mqtt" and tls:
        proto = "mqtts"
    return NmapService(port, entry.get("state", "unknown"), proto, name, product, version,
                       entry.get("extrainfo") or None, tls, method, xml, elapsed)
