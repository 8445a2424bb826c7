"""security_txt against real lighttpd (https and http), and the RFC 9116 parser on its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from probe.engine import run_single_check
from probe.models import Finding, Service
from probe.protocols import securitytxt
from probe.store import EvidenceStore

Site = Callable[..., int]

FUTURE = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
PAST = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")


def body(expires: str, contact: str = "mailto:security@example.com") -> str:
    return (f"# security contact for EX-GW1000\nContact: {contact}\nExpires: {expires}\n"
            "Policy: https://example.com/security/policy\nPreferred-Languages: en, ja\n")


def svc(port: int, tls: bool) -> Service:
    return Service(host="127.0.0.1", port=port, transport="tcp", protocol="https" if tls else "http",
                   method="test", tls=tls)


def _one(port: int, tls: bool, extra: list[Service] | None = None) -> tuple[Finding, EvidenceStore]:
    findings, store = run_single_check("security_txt", "127.0.0.1", [svc(port, tls), *(extra or [])])
    assert len(findings) == 1
    return findings[0], store


def test_valid_security_txt_over_https_passes(site: Site, tls_pem: Path) -> None:
    port = site({"/.well-known/security.txt": body(FUTURE)}, tls_pem=tls_pem)
    f, store = _one(port, True)
    assert f.status == "PASS", f.summary
    assert f.details["fields"]["contact"] == ["mailto:security@example.com"]
    assert f.details["fields"]["preferred-languages"] == ["en, ja"]
    assert "uk-psti:2" in f.clauses and "cls:5.2-1" in f.clauses
    assert b"Contact: mailto:security@example.com" in store.artefacts[f.artefacts[0]].data


def test_expired_security_txt_fails(site: Site, tls_pem: Path) -> None:
    port = site({"/.well-known/security.txt": body(PAST)}, tls_pem=tls_pem)
    f, _ = _one(port, True)
    assert f.status == "FAIL" and "expired" in f.summary


def test_security_txt_only_over_plain_http_fails_rfc_9116(site: Site) -> None:
    port = site({"/security.txt": body(FUTURE)})
    f, _ = _one(port, False)
    assert f.status == "FAIL" and "HTTPS" in f.summary
    assert any("legacy" in w for w in f.details["warnings"])


def test_absent_security_txt_is_not_applicable(site: Site) -> None:
    port = site({"/index.html": "<html><title>x</title></html>"})
    f, _ = _one(port, False)
    assert f.status == "NOT_APPLICABLE" and "vulnerability_disclosure_policy_url" in f.summary
    assert len(f.details["tried"]) == 2


def test_catch_all_html_is_not_taken_for_a_security_txt(site: Site) -> None:
    port = site({"/index.html": "<!DOCTYPE html><html><title>x</title></html>"},
                    conf=['server.error-handler-404 = "/index.html"'])
    f, _ = _one(port, False)
    assert f.status == "NOT_APPLICABLE"


def test_parser_rules() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ok = securitytxt.parse("Contact: https://example.com/report\nExpires: 2026-06-01T00:00:00Z\n", now=now)
    assert ok.valid and ok.expires and ok.expires.year == 2026
    assert "no Contact" in " ".join(securitytxt.parse("Expires: 2026-06-01T00:00:00Z\n", now=now).errors)
    assert "no Expires" in " ".join(securitytxt.parse("Contact: mailto:a@b.c\n", now=now).errors)
    bad_date = securitytxt.parse("Contact: mailto:a@b.c\nExpires: 2026-06-01\n", now=now)
    assert "RFC 3339" in " ".join(bad_date.errors)
    twice = securitytxt.parse("Contact: mailto:a@b.c\nExpires: 2026-06-01T00:00:00Z\nExpires: 2026-07-01T00:00:00Z\n",
                              now=now)
    assert "more than once" in " ".join(twice.errors)
    far = securitytxt.parse("Contact: mailto:a@b.c\nExpires: 2029-06-01T00:00:00+09:00\n", now=now)
    assert far.valid and "more than a year" in " ".join(far.warnings)
    signed = securitytxt.parse(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nContact: mailto:a@b.c\n"
        "Expires: 2026-06-01T00:00:00Z\n- -dash-escaped: x\n-----BEGIN PGP SIGNATURE-----\nabc\n"
        "-----END PGP SIGNATURE-----\n", now=now)
    assert signed.valid and signed.signed and signed.to_json()["signature_verified"] is False
    canon = securitytxt.parse("Contact: mailto:a@b.c\nExpires: 2026-06-01T00:00:00Z\n"
                              "Canonical: https://example.com/.well-known/security.txt\n", now=now,
                              fetched_from="https://10.0.0.1/.well-known/security.txt")
    assert any("Canonical" in w for w in canon.warnings)
