"""The public face of probe for third-party check authors: import from here, nothing else.

Everything a plugin needs is re-exported below; the rest of the package may be reorganised
without notice. See docs/plugin-api.md for the contract (metadata, scope, evidence, verdicts).
"""

from __future__ import annotations

from probe.context import CheckContext, ServiceContext
from probe.engine import run_single_check
from probe.models import Finding, InconclusiveReason, Intrusiveness, Service, Status
from probe.options import (
    CredentialOptions,
    CredentialScope,
    CryptoOptions,
    DiscoveryOptions,
    SafetyOptions,
    ScanMethod,
    ScanOptions,
)
from probe.plugins import Check, ServiceCheck
from probe.session import Cancelled

__all__ = [
    "Cancelled",
    "Check",
    "CheckContext",
    "CredentialOptions",
    "CredentialScope",
    "CryptoOptions",
    "DiscoveryOptions",
    "Finding",
    "InconclusiveReason",
    "Intrusiveness",
    "SafetyOptions",
    "ScanMethod",
    "ScanOptions",
    "Service",
    "ServiceCheck",
    "ServiceContext",
    "Status",
    "run_single_check",
]
