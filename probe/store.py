"""The evidence a run has gathered so far, shared by every target, check and thread.

It is what gets written when a run is interrupted, so it must always hold a consistent view:
artefacts are added before the findings that cite them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from probe.models import Artefact, Finding, Service


class EvidenceStore:
    """Thread-safe home of artefacts, findings, services and notes, with run-unique ids."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.artefacts: dict[str, Artefact] = {}
        self.findings: list[Finding] = []
        self.services: list[Service] = []
        self.notes: list[str] = []
        self._ids = itertools.count(1)

    def next_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}-{next(self._ids):04d}"

    def add_artefact(self, kind: str, name: str, data: bytes, *, media_type: str = "application/octet-stream",
                     host: str | None = None, port: int | None = None) -> str:
        art = Artefact(self.next_id("a"), kind, name, bytes(data), media_type, host, port)
        with self._lock:
            self.artefacts[art.id] = art
        return art.id

    def add_finding(self, finding: Finding) -> None:
        with self._lock:
            self.findings.append(finding)

    def map_findings(self, fn: Callable[[Finding], Finding]) -> None:
        """Replace every finding by fn(finding), in place and in order (the clause layer records,
        after all checks ran, which clauses each finding bears on; ids and judgements never change)."""
        with self._lock:
            mapped = [fn(f) for f in self.findings]
            assert [f.id for f in mapped] == [f.id for f in self.findings]
            self.findings[:] = mapped

    def add_service(self, service: Service) -> None:
        with self._lock:
            self.services.append(service)

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)

    def snapshot(self) -> tuple[list[Service], list[Finding], dict[str, Artefact]]:
        with self._lock:
            return list(self.services), list(self.findings), dict(self.artefacts)
