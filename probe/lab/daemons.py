"""How each daemon kind is prepared and started inside a device namespace.

One small function per daemon kind turns a service entry of a variant into a rendered config file
plus a foreground command line (foreground, so the PID we record is the daemon's own and `down`
can kill exactly it). Everything variant-specific lives in the templates, not here.
"""

from __future__ import annotations

import os
import pwd
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from probe.errors import UserError
from probe.lab.sysexec import run
from probe.lab.variants import ServiceSpec, Variant, render, templates_dir


@dataclass
class DeviceRuntime:
    """What a daemon starter may use: the device's identity, paths and template values."""

    variant: Variant
    namespace: str
    address: str
    root: Path  # the device's run directory
    values: dict[str, str] = field(default_factory=dict)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def render_to(self, template: str, dest: Path, mode: int = 0o644) -> Path:
        src = templates_dir() / template
        if not src.is_file():
            raise UserError(f"probe lab: {self.variant.source.name}: template {template!r} not found")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(render(src.read_text("utf-8"), self.values, f"templates/{template}"))
        dest.chmod(mode)
        return dest


Starter = Callable[[DeviceRuntime, ServiceSpec], list[str]]
BINARIES: dict[str, list[str]] = {
    "dropbear": ["dropbear", "dropbearkey"],
    "openssh": ["sshd", "ssh-keygen"],
    "telnetd": ["busybox"],
    "lighttpd": ["lighttpd"],
    "vsftpd": ["vsftpd"],
    "mosquitto": ["mosquitto", "mosquitto_passwd"],
    "snmpd": ["snmpd"],
    "miniupnpd": ["miniupnpd"],
    "dnsmasq": ["dnsmasq"],
    "rtsp": ["rtsp-server-perl"],
    "rtsp-source": [],  # probe's own encoder stand-in (python, probe.lab.rtsp_source)
    "samba": ["smbd", "testparm"],
    "socat": ["socat"],
    "hostile": [],  # probe's own misbehaving servers (python, probe.hostile)
    "tftpd": ["in.tftpd"],
    "ntpd": ["ntpd"],
    "wsdd": ["wsdd"],
    "coap-server": ["coap-server-notls"],
    "ubnt-discovery": [],  # probe's own stand-in (python, probe.lab.ubnt_discovery)
    "adbd": [],  # probe's own stand-in (python, probe.lab.adb_standin): Debian has no adbd
}


def _chown(path: Path, user: str) -> None:
    ent = pwd.getpwnam(user)
    os.chown(path, ent.pw_uid, ent.pw_gid)


def _config(dev: DeviceRuntime, svc: ServiceSpec, default_name: str) -> Path:
    if not svc.template:
        raise UserError(f"probe lab: {dev.variant.source.name}: service {svc.id} needs a 'template'")
    return dev.render_to(svc.template, dev.path("etc", f"{svc.id}-{default_name}"))


def start_dropbear(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    keys = dev.path("keys", svc.id)
    keys.mkdir(parents=True, exist_ok=True)
    argv = ["dropbear", "-F", "-E", "-j", "-k"]  # foreground, log to stderr, no port forwarding
    for kind in svc.options.get("host_keys", ["ed25519", "ecdsa"]):
        key = keys / f"dropbear_{kind}_host_key"
        if not key.exists():
            run(["dropbearkey", "-t", kind, "-f", str(key)], timeout=30)
        argv += ["-r", str(key)]
    if not svc.options.get("password_login", True):
        argv.append("-s")
    if not svc.options.get("root_login", True):
        argv.append("-w")
    port = svc.ports[0].port
    return argv + ["-p", f"{dev.address}:{port}"]


def start_openssh(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    keys = dev.path("keys", svc.id)
    keys.mkdir(parents=True, exist_ok=True)
    for kind in svc.options.get("host_keys", ["ed25519"]):
        key = keys / f"ssh_host_{kind}_key"
        bits = {"rsa": ["-b", "2048"], "dsa": ["-b", "1024"]}.get(kind, [])
        if not key.exists():
            run(["ssh-keygen", "-q", "-t", kind, *bits, "-N", "", "-C", dev.variant.hostname,
                 "-f", str(key)], timeout=30)
        dev.values[f"{svc.id.replace('-', '_')}_key_{kind}"] = str(key)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation dir sshd insists on
    conf = _config(dev, svc, "sshd_config")
    run(["/usr/sbin/sshd", "-t", "-f", str(conf)], timeout=15)
    return ["/usr/sbin/sshd", "-D", "-e", "-f", str(conf)]


def start_telnetd(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # busybox telnetd execs the login program as given; busybox picks the applet by argv[0]'s
    # basename, so a symlink named "login" runs busybox's own login (which checks /etc/shadow).
    login = dev.path("bin", "login")
    login.parent.mkdir(parents=True, exist_ok=True)
    if not login.is_symlink():
        login.symlink_to("/bin/busybox")
    return ["busybox", "telnetd", "-F", "-b", f"{dev.address}:{svc.ports[0].port}", "-l", str(login)]


def start_lighttpd(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    conf = _config(dev, svc, "lighttpd.conf")
    run(["lighttpd", "-tt", "-f", str(conf)], timeout=15)
    return ["lighttpd", "-D", "-f", str(conf)]


def start_vsftpd(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    for d in ("ftp", "empty"):
        dev.path(d).mkdir(mode=0o755, exist_ok=True)
    conf = _config(dev, svc, "vsftpd.conf")
    conf.chmod(0o600)  # vsftpd refuses a config file others can write; root-owned is required
    return ["vsftpd", str(conf)]


def start_mosquitto(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    users = svc.options.get("users") or []
    if users:
        pwfile = dev.path("etc", "mosquitto.passwd")
        pwfile.unlink(missing_ok=True)
        for entry in users:
            user = render(str(entry["user"]), dev.values, "mosquitto user")
            password = render(str(entry["password"]), dev.values, "mosquitto password")
            create = [] if pwfile.exists() else ["-c"]
            run(["mosquitto_passwd", *create, "-b", str(pwfile), user, password], timeout=15)
        pwfile.chmod(0o600)
        _chown(pwfile, "mosquitto")
    for key in dev.path("certs").glob("*.key"):  # the broker reads its key after dropping root
        _chown(key, "mosquitto")
    conf = _config(dev, svc, "mosquitto.conf")
    return ["mosquitto", "-c", str(conf)]


def start_snmpd(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    persist = dev.path("snmp")
    persist.mkdir(mode=0o700, exist_ok=True)
    conf = _config(dev, svc, "snmpd.conf")
    conf.chmod(0o600)  # may hold SNMPv3 pass phrases
    # -C: read only our config; persistent state (engine ID, USM users) stays in the device dir.
    return ["env", f"SNMP_PERSISTENT_DIR={persist}", "MIBS=", "snmpd", "-f", "-C", "-c", str(conf),
            "-Lf", str(dev.path("logs", "snmpd.log")), "-p", str(dev.path("snmp", "snmpd.pid"))]


def start_miniupnpd(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    conf = _config(dev, svc, "miniupnpd.conf")
    return ["miniupnpd", "-d", "-f", str(conf), "-P", str(dev.path("etc", "miniupnpd.pid"))]


def start_dnsmasq(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    conf = _config(dev, svc, "dnsmasq.conf")
    run(["dnsmasq", "--test", f"--conf-file={conf}"], timeout=15)
    return ["dnsmasq", "-k", f"--conf-file={conf}"]


def start_rtsp(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # rtsp-server-perl: clients on the device address; the stream-source side only on loopback
    # inside the namespace, so nothing outside can publish into the camera.
    return ["rtsp-server-perl", "--client_listen_address", dev.address,
            "--clientport", str(svc.ports[0].port), "--source_listen_address", "127.0.0.1",
            "--serverport", str(svc.options.get("source_port", 5545)),
            "--loglevel", str(svc.options.get("log_level", 2))]


def start_samba(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # smbd in the foreground, its state under the device's run directory (never the host's /var/lib)
    for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc"):
        dev.path("samba", sub).mkdir(mode=0o755, parents=True, exist_ok=True)
    conf = _config(dev, svc, "smb.conf")
    run(["testparm", "-s", "--suppress-prompt", str(conf)], timeout=15)
    return ["smbd", "--foreground", "--no-process-group", "--debug-stdout", "-s", str(conf)]


def start_socat(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # socat hands each TCP connection to a script (a fake console, a vendor's binary hello): the
    # script template is the variant's, rendered into the device's bin/, and it runs nothing
    script = dev.render_to(str(svc.options["script"]), dev.path("bin", f"{svc.id}.sh"), 0o755)
    port = svc.ports[0].port
    return ["socat", f"TCP-LISTEN:{port},bind={dev.address},reuseaddr,fork,max-children=8", f"EXEC:{script},stderr"]


def start_rtsp_source(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # The camera's encoder stand-in: announces a stream to rtsp-server-perl's source port on the
    # namespace's loopback and holds the session (see probe/lab/rtsp_source.py).
    return [sys.executable, "-m", "probe.lab.rtsp_source", "--port", str(svc.options.get("source_port", 5545)),
            "--path", str(svc.options.get("path", "/live"))]


def start_hostile(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # One process per purpose-built misbehaving server (probe/hostile/servers.py), so each has its
    # own recorded PID, log and liveness: a server that dies at start names itself. The runner
    # refuses a non-loopback bind unless told; here the address is the device's, inside the
    # namespace the lab created, which is exactly what --allow-non-loopback is for.
    from probe.hostile.servers import BY_NAME
    server = str(svc.options.get("server", svc.id))
    if server not in BY_NAME:
        raise UserError(f"probe lab: {dev.variant.source.name}: service {svc.id}: unknown hostile server "
                        f"{server!r}; known: {', '.join(sorted(BY_NAME))}")
    if len(svc.ports) != 1 or svc.ports[0].transport != "tcp":
        raise UserError(f"probe lab: {dev.variant.source.name}: hostile service {svc.id} needs exactly one tcp port")
    return [sys.executable, "-m", "probe.hostile", "--bind", dev.address, "--allow-non-loopback",
            "--serve", f"{server}:{svc.ports[0].port}"]


def start_tftpd(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # tftpd-hpa, read-only (no -c: nothing can be created), chrooted (-s) into the device's TFTP
    # folder, which holds the rendered files of templates/<options.files>/
    root = dev.path("tftp")
    root.mkdir(mode=0o755, exist_ok=True)
    src = templates_dir() / str(svc.options["files"])
    for path in sorted(src.iterdir()):
        dev.render_to(f"{svc.options['files']}/{path.name}", root / path.name, 0o644)
    return ["in.tftpd", "-L", "-a", f"{dev.address}:{svc.ports[0].port}", "-u", "nobody", "-s", str(root)]


def start_ntpd(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # ntpsec in the foreground (-n), its drift file and statistics under the device's run directory
    conf = _config(dev, svc, "ntp.conf")
    return ["ntpd", "-n", "-c", str(conf), "-p", str(dev.path("etc", "ntpd.pid"))]


def start_wsdd(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # wsdd announces the device over WS-Discovery on its interface (IPv4 only, no HTTP metadata
    # server: -t); the variant's firewall template hands unicast 3702 to it (docs/lab.md)
    return ["wsdd", "-4", "-t", "-i", dev.values["device_if"], "-n", dev.variant.hostname.upper(),
            "-w", str(svc.options.get("workgroup", "WORKGROUP"))]


def start_coap_server(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # libcoap's example server, plain CoAP (no DTLS) on the device address
    return ["coap-server-notls", "-A", dev.address, "-p", str(svc.ports[0].port)]


def start_ubnt_discovery(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # probe's stand-in for a discovery responder (probe/lab/ubnt_discovery.py, docs/lab.md)
    return [sys.executable, "-m", "probe.lab.ubnt_discovery", "--bind", dev.address,
            "--port", str(svc.ports[0].port), "--mac", str(svc.options["mac"]), "--firmware", dev.variant.firmware,
            "--hostname", dev.variant.hostname, "--model", dev.variant.model]


def start_adbd(dev: DeviceRuntime, svc: ServiceSpec) -> list[str]:
    # probe's stand-in for adbd (probe/lab/adb_standin.py, docs/lab.md): `open` serves only
    # `shell:echo`, evaluated like a shell joins quotes and never executed; `auth` asks for a key
    return [sys.executable, "-m", "probe.lab.adb_standin", "--bind", dev.address,
            "--port", str(svc.ports[0].port), "--mode", str(svc.options.get("mode", "open"))]


STARTERS: dict[str, Starter] = {
    "dropbear": start_dropbear,
    "openssh": start_openssh,
    "telnetd": start_telnetd,
    "lighttpd": start_lighttpd,
    "vsftpd": start_vsftpd,
    "mosquitto": start_mosquitto,
    "snmpd": start_snmpd,
    "miniupnpd": start_miniupnpd,
    "dnsmasq": start_dnsmasq,
    "rtsp": start_rtsp,
    "rtsp-source": start_rtsp_source,
    "samba": start_samba,
    "socat": start_socat,
    "hostile": start_hostile,
    "tftpd": start_tftpd,
    "ntpd": start_ntpd,
    "wsdd": start_wsdd,
    "coap-server": start_coap_server,
    "adbd": start_adbd,
    "ubnt-discovery": start_ubnt_discovery,
}
