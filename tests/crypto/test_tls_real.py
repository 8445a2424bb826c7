"""TLS scanner and checks against real `openssl s_server` instances on loopback."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from probe.models import InconclusiveReason, Status
from probe.options import CryptoOptions
from probe.protocols import tls_hello
from tests.helpers.checks import check_service, connector, one
from tests.helpers.daemons import LocalDaemons
from tests.helpers.pki import TestPKI
from tests.helpers.ports import free_port

pytestmark = pytest.mark.slow


def openssl_suites(version_flag: str, cipher: str, auth: str) -> set[int]:
    """What this OpenSSL would accept for a server with a key of type `auth` (from `ciphers -V`)."""
    out = subprocess.run(["openssl", "ciphers", "-V", "-s", version_flag, cipher], check=True,
                         capture_output=True, text=True).stdout
    codes = set()
    for line in out.splitlines():
        m = re.match(r"\s*0x([0-9A-F]{2}),0x([0-9A-F]{2}) - \S+\s+\S+\s+Kx=(\S+)\s+Au=(\S+)", line)
        if m and m.group(4) == auth and not m.group(1) == "13":
            codes.add(int(m.group(1) + m.group(2), 16))
    return codes


def test_legacy_tls10_server_detected_despite_local_openssl(daemons: LocalDaemons, pki: TestPKI) -> None:
    """The local OpenSSL client refuses TLS 1.0 at its default level; our own hello does not."""
    cipher = "DEFAULT@SECLEVEL=0"
    port = daemons.s_server(pki.legacy.cert, pki.legacy.key, "-tls1", "-cipher", cipher)
    # The local stack indeed cannot talk to it at its defaults (the premise of the design):
    local = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}"], input="",
                           capture_output=True, text=True, timeout=20)
    assert "Cipher is (NONE)" in local.stdout or local.returncode != 0
    scan = tls_hello.scan(connector(port), timeout=3)
    assert scan.accepted_versions == ["TLSv1.0"]
    assert scan.versions["TLSv1.2"].accepted is False and scan.versions["TLSv1.3"].accepted is False
    v10 = scan.versions["TLSv1.0"]
    assert v10.suites_complete
    assert set(v10.suites) == openssl_suites("-tls1", cipher, "RSA")
    assert scan.certificates and "TLSv1.0" in scan.certificate_source
    assert scan.connections <= 60


def test_legacy_server_checks_fail_with_evidence(daemons: LocalDaemons, pki: TestPKI) -> None:
    port = daemons.s_server(pki.legacy.cert, pki.legacy.key, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0")
    found, store = check_service("tls_configuration", port, "https")
    conf = one(found)
    cert = one(check_service("tls_certificate", port, "https")[0])
    assert conf.status is Status.FAIL
    items = {v["item"] for v in conf.details["violations"]}
    assert "TLSv1.0" in items
    # the raw ServerHello that showed TLS 1.0 is kept verbatim
    raw = [store.artefacts[a] for a in conf.artefacts if store.artefacts[a].kind == "tls-server-hello"]
    assert raw and raw[0].data[0] == 22 and raw[0].data[1:3] == b"\x03\x01"
    assert cert.status is Status.FAIL
    rules = {v["rule"] for v in cert.details["violations"]}
    assert {"certificate.min_rsa_bits", "certificate.disallowed_signature_hashes",
            "certificate.self_signed_without_ca_file", "certificate.name_mismatch"} <= rules
    leaf = cert.details["chain"][0]
    assert (leaf["key_type"], leaf["key_size"], leaf["signature_hash"], leaf["self_signed"]) == \
        ("RSA", 1024, "sha1", True)


INTERMEDIATE_12 = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305")


def test_modern_server_passes_and_chains_to_operator_ca(daemons: LocalDaemons, pki: TestPKI) -> None:
    args = ["-no_ssl3", "-no_tls1", "-no_tls1_1", "-cipher", INTERMEDIATE_12,
            "-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"]
    port = daemons.s_server(pki.modern.cert, pki.modern.key, *args)
    scan = tls_hello.scan(connector(port), timeout=3)
    conf = one(check_service("tls_configuration", port, "https")[0])
    cert = one(check_service("tls_certificate", port, "https", crypto=CryptoOptions(ca_file=pki.ca))[0])
    cert_no_ca = one(check_service("tls_certificate", port, "https")[0])
    assert scan.accepted_versions == ["TLSv1.3", "TLSv1.2"]
    assert {tls_hello.suite_name(s) for s in scan.versions["TLSv1.3"].suites} == {
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
    assert {tls_hello.suite_name(s) for s in scan.versions["TLSv1.2"].suites} == {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}
    assert conf.status is Status.PASS, conf.summary
    assert cert.status is Status.PASS, cert.summary
    assert cert.details["trust"]["trusted"] is True
    assert cert.details["chain"][0]["ip_addresses"] == ["127.0.0.1"]
    assert cert_no_ca.status is Status.PASS
    assert "no CA file given: chain trust not assessed" in cert_no_ca.details["notes"]


def test_untrusted_by_operator_ca_fails(daemons: LocalDaemons, pki: TestPKI, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_bytes(pki.legacy.cert.read_bytes())  # a CA file that did not issue the device cert
    port = daemons.s_server(pki.modern.cert, pki.modern.key, "-no_tls1", "-no_tls1_1")
    cert = one(check_service("tls_certificate", port, "https", crypto=CryptoOptions(ca_file=other))[0])
    assert cert.status is Status.FAIL
    assert cert.details["trust"]["trusted"] is False


def test_disallowed_suite_in_tls12_fails(daemons: LocalDaemons, pki: TestPKI) -> None:
    port = daemons.s_server(pki.expired.cert, pki.expired.key, "-tls1_2",
                            "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA")
    conf = one(check_service("tls_configuration", port, "https")[0])
    cert = one(check_service("tls_certificate", port, "https")[0])
    assert conf.status is Status.FAIL
    assert [v["item"] for v in conf.details["violations"]] == ["TLS_RSA_WITH_AES_128_CBC_SHA"]
    assert cert.status is Status.FAIL
    assert any(v["rule"] == "certificate.expired" for v in cert.details["violations"])


def test_tls13_only_server_certificate_decrypted_by_probe(daemons: LocalDaemons, pki: TestPKI) -> None:
    """TLS 1.3 encrypts the Certificate message: probe derives the handshake keys and reads it."""
    port = daemons.s_server(pki.modern.cert, pki.modern.key, "-tls1_3")
    scan = tls_hello.scan(connector(port), timeout=3)
    assert scan.accepted_versions == ["TLSv1.3"]
    assert scan.certificates == [x509.load_pem_x509_certificate(pki.modern.cert.read_bytes())
                                 .public_bytes(serialization.Encoding.DER)]
    assert "decrypted" in scan.certificate_source


def test_connection_budget_is_respected(daemons: LocalDaemons, pki: TestPKI) -> None:
    port = daemons.s_server(pki.legacy.cert, pki.legacy.key, "-tls1", "-cipher", "ALL@SECLEVEL=0")
    scan = tls_hello.scan(connector(port), timeout=3, max_connections=8)
    assert scan.connections == 8 and scan.budget_exhausted
    assert scan.versions["TLSv1.0"].accepted is True
    assert scan.versions["TLSv1.0"].suites_complete is False


def test_nothing_listening_is_inconclusive_connectivity() -> None:
    port = free_port()
    f = one(check_service("tls_configuration", port, "https")[0])
    assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.CONNECTIVITY
