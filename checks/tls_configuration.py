"""tls_configuration: which TLS versions and suites a service accepts, judged against policy.

Observation (probe.protocols.tls_hello) and judgement (probe.compliance.cryptopolicy) are separate; this
module only wires them to the context, records evidence and picks the status.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from probe.compliance.cryptopolicy import headline, judge_tls_configuration, load_tls_policy, off_policy_groups
from probe.context import ServiceContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import ServiceCheck
from probe.protocols import tls_hello

MAX_CONNECTIONS = 60
MAX_RAW_ARTEFACTS = 20
_CODES = {tls_hello.CONNECTIVITY: InconclusiveReason.CONNECTIVITY,
          tls_hello.MISBEHAVED: InconclusiveReason.DEVICE_MISBEHAVED}


def _transcript(scan: tls_hello.TLSScan) -> str:
    """Every attempt: what was offered and the raw bytes both ways (hex), as one JSON document."""
    rows = []
    for i, a in enumerate(scan.attempts, 1):
        rows.append({
            "attempt": i,
            "offered_version": tls_hello.VERSION_NAMES.get(a.offered_version),
            "offered_suites": len(a.offered_suites),
            "outcome": a.outcome, "reason": a.reason, "reason_code": a.reason_code,
            "alert": a.alert_name,
            "server_version": a.server_hello.version_name if a.server_hello else None,
            "server_suite": tls_hello.suite_name(a.server_hello.cipher_suite) if a.server_hello else None,
            "key_exchange": a.kex.to_json() if a.kex else None,
            "offered_groups": [tls_hello.group_name(g) for g in a.offered_groups],
            "certificates": len(a.certificates), "certificate_note": a.certificate_note or None,
            "client_hello_hex": a.sent.hex(),
            "server_reply_hex": a.received[:16384].hex(),
            "server_reply_bytes": len(a.received),
        })
    return json.dumps({"attempts": rows, "summary": scan.to_json()}, indent=1)


class TlsConfiguration(ServiceCheck):
    check_id = "tls_configuration"

    def run_service(self, ctx: ServiceContext) -> Iterable[Finding]:
        policy = load_tls_policy(ctx.options.crypto.tls_policy)
        port = ctx.service.port
        budget = ctx.options.crypto.tls_max_connections
        scan = tls_hello.scan(lambda: ctx.connection(port), max_connections=min(budget, MAX_CONNECTIONS),
                              timeout=ctx.remaining(), check_cancelled=ctx.check_cancelled,
                              max_bytes=ctx.options.safety.max_read_bytes, server_name=ctx.options.crypto.sni,
                              probe_groups=lambda version: off_policy_groups(policy, version))
        transcript = ctx.artefact("transcript", f"tls-handshakes-{port}.json", _transcript(scan),
                                  media_type="application/json")
        details: dict[str, Any] = {"scan": scan.to_json(),
                   "policy": {k: policy[k] for k in ("name", "source", "source_version", "_where")}}

        if not scan.any_handshake:
            errors = [a for a in scan.attempts if a.outcome == tls_hello.ERROR]
            if errors and len(errors) == len(scan.attempts):
                code = _CODES.get(errors[0].reason_code or "", InconclusiveReason.DEVICE_MISBEHAVED)
                yield ctx.inconclusive("No TLS handshake could be made", errors[0].reason, code,
                                       details=details, artefacts=[transcript])
                return
            reasons = "; ".join(sorted({a.reason for a in scan.attempts if a.reason}))
            yield ctx.inconclusive(
                "The service accepted none of the TLS versions probe offers (SSL 3.0 to TLS 1.3)",
                f"every ClientHello was refused ({reasons}); the service may not speak TLS, may need a "
                "server name (SNI), or may speak only SSL 2.0", InconclusiveReason.UNSUPPORTED,
                details=details, artefacts=[transcript])
            return

        if scan.version_violation and not scan.accepted_versions:
            # every ServerHello of a server that does not negotiate is in doubt: say which rule it
            # broke and stop, rather than judge versions or suites it never really agreed to
            yield ctx.inconclusive(
                "The server answers TLS hellos with a version above the one offered, a protocol violation "
                f"({scan.version_violation}), and never completed a handshake flight: which TLS versions and "
                "suites it accepts cannot be read.",
                f"device misbehaved: ServerHello version above the offered one ({scan.version_violation}); "
                "RFC 5246 E.1 and RFC 8446 4.1.3 forbid it", InconclusiveReason.DEVICE_MISBEHAVED,
                details=details, artefacts=[transcript])
            return
        judgement = judge_tls_configuration(scan, policy)
        details["violations"] = [v.to_json() for v in judgement.violations]
        details["undetermined"] = judgement.undetermined
        accepted = ", ".join(scan.accepted_versions) or "none"
        if judgement.failed:
            arts = [transcript, *self._raw_evidence(ctx, scan, judgement.violations, port)]
            lines = headline([v for v in judgement.violations if v.severity == "fail"])
            yield ctx.finding(Status.FAIL, "TLS configuration outside the policy",
                              "; ".join(lines) + f" (accepted versions: {accepted})",
                              details=details, artefacts=arts, severity="high")
            return
        if judgement.undetermined:
            errs = [a for a in scan.attempts if a.outcome == tls_hello.ERROR]
            code = (_CODES.get(errs[0].reason_code or "", InconclusiveReason.DEVICE_MISBEHAVED) if errs
                    else InconclusiveReason.UNSUPPORTED)
            yield ctx.inconclusive(f"accepted versions: {accepted}; no violation seen, but not everything "
                                   "the policy needs could be observed",
                                   "could not determine " + "; ".join(judgement.undetermined), code,
                                   details=details, artefacts=[transcript])
            return
        suites = ", ".join(f"{len(r.suites)} in {v}" for v, r in scan.versions.items() if r.accepted)
        groups = sorted({k.describe() for r in scan.versions.values() for _, k in r.key_exchange})
        yield ctx.finding(Status.PASS, "TLS configuration meets the policy",
                          f"accepted versions: {accepted}; suites: {suites}; key exchange: "
                          f"{', '.join(groups) or 'none observed'}; all within {policy['name']}",
                          details=details, artefacts=[transcript], severity="high")

    @staticmethod
    def _raw_evidence(ctx: ServiceContext, scan: tls_hello.TLSScan, violations: list, port: int) -> list[str]:
        """The server's raw reply for each attempt that showed a violation (capped)."""
        wanted_versions = {v.item for v in violations if v.rule == "protocols.allowed"}
        wanted_kex = {v.item for v in violations if v.rule.startswith("key_exchange.")}
        wanted_suites = {(v.rule.split(".", 1)[1], v.item) for v in violations if v.rule.startswith("cipher_suites.")}
        ids: list[str] = []
        seen: set[tuple[str, str]] = set()
        for a in scan.attempts:
            if a.outcome != tls_hello.ACCEPTED or a.server_hello is None:
                continue
            vname = a.server_hello.version_name
            sname = tls_hello.suite_name(a.server_hello.cipher_suite)
            kex = a.kex
            kex_item = "" if kex is None else f"{vname} DH {kex.bits}" if kex.kind == "DHE" else f"{vname} {kex.group}"
            key = ((vname, sname) if (vname, sname) in wanted_suites else (vname, "") if vname in wanted_versions
                   else (vname, kex_item) if kex_item in wanted_kex else None)
            if key is None or key in seen:
                continue
            seen.add(key)
            ids.append(ctx.artefact("tls-server-hello", f"server-hello-{port}-{vname}-{sname}.bin", a.received,
                                    media_type="application/octet-stream"))
            if len(ids) >= MAX_RAW_ARTEFACTS:
                break
        return ids
