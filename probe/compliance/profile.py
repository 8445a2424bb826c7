"""Device profiles: which ports to discover, which checks to run, which clauses are in scope.

Profiles are data (`profiles/*.yaml`, or a path the user gives). A malformed one is a one-line
error naming the file and the problem.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probe import yamlfile
from probe.compliance.catalog import DEVICE_CLASSES, SCHEMES
from probe.errors import UserError

MAX_PORT = 65535
# Whether UPnP IGD port mapping on the LAN is something the device class does (a gateway: that is
# what IGD is for) or must not do without authentication (upnp_exposure, docs/verdicts.md).
UPNP_PORT_MAPPING = ("allowed", "forbidden")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    device_class: str
    schemes: tuple[str, ...]
    tcp_ports: tuple[int, ...]
    udp_ports: tuple[int, ...]
    checks: tuple[str, ...]
    disallowed_services: tuple[str, ...]
    source: str
    raw: dict[str, Any]
    # checks that compare the manufacturer's declaration with the device: scheduled like `checks`
    # when a clause in scope names them, and run only when the declaration states what they compare
    declaration_checks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "device_class": self.device_class,
            "schemes": list(self.schemes),
            "tcp_port_count": len(self.tcp_ports),
            "udp_ports": list(self.udp_ports),
            "checks": list(self.checks),
            "declaration_checks": list(self.declaration_checks),
            "source": self.source,
        }


def port_sets() -> dict[str, str]:
    """The named TCP port sets (probe/data/port_sets.yaml): name -> port list."""
    where = "probe/data/port_sets.yaml"
    text = (importlib.resources.files("probe") / "data" / "port_sets.yaml").read_text("utf-8")
    data = yamlfile.load_data(text, where)
    sets = data.get("sets") if isinstance(data, dict) else None
    if not isinstance(sets, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in sets.items()):
        raise UserError(f"{where}: 'sets' must map names to port lists")
    return sets


def port_set_name(spec: Any) -> str | None:
    """The name, when `spec` names a port set ('all' or one of port_sets()), else None."""
    if isinstance(spec, str) and (spec.strip() == "all" or spec.strip() in port_sets()):
        return spec.strip()
    return None


def parse_ports(spec: Any, where: str) -> tuple[int, ...]:
    """'all' | a port set's name ('top') | '1-1024,8080' | [22, 80, "8000-8010"] -> sorted unique ports."""
    if isinstance(spec, str):
        spec = spec.strip()
    if spec == "all":
        return tuple(range(1, MAX_PORT + 1))
    if isinstance(spec, str) and spec[:1].isalpha():
        sets = port_sets()
        if spec not in sets:
            raise UserError(f"{where}: {spec!r} is neither a port list nor a port set "
                            f"(sets: all, {', '.join(sorted(sets))})")
        return parse_ports(sets[spec], f"probe/data/port_sets.yaml: {spec}")
    items: list[Any]
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",") if s.strip()]
    elif isinstance(spec, list):
        items = spec
    else:
        raise UserError(f"{where}: ports must be 'all', a port set's name, a comma list or a YAML list")
    ports: set[int] = set()
    for item in items:
        text = str(item)
        try:
            if "-" in text:
                lo, hi = (int(x) for x in text.split("-", 1))
            else:
                lo = hi = int(text)
        except ValueError:
            raise UserError(f"{where}: {text!r} is not a port or port range") from None
        if not (1 <= lo <= hi <= MAX_PORT):
            raise UserError(f"{where}: port range {text!r} is outside 1-{MAX_PORT}")
        ports.update(range(lo, hi + 1))
    return tuple(sorted(ports))


def builtin_profiles() -> list[str]:
    base = importlib.resources.files("probe.builtin_profiles")
    return sorted(p.name[:-5] for p in base.iterdir() if p.name.endswith(".yaml"))


def load_profile(name_or_path: str, known_checks: set[str]) -> Profile:
    """A built-in profile by name, or a profile file by path."""
    path = Path(name_or_path)
    if name_or_path in builtin_profiles():
        text = (importlib.resources.files("probe.builtin_profiles") / f"{name_or_path}.yaml").read_text("utf-8")
        where = f"profiles/{name_or_path}.yaml"
    elif path.suffix in (".yaml", ".yml", ".json") or path.exists():
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"profile {name_or_path}: cannot read ({exc.__class__.__name__}: {exc})") from None
        where = str(path)
    else:
        raise UserError(f"unknown profile {name_or_path!r} (built-in: {', '.join(builtin_profiles())}; "
                        "or give a path to a .yaml file)")
    data = yamlfile.load_data(text, where)
    return parse_profile(data, where, known_checks)


def parse_profile(data: Any, where: str, known_checks: set[str]) -> Profile:
    if not isinstance(data, dict):
        raise UserError(f"{where}: a profile must be a mapping")
    for key in ("name", "device_class", "schemes", "discovery", "checks"):
        if key not in data:
            raise UserError(f"{where}: missing '{key}'")
    if data["device_class"] not in DEVICE_CLASSES:
        raise UserError(f"{where}: device_class must be one of {', '.join(DEVICE_CLASSES)}")
    schemes = data["schemes"]
    if not isinstance(schemes, list) or not schemes or any(s not in SCHEMES for s in schemes):
        raise UserError(f"{where}: schemes must be a non-empty list from {', '.join(SCHEMES)}")
    disc = data["discovery"]
    if not isinstance(disc, dict) or "tcp_ports" not in disc:
        raise UserError(f"{where}: discovery must be a mapping with tcp_ports")
    tcp = parse_ports(disc["tcp_ports"], f"{where}: discovery.tcp_ports")
    if not tcp:  # no port to discover would make every service check "not applicable": refuse it
        raise UserError(f"{where}: discovery.tcp_ports lists no port")
    udp = parse_ports(disc.get("udp_ports") or [], f"{where}: discovery.udp_ports") if disc.get("udp_ports") else ()
    checks = data["checks"]
    if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
        raise UserError(f"{where}: checks must be a list of check IDs")
    decl_checks = data.get("declaration_checks") or []
    if not isinstance(decl_checks, list) or not all(isinstance(c, str) for c in decl_checks):
        raise UserError(f"{where}: declaration_checks must be a list of check IDs")
    unknown = [c for c in [*checks, *decl_checks] if c not in known_checks]
    if unknown:
        raise UserError(f"{where}: unknown check {unknown[0]!r} (see `probe checks`)")
    disallowed = data.get("disallowed_services") or []
    if not isinstance(disallowed, list):
        raise UserError(f"{where}: disallowed_services must be a list")
    if data.get("upnp_port_mapping", "allowed") not in UPNP_PORT_MAPPING:
        raise UserError(f"{where}: upnp_port_mapping must be one of {', '.join(UPNP_PORT_MAPPING)}")
    return Profile(
        name=str(data["name"]),
        description=str(data.get("description", "")),
        device_class=data["device_class"],
        schemes=tuple(schemes),
        tcp_ports=tcp,
        udp_ports=udp,
        checks=tuple(dict.fromkeys(checks)),
        disallowed_services=tuple(str(s) for s in disallowed),
        source=where,
        raw=data,
        declaration_checks=tuple(c for c in dict.fromkeys(decl_checks) if c not in checks),
    )
