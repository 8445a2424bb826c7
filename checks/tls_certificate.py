"""tls_certificate: the served certificate chain, judged against the TLS policy.

The chain is read as the server sent it, with probe's own handshakes: TLS 1.3 first (probe
derives the handshake keys and decrypts the Certificate message, so this works on Python 3.11,
whose ssl module only returns the leaf), then TLS 1.2 down to SSL 3.0 (Certificate in clear, so
certificates OpenSSL would reject are still read). Python's ssl module is the last resort, and
the finding says which way the chain was obtained.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from probe.compliance.cryptopolicy import Violation, judge_certificates, load_tls_policy
from probe.context import ServiceContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import ServiceCheck
from probe.protocols import tls_hello, x509

_CODES = {tls_hello.CONNECTIVITY: InconclusiveReason.CONNECTIVITY,
          tls_hello.MISBEHAVED: InconclusiveReason.DEVICE_MISBEHAVED}
# Headline order: what makes a certificate unusable first, then its strength, then the advisories.
_ORDER = ("certificate.parse", "certificate.expired", "certificate.not_yet_valid", "certificate.untrusted_with_ca_file",
          "certificate.name_mismatch_with_ca_file", "certificate.min_rsa_bits", "certificate.min_ec_bits",
          "certificate.key_types", "certificate.disallowed_signature_hashes",
          "certificate.self_signed_without_ca_file", "certificate.name_mismatch", "certificate.max_lifetime_days")


def _ordered(violations: list[Violation]) -> list[Violation]:
    return sorted(violations, key=lambda v: _ORDER.index(v.rule) if v.rule in _ORDER else len(_ORDER))


class TlsCertificate(ServiceCheck):
    check_id = "tls_certificate"

    def run_service(self, ctx: ServiceContext) -> Iterable[Finding]:
        policy = load_tls_policy(ctx.options.crypto.tls_policy)
        port = ctx.service.port
        now = dt.datetime.now(dt.UTC)
        cas = None
        ca_file = ctx.options.crypto.ca_file
        if ca_file:
            try:
                cas = x509.load_ca_bundle(str(ca_file))
            except (OSError, ValueError) as exc:
                yield ctx.inconclusive("The operator's CA file could not be read", str(exc),
                                       InconclusiveReason.NO_INPUT)
                return

        read = tls_hello.read_chain(lambda: ctx.connection(port), timeout=ctx.remaining(),
                                    max_bytes=ctx.options.safety.max_read_bytes,
                                    server_name=ctx.options.crypto.sni, check_cancelled=ctx.check_cancelled)
        arts: list[str] = []
        for att in read.attempts:
            if att.received and (att.certificates or att.outcome == tls_hello.ERROR):
                name = tls_hello.VERSION_NAMES.get(att.offered_version, "tls")
                arts.append(ctx.artefact("tls-handshake", f"tls-{name}-server-flight-{port}.bin", att.received))
        if not read.certificates:
            code = _CODES.get(read.reason_code or "", InconclusiveReason.UNSUPPORTED)
            yield ctx.inconclusive("No certificate could be read from the service", "; ".join(read.problems), code,
                                   artefacts=arts)
            return
        ders = read.certificates
        chain = [x509.parse_certificate(d) for d in ders]
        for i, (der, info) in enumerate(zip(ders, chain, strict=True)):
            label = "leaf" if i == 0 else f"chain-{i}"
            data = info.pem if info.pem else der
            media = "application/x-pem-file" if info.pem else "application/pkix-cert"
            arts.append(ctx.artefact("certificate", f"certificate-{port}-{label}.{'pem' if info.pem else 'der'}",
                                     data, media_type=media))
        details: dict[str, Any] = {"source": read.source, "chain_complete": read.complete,
                                   "chain": [c.to_json() for c in chain],
                                   "ca_file": str(ca_file) if ca_file else None,
                                   "hostname": ctx.options.crypto.hostname,
                                   "policy": {k: policy[k] for k in ("name", "source", "source_version", "_where")}}
        if chain[0].parse_error:
            yield ctx.inconclusive("The leaf certificate could not be parsed", chain[0].parse_error,
                                   InconclusiveReason.DEVICE_MISBEHAVED, details=details, artefacts=arts)
            return
        disallowed = set(policy["certificate"]["disallowed_signature_hashes"])
        weak = any(c.signature_hash.lower() in disallowed for i, c in enumerate(chain) if not (i and c.self_signed))
        trust = x509.verify_chain(ders, cas, now=now, weak_signatures=weak) if cas else None
        judgement = judge_certificates(chain, policy, target_ip=ctx.host, now=now, trust=trust,
                                       leaf_only=not read.complete, hostname=ctx.options.crypto.hostname)
        violations = _ordered(judgement.violations)
        details["violations"] = [v.to_json() for v in violations]
        details["notes"] = judgement.notes
        if trust is not None:
            details["trust"] = {"trusted": trust.trusted, "detail": trust.detail, "method": trust.method,
                                "verifier_message": trust.raw or None}
        leaf = chain[0]
        about = (f"{leaf.subject}: {leaf.key_type} {leaf.key_size} bits, {leaf.signature_algorithm}, "
                 f"valid {leaf.not_before:%Y-%m-%d} to {leaf.not_after:%Y-%m-%d}; chain of {len(chain)} read from "
                 f"the {read.source.split(':')[0]}")
        fails = [v.message for v in violations if v.severity == "fail"]
        warns = [v.message for v in violations if v.severity == "warn"]
        if fails:
            yield ctx.finding(Status.FAIL, "TLS certificate outside the policy",
                              "; ".join(fails) + f" ({about})" + (f"; also: {'; '.join(warns)}" if warns else ""),
                              details=details, artefacts=arts, severity="high")
            return
        yield ctx.finding(Status.PASS, "TLS certificate meets the policy",
                          about + (f"; warnings: {'; '.join(warns)}" if warns else ""),
                          details=details, artefacts=arts, severity="high")
