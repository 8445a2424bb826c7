"""Bring lab devices up and down: the Python API behind `probe lab`.

`up` records every namespace, link and PID in the instance's state file before creating it, and
on any failure tears down what it made. `down` kills recorded PIDs (checking their start time, so
a reused PID is never hit), then everything still inside the instance's namespaces, then sweeps
namespaces, links and /etc/netns dirs by the instance's name prefix: it works after a crash, with
a stale or missing state file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from probe.errors import UserError
from probe.lab import identity, netns, pki, state
from probe.lab.daemons import BINARIES, STARTERS, DeviceRuntime
from probe.lab.sysexec import ns_cmd, require_binaries, require_root, run
from probe.lab.variants import Variant, known_variants, load_variant, render, templates_dir, variants_dir

READY_TIMEOUT = 10.0  # seconds for all daemons of a device to accept connections


@dataclass(frozen=True)
class ServicePort:
    service: str  # the variant's service id, e.g. "ssh-legacy"
    daemon: str
    port: int
    transport: str
    protocol: str


@dataclass(frozen=True)
class Credential:
    service: str  # "system" (ssh/telnet/ftp logins), "web", "mqtt", "snmp"
    user: str
    password: str


@dataclass(frozen=True)
class LabDevice:
    """One running lab device, as tests and `probe run` need to address it."""

    name: str  # the variant
    namespace: str
    address: str
    instance: int
    host_address: str
    host_interface: str
    profile: str
    model: str
    hostname: str
    run_dir: str
    services: tuple[ServicePort, ...] = ()
    credentials: tuple[Credential, ...] = ()
    ca_cert: str | None = None  # the instance's lab CA, for devices with CA-signed certificates
    ssh_key: str | None = None  # private key that logs in where password login is off
    client_cert: str | None = None  # TLS client certificate + key for mutual-TLS services
    client_key: str | None = None
    truth: str | None = None  # path of the variant's ground-truth file

    def port(self, service: str) -> int:
        for s in self.services:
            if s.service == service:
                return s.port
        raise KeyError(service)

    def password(self, service: str, user: str) -> str:
        for c in self.credentials:
            if c.service == service and c.user == user:
                return c.password
        raise KeyError((service, user))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabDevice:
        data = dict(data)
        data["services"] = tuple(ServicePort(**s) for s in data.get("services", ()))
        data["credentials"] = tuple(Credential(**c) for c in data.get("credentials", ()))
        return cls(**data)


@dataclass(frozen=True)
class DeviceStatus:
    device: LabDevice
    namespace_present: bool
    processes: int  # recorded daemon PIDs still alive
    expected: int
    accounts_detached: bool = False  # the daemons no longer see the device's accounts (netns.sees_own_accounts)

    @property
    def healthy(self) -> bool:
        return self.namespace_present and self.processes == self.expected and not self.accounts_detached


def default_instance() -> int:
    raw = os.environ.get("PROBE_LAB_INSTANCE", "0")
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"PROBE_LAB_INSTANCE={raw!r} is not a number") from None
    return _check_instance(value)


def _check_instance(instance: int) -> int:
    if not 0 <= instance <= netns.MAX_INSTANCE:
        raise UserError(f"lab instance must be 0-{netns.MAX_INSTANCE}, not {instance}")
    return instance


@contextlib.contextmanager
def _file_lock(name: str, busy: str) -> Iterator[None]:
    """An flock on STATE_ROOT/<name>.lock, waited for at most 60 s (bounded: a stuck holder is reported)."""
    state.STATE_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    fd = os.open(state.STATE_ROOT / f"{name}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UserError(busy) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def _instance_lock(instance: int) -> contextlib.AbstractContextManager[None]:
    """Serialise up/down of one instance (two terminals, or a test and a CLI call)."""
    return _file_lock(str(instance), f"lab instance {instance} is busy (another probe lab up/down)")


def _route_lock() -> contextlib.AbstractContextManager[None]:
    """Serialise adding the shared safety route with the last instance's check-and-remove.

    Without it, an instance going down could see no other instance, a second instance coming up
    could find the route still there (and not add it), and the first would then remove it: the
    second lab would run without the route that keeps lab addresses off the real network.
    """
    return _file_lock("safety-route", "the lab's safety route is busy (another probe lab up/down)")


# ---------------------------------------------------------------------------------------- up


def up(variants: Sequence[str], instance: int | None = None) -> list[LabDevice]:
    """Start one device per variant in lab instance `instance`; returns them in order."""
    require_root()
    inst = _check_instance(instance) if instance is not None else default_instance()
    if not variants:
        raise UserError(f"probe lab up: name at least one variant ({', '.join(known_variants())})")
    if len(set(variants)) != len(variants):
        raise UserError("probe lab up: each variant at most once per instance")
    loaded = [load_variant(v) for v in variants]
    needed = {"ip", "nft", "openssl", "unshare", "hostname"}
    for v in loaded:
        for d in v.daemons():
            needed.update(BINARIES[d])
    require_binaries(sorted(needed))
    with _instance_lock(inst):
        existing = state.load(inst)
        if existing and any(d["namespace"] in netns.list_namespaces() for d in existing.get("devices", [])):
            raise UserError(f"lab instance {inst} is already up; run 'probe lab down --instance {inst}' first")
        _teardown(inst)  # leftovers of a crashed run
        record: dict[str, Any] = {"instance": inst, "created": time.time(), "route": True,
                                  "devices": [], "complete": False}
        state.save(inst, record)
        try:
            with _route_lock():  # after state.save: an instance going down now sees this one
                if netns.add_safety_route():
                    _route_marker().touch()  # we added it, so the last lab instance down removes it
            base = state.run_dir(inst)
            base.mkdir(mode=0o755, parents=True, exist_ok=True)
            ca = pki.make_ca(base / "ca", f"instance {inst}")
            devices = [_start_device(v, inst, i, ca, record) for i, v in enumerate(loaded)]
            record["complete"] = True
            state.save(inst, record)
            return devices
        except BaseException:
            _teardown(inst)
            raise


def _start_device(variant: Variant, inst: int, index: int, ca: pki.Issued,
                  record: dict[str, Any]) -> LabDevice:
    ns = f"{netns.ns_prefix(inst)}{variant.short}"
    host_addr, dev_addr = netns.addresses(inst, index)
    root = state.run_dir(inst) / ns
    entry: dict[str, Any] = {"namespace": ns, "host_interface": ns, "run_dir": str(root), "pids": [],
                             "variant": variant.name, "address": dev_addr}
    record["devices"].append(entry)
    state.save(inst, record)  # before anything exists, so a crash from here on is undone by down

    for sub in ("etc", "www", "logs", "certs", "keys", "bin", "home"):
        (root / sub).mkdir(mode=0o755, parents=True, exist_ok=True)
    netns.create_device_link(ns, ns, host_addr, dev_addr)
    if variant.wan_link:
        netns.add_wan_link(ns, netns.wan_address(inst, index))

    values = _template_values(variant, inst, index, ns, host_addr, dev_addr, root, ca)
    dev = DeviceRuntime(variant, ns, dev_addr, root, values)
    device_extra = _make_credentials_and_certs(dev, ca)
    shell = identity.write_fake_shell(templates_dir() / "fakeshell.sh", root / "bin" / "fakeshell",
                                      variant.hostname)
    accounts = [identity.Account(render(str(a["user"]), values, "account"),
                                 render(str(a["password"]), values, "account"),
                                 int(a.get("uid", identity.FIRST_LAB_UID + i)))
                for i, a in enumerate(variant.accounts)]
    identity.write_identity(ns, accounts, shell, root / "home", variant.hostname, dev_addr)
    (identity.NETNS_ETC / ns / "issue.net").write_text(f"{variant.vendor} {variant.model}\n")
    _write_web(dev)
    for extra in variant.extra_files:
        dest = dev.render_to(extra["template"], root / extra["dest"], int(str(extra.get("mode", "0644")), 8))
        if extra.get("group"):
            os.chown(dest, 0, _gid(extra["group"]))
    if variant.firewall:
        fw = dev.render_to(variant.firewall, root / "etc" / "firewall.nft")
        run(ns_cmd(ns, ["nft", "-f", str(fw)]))

    for svc in variant.services:
        argv = STARTERS[svc.daemon](dev, svc)
        log = root / "logs" / f"{svc.id}.log"
        cmd = ns_cmd(ns, ["unshare", "--uts", "--", "/bin/sh", "-c", 'hostname "$0" && exec "$@"',
                          variant.hostname, *argv])
        with open(log, "ab") as fh:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                    cwd=root, start_new_session=True)
        time.sleep(0.02)
        entry["pids"].append({"pid": proc.pid, "start": netns.process_start_time(proc.pid),
                              "service": svc.id, "daemon": svc.daemon})
        state.save(inst, record)

    device = LabDevice(
        name=variant.name, namespace=ns, address=dev_addr, instance=inst, host_address=host_addr,
        host_interface=ns, profile=variant.profile, model=f"{variant.vendor} {variant.model}",
        hostname=variant.hostname, run_dir=str(root),
        services=tuple(ServicePort(s.id, s.daemon, p.port, p.transport, p.protocol)
                       for s in variant.services for p in s.ports),
        credentials=tuple(Credential(**c) for c in device_extra["credentials"]),
        ca_cert=str(ca.cert), ssh_key=device_extra.get("ssh_key"),
        client_cert=device_extra.get("client_cert"), client_key=device_extra.get("client_key"),
        truth=str(variants_dir() / f"{variant.name}.truth.yaml"),
    )
    _wait_ready(variant, device, entry)
    entry["device"] = device.to_json()
    state.save(inst, record)
    return device


def _template_values(variant: Variant, inst: int, index: int, ns: str, host_addr: str, dev_addr: str,
                     root: Path, ca: pki.Issued) -> dict[str, str]:
    values = {
        "address": dev_addr, "host_address": host_addr, "namespace": ns, "instance": str(inst),
        "hostname": variant.hostname, "vendor": variant.vendor, "model": variant.model,
        "model_full": f"{variant.vendor} {variant.model}", "firmware": variant.firmware,
        "root": str(root), "etc": str(root / "etc"), "www": str(root / "www"),
        "logs": str(root / "logs"), "certs": str(root / "certs"), "keys": str(root / "keys"),
        "ftproot": str(root / "ftp"), "empty": str(root / "empty"), "ca_cert": str(ca.cert),
        "wan_address": netns.wan_address(inst, index), "device_if": netns.DEVICE_IF,
        "uuid": _uuid_for(ns),
        "expires_180d": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 180 * 86400)),
        "serial": f"{variant.short.upper()}{inst:03d}{index:02d}7731",
    }
    values.update({k: str(v) for k, v in variant.params.items()})
    for name in variant.secrets:  # unique random values per lab-up (hardened passwords)
        values[name] = secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
    return values


def _uuid_for(ns: str) -> str:
    digest = __import__("hashlib").sha256(ns.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"


def _make_credentials_and_certs(dev: DeviceRuntime, ca: pki.Issued) -> dict[str, Any]:
    """Certificates, web user file, SSH client key; returns the credentials to publish."""
    v, root = dev.variant, dev.root
    out: dict[str, Any] = {"credentials": []}
    org = f"{v.vendor} (probe lab)"
    for cert in v.certificates:
        name, kind = cert["name"], cert["kind"]
        path = root / "certs" / name
        if kind == "weak-self-signed":
            pki.make_weak_self_signed(path, f"{v.vendor} {v.model}", dev.address, org,
                                      bits=int(cert.get("bits", 1024)), expired=bool(cert.get("expired", True)))
        elif kind == "self-signed":
            pki.make_self_signed(path, render(str(cert.get("cn", f"{v.vendor} {v.model}")), dev.values, "cert"), org,
                                 [render(str(n), dev.values, "cert") for n in cert.get("dns", ())],
                                 dev.address if cert.get("ip_san") else None,
                                 bits=int(cert.get("bits", 2048)), days=int(cert.get("days", 7300)))
        elif kind == "ca-signed":
            pki.make_leaf(path, ca, dev.address, dev.address, org)
        elif kind == "client":
            issued = pki.make_leaf(path, ca, str(cert.get("cn", "lab-client")), None, org, client=True)
            out["client_cert"], out["client_key"] = str(issued.cert), str(issued.key)
        else:
            raise UserError(f"probe lab: {v.source.name}: unknown certificate kind {kind!r}")
    for acct in v.accounts:
        if acct.get("login", True):
            out["credentials"].append({"service": "system", "user": render(str(acct["user"]), dev.values, "a"),
                                       "password": render(str(acct["password"]), dev.values, "a")})
    lines = []
    for wu in v.web_users:
        user, pw = render(str(wu["user"]), dev.values, "web"), render(str(wu["password"]), dev.values, "web")
        lines.append(f"{user}:{pw}\n")
        out["credentials"].append({"service": "web", "user": user, "password": pw})
    webusers = root / "etc" / "webusers"
    webusers.write_text("".join(lines))
    webusers.chmod(0o640)
    os.chown(webusers, 0, _gid("www-data"))
    for svc in v.services:
        for u in svc.options.get("users") or ():
            out["credentials"].append({"service": svc.daemon, "user": render(str(u["user"]), dev.values, "u"),
                                       "password": render(str(u["password"]), dev.values, "u")})
    for extra in v.params.get("credential_notes", ()) or ():
        out["credentials"].append({"service": extra["service"], "user": render(str(extra["user"]), dev.values, "c"),
                                   "password": render(str(extra["password"]), dev.values, "c")})
    if v.params.get("ssh_client_key"):
        key = root / "keys" / "client_ed25519"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "probe-lab-client", "-f", str(key)])
        authz = root / "etc" / "authorized_keys"
        authz.write_text(Path(f"{key}.pub").read_text())
        authz.chmod(0o644)
        dev.values["authorized_keys"] = str(authz)
        out["ssh_key"] = str(key)
    return out


def _gid(group: str) -> int:
    import grp
    return grp.getgrnam(group).gr_gid


def _write_web(dev: DeviceRuntime) -> None:
    """Copy templates/www/<site>/ into the device, rendering placeholders in every text file."""
    if not dev.variant.site:
        return
    src = templates_dir() / "www" / dev.variant.site
    dst = dev.root / "www"
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        target = dst / rel
        if path.is_dir():
            target.mkdir(mode=0o755, parents=True, exist_ok=True)
            continue
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # an image (a camera snapshot): copied as it is
            target.write_bytes(raw)
        else:
            target.write_text(render(text, dev.values, f"templates/www/{dev.variant.site}/{rel}"))
        target.chmod(0o755 if path.suffix == ".py" else 0o644)
    state_dir = dev.root / "lockout"  # writable by the web server (login throttling state)
    state_dir.mkdir(mode=0o700, exist_ok=True)
    os.chown(state_dir, _uid("www-data"), _gid("www-data"))


def _uid(user: str) -> int:
    import pwd
    return pwd.getpwnam(user).pw_uid


def _wait_ready(variant: Variant, device: LabDevice, entry: dict[str, Any]) -> None:
    """Every TCP port accepts a connection, every UDP port is bound inside the namespace, and every
    daemon is still alive, within a bound. (A UDP daemon has no handshake to wait for; that its
    socket is bound is what tells that it can answer, as ntpd and wsdd take a moment to bind.)"""
    deadline = time.monotonic() + READY_TIMEOUT
    pending = [(s.id, p.port) for s in variant.services for p in s.ports if p.transport == "tcp" and p.ready]
    pending_udp = [(s.id, p.port) for s in variant.services for p in s.ports if p.transport == "udp" and p.ready]
    while pending_udp:
        out = run(ns_cmd(device.namespace, ["ss", "-Hlun"]), check=False).stdout.decode("utf-8", "replace")
        local = [ln.split()[3] for ln in out.splitlines() if len(ln.split()) > 3]  # State Recv-Q Send-Q Local Peer
        pending_udp = [(sid, port) for sid, port in pending_udp if not any(a.endswith(f":{port}") for a in local)]
        if not pending_udp:
            break
        if time.monotonic() > deadline:
            sid, port = pending_udp[0]
            raise UserError(f"probe lab: {variant.name}/{sid} did not bind udp/{port} within {READY_TIMEOUT:.0f}s "
                            f"(see {device.run_dir}/logs/{sid}.log)")
        time.sleep(0.1)
    while True:
        dead = [p for p in entry["pids"] if not netns.alive(p["pid"], p["start"])]
        if dead:
            p = dead[0]
            log = Path(device.run_dir) / "logs" / f"{p['service']}.log"
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            raise UserError(f"probe lab: {p['daemon']} ({variant.name}/{p['service']}) exited at start: "
                            + (" | ".join(tail) or "no output"))
        still = []
        for sid, port in pending:
            try:
                with socket.create_connection((device.address, port), timeout=0.5):
                    pass
            except OSError:
                still.append((sid, port))
        pending = still
        if not pending:
            time.sleep(0.2)  # UDP daemons: one more liveness look after a short settle
            if all(netns.alive(p["pid"], p["start"]) for p in entry["pids"]):
                return
            continue
        if time.monotonic() > deadline:
            sid, port = pending[0]
            raise UserError(f"probe lab: {variant.name}/{sid} did not accept connections on "
                            f"{device.address}:{port} within {READY_TIMEOUT:.0f}s "
                            f"(see {device.run_dir}/logs/{sid}.log)")
        time.sleep(0.1)


# -------------------------------------------------------------------------------------- down


def down(instance: int | None = None, all_instances: bool = False) -> list[int]:
    """Tear down one instance (default: PROBE_LAB_INSTANCE or 0) or every instance found."""
    require_root()
    if all_instances:
        found = set(state.other_instances(-1))
        for ns in netns.list_namespaces():
            m = re.match(r"pl(\d+)-", ns)
            if m:
                found.add(int(m.group(1)))
        targets = sorted(found)
    else:
        targets = [_check_instance(instance) if instance is not None else default_instance()]
    for inst in targets:
        with _instance_lock(inst):
            _teardown(inst)
            (state.STATE_ROOT / f"{inst}.lock").unlink(missing_ok=True)
    return targets


def _teardown(inst: int) -> None:
    record = state.load(inst) or {"devices": []}
    prefix = netns.ns_prefix(inst)
    pids = [(p["pid"], p.get("start")) for d in record.get("devices", []) for p in d.get("pids", [])]
    netns.kill_pids(pids)
    namespaces = {d["namespace"] for d in record.get("devices", []) if "namespace" in d}
    namespaces.update(n for n in netns.list_namespaces() if n.startswith(prefix))
    for ns in sorted(namespaces):
        netns.delete_namespace(ns)
    links = {d.get("host_interface") for d in record.get("devices", []) if d.get("host_interface")}
    links.update(n for n in netns.list_links() if n.startswith(prefix))
    for link in sorted(links):
        netns.delete_link(link)
    for etc in identity.NETNS_ETC.glob(f"{prefix}*") if identity.NETNS_ETC.is_dir() else ():
        shutil.rmtree(etc, ignore_errors=True)
    shutil.rmtree(state.run_dir(inst), ignore_errors=True)
    state.remove(inst)
    with _route_lock():
        others: list[int] | list[str] = state.other_instances(inst) or [n for n in netns.list_namespaces()
                                                                         if re.match(r"pl\d+-", n)]
        if not others and _route_marker().exists():  # never remove a route someone else added
            netns.remove_safety_route()
            _route_marker().unlink(missing_ok=True)


def _route_marker() -> Path:
    return state.STATE_ROOT / "safety-route.ours"


# ------------------------------------------------------------------------------ login state


def reset_login_state(device: LabDevice) -> None:
    """Forget what the device's login handlers remember between connections, as a reboot would.

    Only the hardened admin stand-in keeps such state (per-client failure counts and lockouts, in
    `<run_dir>/lockout/`); the stock daemons keep none. Two scans of that device from the same
    host would otherwise spoil each other: the second would start locked out by the first.
    """
    state_dir = Path(device.run_dir) / "lockout"
    if state_dir.is_dir():
        for entry in state_dir.iterdir():
            entry.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------ status


def status(instance: int | None = None) -> list[DeviceStatus]:
    """Devices recorded for one instance (or every instance when None), with liveness."""
    instances = [instance] if instance is not None else state.other_instances(-1)
    present = set(netns.list_namespaces())
    out = []
    for inst in instances:
        record = state.load(inst) or {"devices": []}
        for d in record.get("devices", []):
            if "device" not in d:
                continue
            dev = LabDevice.from_json(d["device"])
            live = [p["pid"] for p in d.get("pids", []) if netns.alive(p["pid"], p.get("start"))]
            detached = any(netns.sees_own_accounts(pid) is False for pid in live)
            out.append(DeviceStatus(dev, dev.namespace in present, len(live), len(d.get("pids", [])), detached))
    return out
