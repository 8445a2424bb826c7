"""Run one check against a daemon on 127.0.0.1 exactly as the engine does."""

from __future__ import annotations

from probe.engine import run_single_check
from probe.models import Finding, Service
from probe.options import CredentialOptions, SafetyOptions, ScanOptions
from probe.store import EvidenceStore


def run_check(check_id: str, port: int, protocol: str, *, transport: str = "tcp",
              credentials: CredentialOptions | None = None) -> tuple[list[Finding], EvidenceStore]:
    svc = Service("127.0.0.1", port, transport, protocol, "test", tls=protocol in ("https", "mqtts"))
    opts = ScanOptions(safety=SafetyOptions(timeout=3.0), credentials=credentials or CredentialOptions())
    return run_single_check(check_id, "127.0.0.1", [svc], opts, service=svc)


def artefact_text(store: EvidenceStore, finding: Finding) -> str:
    return "\n".join(store.artefacts[a].data.decode("utf-8", "replace") for a in finding.artefacts)
