"""The one result model used everywhere in probe.

The chain is: protocol probes record **artefacts** (raw bytes a device sent or we sent: banners,
transcripts, certificates) and **services** (what discovery saw); checks turn those into
**findings** (a judgement about one service or device, with the artefacts it rests on); the
clause layer turns findings plus the catalog mapping into **clause verdicts**.

Everything here is an immutable record so that a finding cannot be edited after the fact, and so
that "the device failed" (FAIL) and "we could not test" (INCONCLUSIVE) stay distinct all the way
into the JSON evidence and the exit code, as sslyze keeps them apart.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Outcome of a check on one service or device, and of a clause.

    MANUAL is only ever produced by the clause layer (a check cannot read documents), but it
    shares the enum so that one vocabulary is used in every output.
    """

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    MANUAL = "MANUAL"


class Intrusiveness(StrEnum):
    """How much a check may disturb a device; the CLI refuses the last two unless opted in."""

    SAFE = "safe"
    CREDENTIALS = "tries-credentials"
    BRUTE_FORCE = "brute-force-test"


class Assessment(StrEnum):
    """How far a network probe can assess a clause (from ../shared/reference/clauses.md)."""

    NETWORK = "network"
    PARTIAL = "partly-network"
    DOCUMENTS = "documents-only"


class InconclusiveReason(StrEnum):
    """Why something could not be tested; mirrors sslyze's error categories."""

    CONNECTIVITY = "connectivity"  # could not connect, reset, timeout
    DEVICE_MISBEHAVED = "device-misbehaved"  # garbage, endless data, stall, protocol violation
    UNSUPPORTED = "unsupported"  # the device speaks something our client cannot test
    NOT_OPTED_IN = "not-opted-in"  # intrusive test needs the operator's permission
    NO_INPUT = "missing-input"  # a needed input (e.g. a service, a declaration) is missing
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM or --max-time
    TOOL_ERROR = "tool-error"  # a bug in probe or a plugin; the trace is kept as an artefact
    # clause layer only: the operator stated the device is in its factory default state, which
    # the password clauses exempt; the finding stands, the clause must be re-tested after set-up
    DEVICE_STATE = "device-state"


class Effect(StrEnum):
    """How a finding selected by a clause's evidence rule counts for that clause (docs/verdicts.md)."""

    DECIDES = "decides"  # FAIL fails, INCONCLUSIVE blocks, PASS / NOT_APPLICABLE count toward the result
    FAILS_ONLY = "fails-only"  # FAIL fails, INCONCLUSIVE blocks, PASS never counts (covers part of the clause)
    SUPPORTS = "supports"  # attached as supporting evidence; never changes the verdict


class DeviceState(StrEnum):
    """The state the operator says the device was in when scanned (EN 303 645 5.1-1, PSTI para 1)."""

    INITIALISED = "initialised"
    FACTORY = "factory"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Artefact:
    """Raw evidence, stored verbatim so an assessor can re-derive every judgement.

    Bytes from a device are never decoded lossily: text is stored as UTF-8 when it is valid
    UTF-8, otherwise base64; the digest is always over the original bytes.
    """

    id: str
    kind: str  # banner | transcript | certificate | http-response | kexinit | nmap-xml | trace | ...
    name: str
    data: bytes
    media_type: str = "application/octet-stream"
    host: str | None = None
    port: int | None = None

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)

    def to_json(self) -> dict[str, Any]:
        try:
            content, encoding = self.data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            content, encoding = base64.b64encode(self.data).decode("ascii"), "base64"
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "media_type": self.media_type,
            "host": self.host,
            "port": self.port,
            "size": len(self.data),
            "sha256": self.sha256,
            "encoding": encoding,
            "content": content,
        }


@dataclass(frozen=True)
class Service:
    """One open network service as discovery saw it."""

    host: str
    port: int
    transport: str  # tcp | udp
    protocol: str  # identified application protocol: ssh, telnet, http, https, ftp, mqtt, ...
    method: str  # how it was found: connect-scan, syn-scan, nmap, udp-probe
    product: str | None = None
    version: str | None = None
    tls: bool = False
    banner_artefact: str | None = None  # Artefact.id of the banner, when one was read
    confidence: str = "port"  # port (guessed from the port number) | banner | handshake | nmap
    # what discovery learned beyond protocol/product/version, e.g. which SNMP versions answered and
    # the SNMPv3 engine ID, or a NAT-PMP result code; values are short texts, never secrets
    details: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # what identification tried, in order (greeting, then each probe sent): an unidentified port
    # (confidence "port") is reported with what it did not answer to
    probes: tuple[str, ...] = ()

    def key(self) -> str:
        return f"{self.host}:{self.port}/{self.transport}"

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "transport": self.transport,
            "protocol": self.protocol,
            "method": self.method,
            "product": self.product,
            "version": self.version,
            "tls": self.tls,
            "banner_artefact": self.banner_artefact,
            "confidence": self.confidence,
            "details": dict(self.details),
            "probes": list(self.probes),
        }


@dataclass(frozen=True)
class ServiceRole:
    """What a service is for, as the run observed it (probe/compliance/roles.py assigns these).

    Clause rules select findings by role: weak TLS on a port that carries the update mechanism
    bears on the update-crypto clause, the same weakness on an admin UI that carries none does not.
    """

    role: str  # management | update | data | device-api
    why: str
    evidence: tuple[str, ...] = ()  # finding or artefact ids the role rests on

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "why": self.why, "evidence": list(self.evidence)}


@dataclass(frozen=True)
class RuleResult:
    """One evidence rule of a clause, applied on one target: the findings it selected."""

    id: str  # "<clause id>#<rule id>"
    check: str
    roles: tuple[str, ...]
    effect: Effect
    findings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "check": self.check, "roles": list(self.roles), "effect": str(self.effect),
                "findings": list(self.findings)}


@dataclass(frozen=True)
class Finding:
    """A check's judgement about one service (or the whole device when port is None).

    `reason` is required for INCONCLUSIVE and NOT_APPLICABLE; `reason_code` classifies an
    INCONCLUSIVE so that reports can separate "device broke" from "we chose not to test".
    `clauses` is filled in by the engine from the catalog mapping, never by the check.
    """

    id: str
    check_id: str
    status: Status
    host: str
    title: str
    summary: str
    port: int | None = None
    transport: str | None = None
    protocol: str | None = None
    reason: str | None = None
    reason_code: InconclusiveReason | None = None
    details: dict[str, Any] = field(default_factory=dict)
    artefacts: tuple[str, ...] = ()  # Artefact ids
    clauses: tuple[str, ...] = ()
    severity: str = "medium"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check_id": self.check_id,
            "status": str(self.status),
            "host": self.host,
            "port": self.port,
            "transport": self.transport,
            "protocol": self.protocol,
            "title": self.title,
            "summary": self.summary,
            "reason": self.reason,
            "reason_code": str(self.reason_code) if self.reason_code else None,
            "severity": self.severity,
            "clauses": list(self.clauses),
            "details": self.details,
            "evidence": list(self.artefacts),
        }


@dataclass(frozen=True)
class ClauseVerdict:
    """The verdict on one clause for one target, and everything it rests on."""

    clause_id: str
    target: str
    verdict: Status
    reason: str
    network_result: Status | None  # what the deciding findings showed, before the manual remainder
    findings: tuple[str, ...] = ()  # the ids that decided: selected by decides / fails-only rules
    checks: tuple[str, ...] = ()
    declaration: dict[str, Any] | None = None  # the manufacturer's statement, when one was given
    rules: tuple[RuleResult, ...] = ()
    supporting: tuple[str, ...] = ()  # selected by supports rules only: attached, never deciding
    reason_code: InconclusiveReason | None = None  # why, when the verdict is INCONCLUSIVE

    @property
    def basis(self) -> str:
        """tested | declared | manual: the split assessors ask for."""
        if self.verdict in (Status.PASS, Status.FAIL, Status.INCONCLUSIVE, Status.NOT_APPLICABLE):
            return "tested"
        return "declared" if self.declaration else "manual"
