"""tls_certificate: the served certificate chain, judged against the TLS policy.

The chain is read from probe's own TLS <= 1.2 handshake whenever the service accepts one (the
Certificate message is in clear there, so certificates OpenSSL would reject are still read);
a TLS 1.3-only service is read through Python's ssl module with verification off.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any

from probe.compliance.cryptopolicy import judge_certificates, load_tls_policy
from probe.context import ServiceContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import ServiceCheck
from probe.protocols import tls_hello, x509

_CODES = {tls_hello.CONNECTIVITY: InconclusiveReason.CONNECTIVITY,
          tls_hello.MISBEHAVED: InconclusiveReason.DEVICE_MISBEHAVED}


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

        ders, source, leaf_only, arts, problem = self._read_chain(ctx, port)
        if not ders:
            text, code = problem
            yield ctx.inconclusive("No certificate could be read from the service", text, code, artefacts=arts)
            return
        chain = [x509.parse_certificate(d) for d in ders]
        for i, (der, info) in enumerate(zip(ders, chain, strict=True)):
            label = "leaf" if i == 0 else f"chain-{i}"
            data = info.pem if info.pem else der
            media = "application/x-pem-file" if info.pem else "application/pkix-cert"
            arts.append(ctx.artefact("certificate", f"certificate-{port}-{label}.{'pem' if info.pem else 'der'}",
                                     data, media_type=media))
        details: dict[str, Any] = {"source": source, "chain": [c.to_json() for c in chain],
                                   "ca_file": str(ca_file) if ca_file else None,
                                   "policy": {k: policy[k] for k in ("name", "source", "source_version", "_where")}}
        if chain[0].parse_error:
            yield ctx.inconclusive("The leaf certificate could not be parsed", chain[0].parse_error,
                                   InconclusiveReason.DEVICE_MISBEHAVED, details=details, artefacts=arts)
            return
        trust = x509.verify_chain(ders, cas, now=now) if cas else None
        judgement = judge_certificates(chain, policy, target_ip=ctx.host, now=now, trust=trust, leaf_only=leaf_only)
        details["violations"] = [v.to_json() for v in judgement.violations]
        details["notes"] = judgement.notes
        if trust is not None:
            details["trust"] = {"trusted": trust.trusted, "detail": trust.detail}
        leaf = chain[0]
        about = f"{leaf.subject}: {leaf.key_type} {leaf.key_size} bits, {leaf.signature_algorithm}, " \
                f"valid {leaf.not_before:%Y-%m-%d} to {leaf.not_after:%Y-%m-%d}"
        fails = [v.message for v in judgement.violations if v.severity == "fail"]
        warns = [v.message for v in judgement.violations if v.severity == "warn"]
        if fails:
            yield ctx.finding(Status.FAIL, "TLS certificate outside the policy",
                              f"{about}; " + "; ".join(fails) + (f" (also: {'; '.join(warns)})" if warns else ""),
                              details=details, artefacts=arts, severity="high")
            return
        yield ctx.finding(Status.PASS, "TLS certificate meets the policy",
                          about + (f"; warnings: {'; '.join(warns)}" if warns else ""),
                          details=details, artefacts=arts, severity="high")

    @staticmethod
    def _read_chain(ctx: ServiceContext, port: int) -> tuple[list[bytes], str, bool, list[str],
                                                           tuple[str, InconclusiveReason]]:
        """Own handshake first (TLS 1.2 down to SSL 3.0), then the local TLS stack for TLS 1.3."""
        arts: list[str] = []
        reasons: list[str] = []
        code = InconclusiveReason.UNSUPPORTED
        connect = functools.partial(ctx.connection, port)
        for name in ("TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3"):
            ctx.check_cancelled()
            v = tls_hello.VERSIONS[name]
            att = tls_hello.hello(connect, v, tls_hello.suites_for(v, include_anon=False), timeout=ctx.remaining(),
                                  want_certificate=True, max_bytes=ctx.options.safety.max_read_bytes)
            if att.outcome == tls_hello.ACCEPTED and att.certificates:
                arts.append(ctx.artefact("tls-handshake", f"tls-{name}-first-flight-{port}.bin", att.received))
                return att.certificates, f"{name} handshake (Certificate message)", False, arts, ("", code)
            reasons.append(f"{name}: {att.reason or att.outcome}")
            if att.outcome == tls_hello.ERROR:
                code = _CODES.get(att.reason_code or "", InconclusiveReason.DEVICE_MISBEHAVED)
                if att.reason_code == tls_hello.CONNECTIVITY:
                    return [], "", False, arts, ("; ".join(reasons), code)
            if att.outcome == tls_hello.ERROR and att.received:
                arts.append(ctx.artefact("tls-handshake", f"tls-{name}-reply-{port}.bin", att.received))
        fetched = tls_hello.fetch_certificates_with_ssl(connect, timeout=ctx.remaining())
        if fetched.certificates:
            leaf_only = len(fetched.certificates) == 1 and "leaf" in fetched.note
            return fetched.certificates, f"{fetched.version or 'TLS'} via Python ssl: {fetched.note}", leaf_only, \
                arts, ("", code)
        reasons.append(f"Python ssl: {fetched.error}")
        if fetched.reason_code:
            code = _CODES.get(fetched.reason_code, code)
        return [], "", False, arts, ("; ".join(reasons), code)
