"""Build a check context against 127.0.0.1 and run one check, as the engine would."""

from __future__ import annotations

import threading
from typing import Any

from probe.context import CheckContext, DeviceLimiter, EvidenceStore, ScanOptions
from probe.models import Finding, Service
from probe.plugins import registry


def run_check(check_id: str, port: int, protocol: str, *, transport: str = "tcp",
              store: EvidenceStore | None = None, **options: Any) -> tuple[list[Finding], EvidenceStore]:
    svc = Service("127.0.0.1", port, transport, protocol, "test", tls=protocol == "https")
    store = store or EvidenceStore()
    opts = ScanOptions(timeout=options.pop("timeout", 3.0), **options)
    ctx = CheckContext(check_id=check_id, host="127.0.0.1", services=[svc], service=svc, options=opts,
                       store=store, limiter=DeviceLimiter(opts.max_connections), cancel=threading.Event(),
                       deadline=None)
    findings = list(registry()[check_id]().run(ctx))
    return findings, store


def artefact_text(store: EvidenceStore, finding: Finding) -> str:
    return "\n".join(store.artefacts[a].data.decode("utf-8", "replace") for a in finding.artefacts)
