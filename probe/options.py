"""The operator's choices for a scan, typed and validated once.

Every option that bounds what probe may do to a device lives here, in four frozen groups, so a
check reads `ctx.options.credentials.budget` instead of a string key with a cast, and a wrong
value is refused when the options are built (by the CLI, a test or a plugin author), never in
the middle of a scan. `to_json()` is what the evidence records under `run.options`: every
choice that shaped the result, so an assessor can reproduce the run.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from probe.errors import UserError

MAX_PORT = 65535
MAX_RATE = 1_000_000  # packets/s: a --max-rate above this is a typo, not a plan
# The SYN sweep's ceiling when the operator sets none; why this number: docs/discovery.md
DEFAULT_MAX_RATE = 60_000


class ScanMethod(StrEnum):
    AUTO = "auto"  # SYN sweep over raw sockets when root, else connect()
    SYN = "syn"
    CONNECT = "connect"


class CredentialScope(StrEnum):
    FIRST = "first"  # stop a service's trials at its first proven default login
    ACCOUNTS = "accounts"  # go on to list every account that has a default password


def _not_negative(name: str, value: float) -> None:
    if value < 0:
        raise UserError(f"{name} must be 0 or more")


def _positive(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise UserError(f"{name} must be greater than 0")


def _ports(name: str, ports: tuple[int, ...] | None) -> None:
    if ports is not None and any(not 1 <= p <= MAX_PORT for p in ports):
        raise UserError(f"{name}: ports must be between 1 and {MAX_PORT}")


@dataclass(frozen=True)
class SafetyOptions:
    """How hard probe may lean on one device, whatever the checks do."""

    max_connections: int = 4  # concurrent connections per device, discovery and checks included
    timeout: float = 5.0  # per socket operation
    max_time: float | None = None  # whole-run budget in seconds
    max_read_bytes: int = 256 * 1024  # what probe accepts from one service in one exchange
    # the opt-in UPnP test that asks the gateway to map one port for another host, then deletes it
    # (--allow-upnp-mapping-test): the only state-changing request probe ever sends a device
    upnp_mapping_test: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.max_connections <= 64:
            raise UserError("--max-connections must be between 1 and 64")
        _positive("--timeout", self.timeout)
        _positive("--max-time", self.max_time, allow_none=True)
        _positive("max_read_bytes", self.max_read_bytes)


@dataclass(frozen=True)
class DiscoveryOptions:
    """How open ports are found and identified."""

    method: ScanMethod = ScanMethod.AUTO
    # SYN sweep ceiling in packets per second (--max-rate); below it the rate adapts to the device
    # (probe/discovery/syn_scan.py). Also caps connects started per second in the connect sweep.
    max_rate: int = DEFAULT_MAX_RATE
    retries: int = 1  # unanswered SYN probes are sent once more (more while retries keep being answered)
    concurrency: int = 512  # connect() sweep: connects in flight
    connect_timeout: float = 1.0  # connect() sweep: per port
    tcp_ports: tuple[int, ...] | None = None  # instead of the profile's ports (--ports)
    tcp_ports_name: str | None = None  # the named port set --ports gave (e.g. "top"), recorded as such
    udp_ports: tuple[int, ...] | None = None  # instead of the profile's (--udp-ports; () = none)
    udp_timeout: float = 1.0
    use_nmap: bool = True  # nmap -sV on ports probe's own probes could not identify
    nmap_versions: bool = False  # also on identified ports lacking product/version
    nmap_timeout: float = 60.0  # per port
    ssdp_port: int | None = None  # where SSDP is asked instead of the ports discovery found (else 1900)

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", ScanMethod(self.method))
        if not 1 <= self.max_rate <= MAX_RATE:
            raise UserError(f"--max-rate must be between 1 and {MAX_RATE:,} packets per second")
        _not_negative("scan retries", self.retries)
        _positive("--scan-concurrency", self.concurrency)
        _positive("connect timeout", self.connect_timeout)
        _positive("UDP timeout", self.udp_timeout)
        _positive("nmap timeout", self.nmap_timeout)
        _ports("--ports", self.tcp_ports)
        if self.tcp_ports is not None and not self.tcp_ports:
            raise UserError("--ports lists no port")
        _ports("--udp-ports", self.udp_ports)
        _ports("ssdp_port", None if self.ssdp_port is None else (self.ssdp_port,))


# Default login attempts per service, by protocol, when the operator sets no --credential-budget.
# Telnet and SSH are what Mirai and its successors log in to: their default covers the whole
# built-in list (the 60 pairs of the public Mirai list plus probe's other rows, 67 in all) with
# room for the vendor pairs a device's fingerprint selects, so "not found" there means "none of
# the botnet's pairs works". Other logins keep 20: web, FTP and MQTT logins delay or lock out
# sooner, and their likely defaults are few and ranked first.
DEFAULT_BUDGETS: dict[str, int] = {"telnet": 80, "ssh": 80}
DEFAULT_BUDGET = 20
CREDENTIAL_PROTOCOLS = ("ssh", "telnet", "ftp", "http", "https", "mqtt", "mqtts", "snmp")  # as recorded


@dataclass(frozen=True)
class CredentialOptions:
    """Default-credential trials and the opt-in brute-force test."""

    enabled: bool = True  # try default credentials at all (--no-credentials)
    budget: int | None = None  # login attempts per service at most; None: by protocol (budget_for)
    delay: float = 0.0  # seconds between attempts on one service
    scope: CredentialScope = CredentialScope.FIRST
    user_file: Path | None = None  # the operator's own CSV, tried first, redacted in the evidence
    brute_force: bool = False  # the opt-in repeated-failed-login test
    brute_force_attempts: int = 12

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", CredentialScope(self.scope))
        if self.budget is not None:
            _not_negative("--credential-budget", self.budget)
        _not_negative("--credential-delay", self.delay)
        if not 3 <= self.brute_force_attempts <= 30:
            raise UserError("--brute-force-attempts must be between 3 and 30")

    def budget_for(self, protocol: str) -> int:
        """Login attempts at most on one service: the operator's --credential-budget, else the
        protocol's default (DEFAULT_BUDGETS, DEFAULT_BUDGET)."""
        if self.budget is not None:
            return self.budget
        return DEFAULT_BUDGETS.get(protocol, DEFAULT_BUDGET)


SSH_POLICY_PRESETS = ("ssh-audit",)  # probe/data/policies/ssh-<name>.yaml, chosen by name
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                       r"[A-Za-z0-9])?)*\.?$")


@dataclass(frozen=True)
class CryptoOptions:
    """What TLS and SSH are judged against."""

    ca_file: Path | None = None  # CA(s) the device's certificates must chain to
    tls_policy: Path | None = None  # instead of the built-in policy file
    ssh_policy: Path | str | None = None  # a policy file, or a preset name from SSH_POLICY_PRESETS
    tls_max_connections: int = 60  # per TLS service, versions then suites
    # The name users reach the device by: sent as SNI and checked against the certificate's names
    # instead of the scanned address.
    hostname: str | None = None

    def __post_init__(self) -> None:
        _positive("tls_max_connections", self.tls_max_connections)
        if isinstance(self.ssh_policy, str) and self.ssh_policy not in SSH_POLICY_PRESETS:
            object.__setattr__(self, "ssh_policy", Path(self.ssh_policy))
        if self.hostname is not None:
            try:
                ipaddress.ip_address(self.hostname)
            except ValueError:
                if not _HOSTNAME.match(self.hostname):
                    raise UserError(f"--hostname {self.hostname!r} is neither a DNS name nor an IP address") from None

    @property
    def sni(self) -> str | None:
        """The hostname as TLS server_name, never an IP literal (RFC 6066 3)."""
        if self.hostname is None:
            return None
        try:
            ipaddress.ip_address(self.hostname)
        except ValueError:
            return self.hostname.rstrip(".")
        return None


def _path_or_none(p: Path | None) -> str | None:
    return str(p) if p is not None else None


@dataclass(frozen=True)
class ScanOptions:
    """Everything the operator chose; the defaults suit a fragile embedded device."""

    safety: SafetyOptions = field(default_factory=SafetyOptions)
    discovery: DiscoveryOptions = field(default_factory=DiscoveryOptions)
    credentials: CredentialOptions = field(default_factory=CredentialOptions)
    crypto: CryptoOptions = field(default_factory=CryptoOptions)

    def to_json(self) -> dict[str, Any]:
        s, d, c, k = self.safety, self.discovery, self.credentials, self.crypto
        return {
            "safety": {"max_connections": s.max_connections, "timeout": s.timeout, "max_time": s.max_time,
                       "max_read_bytes": s.max_read_bytes, "upnp_mapping_test": s.upnp_mapping_test},
            "discovery": {"method": str(d.method), "max_rate": d.max_rate, "retries": d.retries,
                          "concurrency": d.concurrency, "connect_timeout": d.connect_timeout,
                          "tcp_ports": _port_spec(d.tcp_ports), "tcp_ports_name": d.tcp_ports_name,
                          "udp_ports": _port_spec(d.udp_ports),
                          "udp_timeout": d.udp_timeout, "use_nmap": d.use_nmap, "nmap_versions": d.nmap_versions,
                          "nmap_timeout": d.nmap_timeout, "ssdp_port": d.ssdp_port},
            "credentials": {"enabled": c.enabled, "budget": c.budget,
                            "budgets": {p: c.budget_for(p) for p in CREDENTIAL_PROTOCOLS},
                            "delay": c.delay, "scope": str(c.scope),
                            # the file's name only: its contents are the operator's secrets
                            "user_file": c.user_file.name if c.user_file else None,
                            "brute_force": c.brute_force, "brute_force_attempts": c.brute_force_attempts},
            "crypto": {"ca_file": _path_or_none(k.ca_file), "tls_policy": _path_or_none(k.tls_policy),
                       "ssh_policy": k.ssh_policy if isinstance(k.ssh_policy, str) else _path_or_none(k.ssh_policy),
                       "tls_max_connections": k.tls_max_connections, "hostname": k.hostname},
        }


def _port_spec(ports: tuple[int, ...] | None) -> str | None:
    """A compact, exact rendering of a port set ('1-1024,8080'), or None for "the profile's"."""
    if ports is None:
        return None
    out: list[str] = []
    start = prev = None
    for p in sorted(set(ports)):
        if prev is not None and p == prev + 1:
            prev = p
            continue
        if start is not None:
            out.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = p
    if start is not None:
        out.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(out)
