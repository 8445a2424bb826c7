"""Variant definitions (`variants/<name>.yaml`) and the lab's template syntax.

A variant is data: identity (vendor, model, hostname), accounts, certificates, firewall and a list
of services, each naming a daemon kind (see daemons.py), its config template and its ports.
Templates use `@{name}` placeholders only, so that lighttpd's `$HTTP[...]`, shell `$x` and
e-mail addresses pass through untouched; an unknown placeholder is an error, not a silent blank.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from probe import yamlfile
from probe.errors import UserError

KNOWN_DAEMONS = ("dropbear", "openssh", "telnetd", "lighttpd", "vsftpd", "mosquitto", "snmpd",
                 "miniupnpd", "dnsmasq", "rtsp", "rtsp-source", "hostile", "samba", "socat", "tftpd", "ntpd",
                 "wsdd", "coap-server", "ubnt-discovery", "adbd")


class LabTemplate(Template):
    """`@{name}` is the only placeholder form; every other `@` and `$` is literal."""

    delimiter = "@"
    pattern = r"@(?:(?P<escaped>(?!))|(?P<named>(?!))|\{(?P<braced>[a-z_][a-z0-9_]*)\}|(?P<invalid>(?!)))"  # type: ignore[assignment]  # Template compiles a str pattern


def render(text: str, values: dict[str, str], where: str) -> str:
    try:
        return LabTemplate(text).substitute(values)
    except KeyError as exc:
        raise UserError(f"probe lab: {where}: unknown placeholder @{{{exc.args[0]}}}") from None


def package_dir() -> Path:
    return Path(str(importlib.resources.files("probe.lab")))


def templates_dir() -> Path:
    return package_dir() / "templates"


def variants_dir() -> Path:
    return package_dir() / "variants"


@dataclass(frozen=True)
class PortSpec:
    port: int
    transport: str  # tcp | udp
    protocol: str
    ready: bool = True  # wait for a TCP connect (TCP only) before declaring the device up


@dataclass(frozen=True)
class ServiceSpec:
    id: str
    daemon: str
    template: str | None
    ports: tuple[PortSpec, ...]
    options: dict[str, Any]
    notes: str


@dataclass(frozen=True)
class Variant:
    name: str
    short: str
    summary: str
    profile: str
    vendor: str
    model: str
    hostname: str
    firmware: str
    site: str | None  # web content folder under templates/www/
    secrets: tuple[str, ...]
    accounts: tuple[dict[str, Any], ...]  # user, password (may use @{secret}), login: bool
    web_users: tuple[dict[str, Any], ...]
    certificates: tuple[dict[str, Any], ...]
    extra_files: tuple[dict[str, Any], ...]  # template, dest (under the run dir), mode, group
    firewall: str | None  # nft template
    wan_link: bool
    services: tuple[ServiceSpec, ...]
    params: dict[str, Any]
    source: Path

    def daemons(self) -> list[str]:
        return sorted({s.daemon for s in self.services})


def known_variants() -> list[str]:
    return sorted(p.name[:-5] for p in variants_dir().glob("*.yaml") if not p.name.endswith(".truth.yaml"))


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise UserError(f"probe lab: {where}: missing '{key}'")
    return data[key]


def load_variant(name: str) -> Variant:
    path = variants_dir() / f"{name}.yaml"
    if name.endswith(".truth") or not path.is_file():
        raise UserError(f"probe lab: unknown variant {name!r}; known: {', '.join(known_variants())}")
    where = f"probe/lab/variants/{path.name}"
    data = yamlfile.load_data(path.read_text("utf-8"), where)
    if not isinstance(data, dict):
        raise UserError(f"probe lab: {where}: must be a mapping")
    services = []
    for raw in _require(data, "services", where):
        daemon = _require(raw, "daemon", where)
        if daemon not in KNOWN_DAEMONS:
            raise UserError(f"probe lab: {where}: unknown daemon {daemon!r}")
        ports = tuple(PortSpec(int(p["port"]), p.get("transport", "tcp"), p["protocol"],
                               bool(p.get("ready", True))) for p in raw.get("ports", ()))
        services.append(ServiceSpec(str(_require(raw, "id", where)), daemon, raw.get("template"),
                                    ports, dict(raw.get("options") or {}), str(raw.get("notes", ""))))
    short = str(_require(data, "short", where))
    if len(short) > 6 or not short.isalnum():
        raise UserError(f"probe lab: {where}: 'short' must be 1-6 letters/digits (interface names <= 15)")
    return Variant(
        name=str(data.get("name", name)), short=short, summary=str(_require(data, "summary", where)),
        profile=str(_require(data, "profile", where)), vendor=str(_require(data, "vendor", where)),
        model=str(_require(data, "model", where)), hostname=str(_require(data, "hostname", where)),
        firmware=str(data.get("firmware", "1.0.0")), site=data.get("site"),
        secrets=tuple(data.get("secrets") or ()), accounts=tuple(data.get("accounts") or ()),
        web_users=tuple(data.get("web_users") or ()), certificates=tuple(data.get("certificates") or ()),
        extra_files=tuple(data.get("extra_files") or ()),
        firewall=data.get("firewall"), wan_link=bool(data.get("wan_link", False)),
        services=tuple(services), params=dict(data.get("params") or {}), source=path,
    )
