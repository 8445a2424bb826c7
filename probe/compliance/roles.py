"""Service roles: what each service of a target is for, from what the run observed (no network).

A clause's evidence rules select findings by check *and* by the role of the service the finding
is about (probe/data/catalog/*.yaml, docs/verdicts.md). Roles are assigned after every check on
the target has run, from two kinds of observation:

- the protocol discovery identified (SSH is a login for administration, FTP a file share, MQTT a
  device API): the table is data, `probe/data/roles.yaml`;
- what the checks saw on the service: an authentication challenge, a login form or an admin
  page (default_credentials, cleartext_authentication, unauthenticated_access), a known
  credential that logged in to an account (any protocol), an update page or endpoint or the
  host:port of an update URL the device names for itself (update_mechanism, update_channel), a
  UPnP description or control URL (upnp_exposure), a directory listing (the update survey's crawl).

Every role carries its reason and the finding or artefact ids it rests on, so an assessor can
check why a finding counted for a clause. Roles never come from a port number alone: a service
that discovery named only by its port number's guess (confidence "port") gets no role from its
protocol, and the well-known ports listed in the data file (TR-069's 7547) count only for a
service that answered as what it is.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from probe.models import Finding, Service, ServiceRole

ROLES = ("management", "update", "data", "device-api")
WEB = ("http", "https")


@cache
def data() -> dict[str, Any]:
    text = (importlib.resources.files("probe") / "data" / "roles.yaml").read_text("utf-8")
    from probe import yamlfile  # PyYAML loads with the first data file read, not at import

    return yamlfile.safe_load(text)


def observers(roles: set[str]) -> set[str]:
    """The checks whose findings can give these roles (beyond the protocol table)."""
    table = data().get("observed_by") or {}
    return {chk for role in roles for chk in table.get(role) or ()}


def url_host_port(url: str) -> tuple[str, int] | None:
    """(host, port) of an http(s) URL, with the scheme's default port; None if it has neither."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if port is None and default is None:
        return None
    return parts.hostname, port if port is not None else default  # type: ignore[return-value]


def _same_host(a: str, b: str) -> bool:
    return a.strip("[]").lower() == b.strip("[]").lower()


class _Collector:
    """Reasons and evidence per (service key, role), merged into one ServiceRole each."""

    def __init__(self, services: list[Service]) -> None:
        self.by_key = {s.key(): s for s in services}
        self.by_port = {(s.port, s.transport): s for s in services}
        self.reasons: dict[tuple[str, str], list[str]] = {}
        self.evidence: dict[tuple[str, str], list[str]] = {}

    def add(self, svc: Service | None, role: str, why: str, evidence: Iterable[str | None]) -> None:
        if svc is None:
            return
        key = (svc.key(), role)
        reasons = self.reasons.setdefault(key, [])
        if why not in reasons:
            reasons.append(why)
        ev = self.evidence.setdefault(key, [])
        for e in evidence:
            if e and e not in ev:
                ev.append(e)

    def service_at(self, host: str, port: int | None, transport: str | None = "tcp") -> Service | None:
        if port is None:
            return None
        svc = self.by_port.get((port, transport or "tcp"))
        return svc if svc is not None and _same_host(svc.host, host) else None

    def result(self) -> dict[str, tuple[ServiceRole, ...]]:
        out: dict[str, tuple[ServiceRole, ...]] = {k: () for k in self.by_key}
        for key in self.by_key:
            roles = []
            for role in ROLES:
                if (key, role) in self.reasons:
                    roles.append(ServiceRole(role, "; ".join(self.reasons[(key, role)]),
                                             tuple(self.evidence[(key, role)])))
            out[key] = tuple(roles)
        return out


def _first_evidence(svc: Service, findings: list[Finding]) -> list[str]:
    """What a protocol-given role rests on: the banner discovery read, else the service's findings."""
    if svc.banner_artefact:
        return [svc.banner_artefact]
    return [f.id for f in findings if f.port == svc.port and f.transport == svc.transport][:3]


def _by_protocol(c: _Collector, services: list[Service], findings: list[Finding]) -> None:
    table = data()["by_protocol"]
    ports = data().get("by_port") or {}
    for svc in services:
        if svc.confidence == "port":
            # the protocol is only the port number's guess (nothing answered as that protocol): a
            # role would rest on the number, not on the device, so none is given
            continue
        for role in ROLES:
            why = (table.get(role) or {}).get(svc.protocol)
            if why:
                c.add(svc, role, f"{why} (identified by {svc.method}, confidence {svc.confidence})",
                      _first_evidence(svc, findings))
            port_why = (ports.get(role) or {}).get(f"{svc.port}/{svc.transport}")
            if port_why:
                c.add(svc, role, port_why, _first_evidence(svc, findings))


def _management(c: _Collector, host: str, f: Finding) -> None:
    svc = c.service_at(host, f.port, f.transport)
    if svc is None:
        return
    d = f.details or {}
    if f.check_id == "default_credentials" and str(f.status) == "FAIL":
        # whatever the protocol (an FTP or MQTT login too): an account the device lets a known
        # credential into is a way in to administer it
        c.add(svc, "management", f"a known or operator-supplied credential logged in to an account on its "
              f"{svc.protocol} login (default_credentials)", [f.id])
    if svc.protocol not in WEB and not svc.tls:
        return
    if f.check_id == "default_credentials":
        if d.get("login_kind"):
            c.add(svc, "management", f"HTTP {d['login_kind']} login at {d.get('login_path') or '?'} "
                  "(default_credentials)", [f.id])
    elif f.check_id == "cleartext_authentication" and d.get("surface"):
        c.add(svc, "management", f"HTTP {d['surface']} login at {d.get('path') or '?'} (cleartext_authentication)",
              [f.id])
    elif f.check_id == "unauthenticated_access":
        protected = [p for p in d.get("protected_paths") or [] if isinstance(p, str)]
        if protected:
            c.add(svc, "management", f"admin path(s) {', '.join(protected[:3])} ask for credentials "
                  "(unauthenticated_access)", [f.id])
        pages = [p for p in d.get("open") or [] if isinstance(p, dict) and p.get("kind") == "management page"]
        if pages:
            c.add(svc, "management", f"admin page(s) {', '.join(str(p.get('path')) for p in pages[:3])} served "
                  "without a login (unauthenticated_access)", [f.id])


def _update(c: _Collector, host: str, f: Finding) -> None:
    d = f.details or {}
    if f.check_id == "update_mechanism":
        for item in d.get("update_urls") or []:
            _update_url(c, host, str(item.get("value", "")), f.id, item.get("artefact"),
                        f"the device names {item.get('value')} as an update URL in {item.get('source')} "
                        "(update_mechanism)")
    if f.check_id == "update_channel" and d.get("update_url"):
        _update_url(c, host, str(d["update_url"]), f.id, None,
                    f"the device names {d['update_url']} as an update URL in {d.get('found_in')} (update_channel)")
    if f.check_id in ("update_mechanism", "update_channel"):
        for page in d.get("update_pages") or []:
            hp = url_host_port(str(page.get("source", "")))
            if hp and _same_host(hp[0], host):
                c.add(c.service_at(host, hp[1]), "update",
                      f"update page or endpoint {page.get('source')} ({page.get('how')}) ({f.check_id})",
                      [f.id, page.get("artefact")])


def _update_url(c: _Collector, host: str, url: str, fid: str, art: str | None, why: str) -> None:
    hp = url_host_port(url)
    if hp and _same_host(hp[0], host):
        c.add(c.service_at(host, hp[1]), "update", why, [fid, art])


def _device_api(c: _Collector, host: str, f: Finding) -> None:
    if f.check_id != "upnp_exposure":
        return
    d = f.details or {}
    for loc in d.get("locations") or []:
        hp = url_host_port(str(loc))
        if hp and _same_host(hp[0], host):
            c.add(c.service_at(host, hp[1]), "device-api", f"serves the UPnP description {loc} (upnp_exposure)",
                  [f.id])
    for entry in d.get("igd") or []:
        ctl = entry.get("control_url") if isinstance(entry, dict) else None
        hp = url_host_port(str(ctl or ""))
        if hp and _same_host(hp[0], host):
            c.add(c.service_at(host, hp[1]), "device-api",
                  f"serves UPnP gateway control ({entry.get('service_type')}) at {ctl} (upnp_exposure)", [f.id])


def _data(c: _Collector, host: str, f: Finding) -> None:
    if f.check_id != "update_mechanism":
        return
    titles = tuple(data().get("directory_listing_titles") or ())
    for page in (f.details or {}).get("pages_visited") or []:
        value = str(page.get("value", ""))
        title = value.split(" ", 1)[1] if " " in value else ""
        if value.startswith("200 ") and title.startswith(titles):
            hp = url_host_port(str(page.get("source", "")))
            if hp and _same_host(hp[0], host):
                c.add(c.service_at(host, hp[1]), "data",
                      f"{page.get('source')} is a directory listing ({title[:80]!r})", [f.id, page.get("artefact")])


def assign_roles(host: str, services: list[Service], findings: list[Finding]) -> dict[str, tuple[ServiceRole, ...]]:
    """Roles per service key (`Service.key()`) of one target, from its services and findings."""
    mine = [s for s in services if _same_host(s.host, host)]
    theirs = [f for f in findings if _same_host(f.host, host)]
    c = _Collector(mine)
    _by_protocol(c, mine, theirs)
    for f in theirs:
        _management(c, host, f)
        _update(c, host, f)
        _device_api(c, host, f)
        _data(c, host, f)
    return c.result()


def finding_roles(finding: Finding, roles: dict[str, tuple[ServiceRole, ...]]) -> set[str] | None:
    """The roles of the service a finding is about; None for a device-scoped finding."""
    if finding.port is None:
        return None
    key = f"{finding.host}:{finding.port}/{finding.transport or 'tcp'}"
    return {r.role for r in roles.get(key, ())}
