"""Run one check against a daemon a test started, exactly as the engine runs it (same gating, same
error envelope), and read the evidence it kept."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Sequence
from typing import Any

from probe.engine import run_single_check
from probe.models import Finding, Service
from probe.options import CredentialOptions, CryptoOptions, DiscoveryOptions, SafetyOptions, ScanOptions
from probe.store import EvidenceStore
from tests.helpers.ports import LOOPBACK

TLS_PROTOCOLS = ("https", "mqtts")


def service(port: int, protocol: str, *, transport: str = "tcp", host: str = LOOPBACK, **kw: Any) -> Service:
    """A service as discovery would report it (TLS for the protocols that are TLS by definition)."""
    return Service(host, port, transport, protocol, "test", tls=protocol in TLS_PROTOCOLS, **kw)


def check_service(check_id: str, port: int, protocol: str, *, transport: str = "tcp",
                  credentials: CredentialOptions | None = None,
                  crypto: CryptoOptions | None = None, discovery: DiscoveryOptions | None = None,
                  others: Sequence[Service] = (), timeout: float = 3.0) -> tuple[list[Finding], EvidenceStore]:
    """`check_id` against one loopback service, with a 3 s socket timeout (loopback answers at once;
    more for a daemon that delays its answer on purpose, or a CGI login handler on a loaded
    machine); `others`: more services of the same device, as discovery would list them beside it."""
    svc = service(port, protocol, transport=transport)
    opts = ScanOptions(safety=SafetyOptions(timeout=timeout), credentials=credentials or CredentialOptions(),
                       crypto=crypto or CryptoOptions(), discovery=discovery or DiscoveryOptions())
    return run_single_check(check_id, LOOPBACK, [svc, *others], opts, service=svc)


def one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def artefact_text(store: EvidenceStore, finding: Finding) -> str:
    return "\n".join(store.artefacts[a].data.decode("utf-8", "replace") for a in finding.artefacts)


def connector(port: int, timeout: float = 3.0, host: str = LOOPBACK) -> Callable[[], Any]:
    """The connect function the protocol readers take (probe.protocols)."""
    return lambda: contextlib.closing(socket.create_connection((host, port), timeout=timeout))
