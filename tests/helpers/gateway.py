"""Real daemons inside a NetNS, configured like a small home gateway (for tests and the benchmark).

Each starter writes its config under `tmp`, starts the Debian daemon in the namespace on its usual
port at the namespace's address, and waits until it answers. The NetNS owns the processes and
kills them on close.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from probe.discovery.udp_probe import snmp_get_request
from probe.lab.pki import make_weak_self_signed
from tests.helpers.netns import NetNS
from tests.helpers.ports import wait_udp


def cert(tmp: Path, ip: str) -> tuple[Path, Path]:
    """A self-signed RSA-2048 certificate for the gateway's HTTPS port (probe's lab PKI)."""
    issued = make_weak_self_signed(tmp / "https", "probe-test-device", ip, "probe tests", bits=2048, expired=False)
    return issued.key, issued.cert


def lighttpd(ns: NetNS, tmp: Path, http_port: int = 80, https_port: int | None = 443, quiet: bool = True) -> None:
    """HTTP, and HTTPS that says little (no Server header): the kind nmap -sV lingers on."""
    www = tmp / "www"
    www.mkdir(exist_ok=True)
    (www / "index.html").write_text("<html><title>gateway</title></html>\n")
    lines = [f'server.document-root = "{www}"', f"server.port = {http_port}", f'server.bind = "{ns.ip}"',
             f'server.pid-file = "{tmp}/lighttpd.pid"', f'server.errorlog = "{tmp}/lighttpd.err"',
             'server.modules += ("mod_openssl")']
    if quiet:
        lines.append('server.tag = ""')
    if https_port:
        key, crt = cert(tmp, ns.ip)
        lines += [f'$SERVER["socket"] == "{ns.ip}:{https_port}" {{', '  ssl.engine = "enable"',
                  f'  ssl.pemfile = "{crt}"', f'  ssl.privkey = "{key}"', "}"]
    conf = tmp / "lighttpd.conf"
    conf.write_text("\n".join(lines) + "\n")
    ns.spawn(["lighttpd", "-D", "-f", str(conf)], log=str(tmp / "lighttpd.log"))
    ns.wait_tcp(http_port)
    if https_port:
        ns.wait_tcp(https_port)


def dropbear(ns: NetNS, tmp: Path, port: int = 22) -> None:
    key = tmp / "dropbear_ed25519"
    if not key.exists():
        subprocess.run(["dropbearkey", "-t", "ed25519", "-f", str(key)], check=True, capture_output=True, timeout=30)
    ns.spawn(["dropbear", "-F", "-E", "-r", str(key), "-p", f"{ns.ip}:{port}", "-P", str(tmp / "dropbear.pid")],
             log=str(tmp / "dropbear.log"))
    ns.wait_tcp(port)


def telnetd(ns: NetNS, tmp: Path, port: int = 23) -> None:
    ns.spawn(["busybox", "telnetd", "-F", "-p", str(port), "-b", ns.ip, "-l", "/bin/false"],
             log=str(tmp / "telnetd.log"))
    ns.wait_tcp(port)


def mosquitto(ns: NetNS, tmp: Path, port: int = 1883) -> None:
    conf = tmp / "mosquitto.conf"
    conf.write_text(f"listener {port} {ns.ip}\nallow_anonymous true\npersistence false\n")
    ns.spawn(["mosquitto", "-c", str(conf)], log=str(tmp / "mosquitto.log"))
    ns.wait_tcp(port)


def vsftpd(ns: NetNS, tmp: Path, port: int = 21) -> None:
    empty = tmp / "ftp-empty"
    empty.mkdir(exist_ok=True)
    conf = tmp / "vsftpd.conf"
    conf.write_text("\n".join([
        "listen=YES", "listen_ipv6=NO", "background=NO", f"listen_address={ns.ip}", f"listen_port={port}",
        "anonymous_enable=YES", "local_enable=NO", "write_enable=NO", f"secure_chroot_dir={empty}",
        f"anon_root={empty}", "seccomp_sandbox=NO", "pasv_enable=NO", "xferlog_enable=NO"]) + "\n")
    ns.spawn(["vsftpd", str(conf)], log=str(tmp / "vsftpd.log"))
    ns.wait_tcp(port)


def dnsmasq(ns: NetNS, tmp: Path, port: int = 53) -> None:
    ns.spawn(["dnsmasq", "-k", "-p", str(port), f"--listen-address={ns.ip}", "--bind-interfaces", "-C", "/dev/null",
              "--no-resolv", "--no-hosts", f"--pid-file={tmp}/dnsmasq.pid", "--user=root"],
             log=str(tmp / "dnsmasq.log"))
    ns.wait_tcp(port)


def _snmpd(ns: NetNS, tmp: Path, name: str, conf: str, listen: str) -> None:
    (tmp / f"{name}.conf").write_text(conf)
    ns.spawn(["snmpd", "-f", "-Lf", str(tmp / f"{name}.log"), "-M", "/nonexistent", "-C", "-c",
              str(tmp / f"{name}.conf"), "-p", str(tmp / f"{name}.pid"), listen], log=str(tmp / f"{name}.out"))


def snmpd(ns: NetNS, tmp: Path, port: int = 161) -> None:
    _snmpd(ns, tmp, "snmpd", "rocommunity public\nsysDescr probe test gateway (snmpd)\n", f"udp:{ns.ip}:{port}")
    wait_udp(ns.ip, port, snmp_get_request("public", 1, 1))


def snmpd_tcp(ns: NetNS, tmp: Path, port: int) -> None:
    """SNMP over TCP on an odd port: a service neither probe's probes nor nmap 7.93 can name."""
    _snmpd(ns, tmp, "snmpd-tcp", "rocommunity public\n", f"tcp:{ns.ip}:{port}")
    ns.wait_tcp(port)


def miniupnpd(ns: NetNS, tmp: Path, http_port: int = 5000, natpmp: bool = False) -> None:
    """miniupnpd's IGD (SSDP 1900, description on `http_port`); with `natpmp`, NAT-PMP/PCP on udp/5351 too
    (its WAN address is private, so it answers the external-address request with "network failure")."""
    conf = tmp / "miniupnpd.conf"
    conf.write_text("\n".join([
        f"ext_ifname={ns.ns_if}", f"listening_ip={ns.ns_if}", f"port={http_port}",
        f"enable_natpmp={'yes' if natpmp else 'no'}",
        "enable_upnp=yes", "secure_mode=yes", "system_uptime=yes", "uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b",
        "model_name=ProbeTestGateway", "allow 1024-65535 10.231.0.0/16 1024-65535", "deny 0-65535 0.0.0.0/0 0-65535",
    ]) + "\n")
    ns.spawn(["miniupnpd", "-d", "-f", str(conf), "-P", str(tmp / "miniupnpd.pid")], log=str(tmp / "miniupnpd.log"))
    ns.wait_tcp(http_port)


GATEWAY = ("lighttpd", "dropbear", "telnetd", "mosquitto", "vsftpd", "dnsmasq", "snmpd", "miniupnpd")


def gateway(ns: NetNS, tmp: Path, which: tuple[str, ...] = GATEWAY) -> dict[str, int]:
    """Start the named daemons; returns the TCP ports expected open."""
    tcp: dict[str, int] = {}
    starters = {"lighttpd": lighttpd, "dropbear": dropbear, "telnetd": telnetd, "mosquitto": mosquitto,
                "vsftpd": vsftpd, "dnsmasq": dnsmasq, "snmpd": snmpd, "miniupnpd": miniupnpd}
    for name in which:
        starters[name](ns, tmp)
    ports = {"lighttpd": [80, 443], "dropbear": [22], "telnetd": [23], "mosquitto": [1883], "vsftpd": [21],
             "dnsmasq": [53], "miniupnpd": [5000]}
    for name in which:
        for p in ports.get(name, []):
            tcp[f"{name}:{p}"] = p
    return tcp
