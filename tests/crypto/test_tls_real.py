"""TLS scanner and checks against real `openssl s_server` instances on loopback."""

from __future__ import annotations

import re
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from probe.models import InconclusiveReason, Status
from probe.plugins import registry
from probe.protocols import tls_hello

from .conftest import connector, make_ctx, run_check, s_server

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


def test_legacy_tls10_server_detected_despite_local_openssl(pki):
    """The local OpenSSL client refuses TLS 1.0 at its default level; our own hello does not."""
    cipher = "DEFAULT@SECLEVEL=0"
    with s_server(pki["legacy_crt"], pki["legacy_key"], "-tls1", "-cipher", cipher) as port:
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


def test_legacy_server_checks_fail_with_evidence(pki):
    with s_server(pki["legacy_crt"], pki["legacy_key"], "-tls1", "-cipher", "DEFAULT@SECLEVEL=0") as port:
        ctx = make_ctx(port, "https", tls=True)
        [conf] = run_check(registry()["tls_configuration"], ctx)
        [cert] = run_check(registry()["tls_certificate"], make_ctx(port, "https", tls=True))
    assert conf.status is Status.FAIL
    items = {v["item"] for v in conf.details["violations"]}
    assert "TLSv1.0" in items
    # the raw ServerHello that showed TLS 1.0 is kept verbatim
    raw = [ctx.store.artefacts[a] for a in conf.artefacts if ctx.store.artefacts[a].kind == "tls-server-hello"]
    assert raw and raw[0].data[0] == 22 and raw[0].data[1:3] == b"\x03\x01"
    assert cert.status is Status.FAIL
    rules = {v["rule"] for v in cert.details["violations"]}
    assert {"certificate.min_rsa_bits", "certificate.disallowed_signature_hashes",
            "certificate.self_signed_without_ca_file", "certificate.name_mismatch"} <= rules
    leaf = cert.details["chain"][0]
    assert (leaf["key_type"], leaf["key_size"], leaf["signature_hash"], leaf["self_signed"]) == \
        ("RSA", 1024, "sha1", True)


INTERMEDIATE_12 = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305")


def test_modern_server_passes_and_chains_to_operator_ca(pki):
    args = ["-no_ssl3", "-no_tls1", "-no_tls1_1", "-cipher", INTERMEDIATE_12,
            "-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"]
    with s_server(pki["modern_crt"], pki["modern_key"], *args) as port:
        scan = tls_hello.scan(connector(port), timeout=3)
        [conf] = run_check(registry()["tls_configuration"], make_ctx(port, "https", tls=True))
        [cert] = run_check(registry()["tls_certificate"], make_ctx(port, "https", tls=True, ca_file=str(pki["ca"])))
        [cert_no_ca] = run_check(registry()["tls_certificate"], make_ctx(port, "https", tls=True))
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


def test_untrusted_by_operator_ca_fails(pki, tmp_path):
    other = tmp_path / "other-ca.pem"
    other.write_bytes(pki["legacy_crt"].read_bytes())  # a CA file that did not issue the device cert
    with s_server(pki["modern_crt"], pki["modern_key"], "-no_tls1", "-no_tls1_1") as port:
        [cert] = run_check(registry()["tls_certificate"], make_ctx(port, "https", tls=True, ca_file=str(other)))
    assert cert.status is Status.FAIL
    assert cert.details["trust"]["trusted"] is False


def test_disallowed_suite_in_tls12_fails(pki):
    with s_server(pki["expired_crt"], pki["expired_key"], "-tls1_2",
                  "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA") as port:
        [conf] = run_check(registry()["tls_configuration"], make_ctx(port, "https", tls=True))
        [cert] = run_check(registry()["tls_certificate"], make_ctx(port, "https", tls=True))
    assert conf.status is Status.FAIL
    assert [v["item"] for v in conf.details["violations"]] == ["TLS_RSA_WITH_AES_128_CBC_SHA"]
    assert cert.status is Status.FAIL
    assert any(v["rule"] == "certificate.expired" for v in cert.details["violations"])


def test_tls13_only_server_certificate_decrypted_by_probe(pki):
    """TLS 1.3 encrypts the Certificate message: probe derives the handshake keys and reads it."""
    with s_server(pki["modern_crt"], pki["modern_key"], "-tls1_3") as port:
        scan = tls_hello.scan(connector(port), timeout=3)
    assert scan.accepted_versions == ["TLSv1.3"]
    assert scan.certificates == [x509.load_pem_x509_certificate(pki["modern_crt"].read_bytes())
                                 .public_bytes(serialization.Encoding.DER)]
    assert "decrypted" in scan.certificate_source


def test_connection_budget_is_respected(pki):
    with s_server(pki["legacy_crt"], pki["legacy_key"], "-tls1", "-cipher", "ALL@SECLEVEL=0") as port:
        scan = tls_hello.scan(connector(port), timeout=3, max_connections=8)
    assert scan.connections == 8 and scan.budget_exhausted
    assert scan.versions["TLSv1.0"].accepted is True
    assert scan.versions["TLSv1.0"].suites_complete is False


def test_nothing_listening_is_inconclusive_connectivity():
    from .conftest import free_port
    port = free_port()
    [f] = run_check(registry()["tls_configuration"], make_ctx(port, "https", tls=True))
    assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.CONNECTIVITY
