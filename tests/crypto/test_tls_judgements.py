"""Issue 13's TLS judgements against real servers: DH and ECDH group sizes, TLS 1.3-only chains
with an intermediate, wrong-name certificates with and without --ca-file, a strict TLS 1.3 stack
(tlslite-ng) as well as OpenSSL, and one finding per problem in readable words."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, rsa

from probe.models import Status
from probe.options import CryptoOptions, SafetyOptions, ScanOptions
from probe.plugins import registry
from probe.protocols import ssh_kexinit, tls_hello
from probe.session import TargetSession
from probe.store import EvidenceStore
from tests.helpers.crypto import (
    HOST,
    build_cert,
    connector,
    free_port,
    make_ctx,
    run_check,
    running,
    s_server,
    write_pem,
)

pytestmark = pytest.mark.slow


def ctx_for(port: int, *, ca_file: Path | None = None, hostname: str | None = None):
    from probe.context import ServiceContext
    from probe.models import Service

    svc = Service(host=HOST, port=port, transport="tcp", protocol="https", method="connect-scan", tls=True)
    opts = ScanOptions(safety=SafetyOptions(timeout=3.0), crypto=CryptoOptions(ca_file=ca_file, hostname=hostname))
    return ServiceContext(TargetSession(HOST, opts, EvidenceStore()), "test", service=svc, services=[svc])


def dh_params(tmp: Path, bits: int) -> Path:
    """The RFC 2409 / RFC 3526 MODP group of `bits` (1024: Oakley group 2; 2048: group 14) as an
    OpenSSL DH parameter file, computed from its published definition (no slow generation)."""
    prime = ssh_kexinit._dh_primes()["diffie-hellman-group1-sha1" if bits == 1024 else "diffie-hellman-group14-sha1"][0]
    params = dh.DHParameterNumbers(prime, 2).parameters()
    path = tmp / f"dh{bits}.pem"
    path.write_bytes(params.parameter_bytes(serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3))
    return path


@pytest.fixture(scope="module")
def chain_pki(tmp_path_factory) -> dict[str, Path]:
    """root CA -> intermediate -> leaf (P-256, SAN 127.0.0.1 and device.test), plus a leaf for
    another name, an expired leaf and a SHA-1-signed leaf, all under the same intermediate."""
    d = tmp_path_factory.mktemp("chain")
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = build_cert("probe root CA", root_key, ca=True, days=(-10, 3650), ip=None)
    int_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter = build_cert("probe intermediate CA", int_key, issuer=(root, root_key), ca=True, days=(-300, 1000), ip=None)
    out: dict[str, Path] = {}
    out["ca"], _ = write_pem(d / "root", root, root_key)
    out["intermediate"], _ = write_pem(d / "intermediate", inter, int_key)

    def leaf(name: str, *, ip: str | None = HOST, dns: list[str] | None = None, days=(-1, 90), hash_alg=None):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = build_cert(f"{name}.test", key, issuer=(inter, int_key), ip=ip, days=days, hash_alg=hash_alg)
        if dns:  # rebuild with DNS names in the SAN as well
            sans = [x509.DNSName(n) for n in dns] + ([x509.IPAddress(__import__("ipaddress").ip_address(ip))]
                                                      if ip else [])
            b = x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer).public_key(
                key.public_key()).serial_number(x509.random_serial_number()).not_valid_before(
                cert.not_valid_before_utc).not_valid_after(cert.not_valid_after_utc)
            for ext in cert.extensions:
                if not isinstance(ext.value, x509.SubjectAlternativeName):
                    b = b.add_extension(ext.value, ext.critical)
            cert = b.add_extension(x509.SubjectAlternativeName(sans), critical=False).sign(int_key, hashes.SHA256())
        crt, k = write_pem(d / name, cert, key)
        bundle = d / f"{name}-with-intermediate.pem"
        bundle.write_bytes(crt.read_bytes() + out["intermediate"].read_bytes())
        out[f"{name}_crt"], out[f"{name}_key"], out[f"{name}_bundle"] = crt, k, bundle

    leaf("device", dns=["device.test"])
    leaf("wrongname", ip="127.0.0.2", dns=["other.test"])
    leaf("expired", days=(-100, -10))
    # cryptography refuses to sign with SHA-1; an old firmware's CA would have used openssl:
    _, int_key_path = write_pem(d / "intermediate-signing", inter, int_key)
    ext = d / "sha1.ext"
    ext.write_text(f"subjectAltName=IP:{HOST}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n"
                   "authorityKeyIdentifier=keyid\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=sha1.test", "-keyout", str(d / "sha1.key"), "-out", str(d / "sha1.csr")],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-sha1", "-days", "30", "-in", str(d / "sha1.csr"),
                    "-CA", str(out["intermediate"]), "-CAkey", str(int_key_path), "-CAcreateserial",
                    "-extfile", str(ext), "-out", str(d / "sha1.crt")], check=True, capture_output=True)
    out["sha1_crt"], out["sha1_key"] = d / "sha1.crt", d / "sha1.key"
    return out


def server_with_chain(pki: dict[str, Path], name: str, *args: str):
    return s_server(pki[f"{name}_crt"], pki[f"{name}_key"], "-cert_chain", str(pki["intermediate"]), *args)


# -- DH and ECDH sizes ---------------------------------------------------------------------------
DHE_AND_ECDHE = "DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"


def test_dhe_1024_fails_with_the_group_size(pki, tmp_path):
    with s_server(pki.expired.cert, pki.expired.key, "-tls1_2", "-cipher", DHE_AND_ECDHE,
                  "-dhparam", str(dh_params(tmp_path, 1024))) as port:
        ctx = make_ctx(port, "https", tls=True)
        [conf] = run_check(registry()["tls_configuration"], ctx)
    assert conf.status is Status.FAIL
    kex = [v for v in conf.details["violations"] if v["rule"].startswith("key_exchange.")]
    assert [(v["rule"], v["item"]) for v in kex] == [("key_exchange.min_dh_bits", "TLSv1.2 DH 1024")]
    assert conf.summary.startswith("TLSv1.2 key exchange uses a 1024-bit DH group "
                                   "(TLS_DHE_RSA_WITH_AES_128_GCM_SHA256)")
    observed = conf.details["scan"]["versions"]["TLSv1.2"]["key_exchange"]
    assert {(k["kind"], k["bits"]) for k in observed} >= {("DHE", 1024), ("ECDHE", 256)}
    # the ServerHello + ServerKeyExchange that showed the 1024-bit group is kept verbatim
    kinds = [ctx.store.artefacts[a].kind for a in conf.artefacts]
    assert "tls-server-hello" in kinds


def test_dhe_2048_passes_the_dh_rule(pki, tmp_path):
    with s_server(pki.modern.cert, pki.modern.key, "-tls1_2", "-cipher",
                  "DHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256",
                  "-dhparam", str(dh_params(tmp_path, 2048))) as port:
        scan = tls_hello.scan(connector(port), timeout=3)
        [conf] = run_check(registry()["tls_configuration"], make_ctx(port, "https", tls=True))
    # an ECDSA certificate cannot sign for DHE-RSA, so only ECDHE is negotiated: the curve is read
    assert [k.describe() for _, k in scan.versions["TLSv1.2"].key_exchange] == ["ECDHE x25519 (256 bits)"]
    assert conf.status is Status.PASS, conf.summary
    assert "ECDHE x25519 (256 bits)" in conf.summary


def test_weak_named_curve_accepted_fails(pki):
    """A server that still accepts a 224-bit curve when a client offers only that: the group probe
    finds it, though the server's first choice (x25519) is fine."""
    with s_server(pki.expired.cert, pki.expired.key, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256",
                  "-groups", "X25519:P-224") as port:
        [conf] = run_check(registry()["tls_configuration"], make_ctx(port, "https", tls=True))
    with s_server(pki.modern.cert, pki.modern.key, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256",
                  "-groups", "X25519:P-256:P-224") as port:
        [ecdsa] = run_check(registry()["tls_configuration"], make_ctx(port, "https", tls=True))
    # with an ECDSA certificate the probe must also offer the certificate's curve (RFC 8422 5.1)
    assert ecdsa.status is Status.FAIL, ecdsa.summary
    assert ecdsa.details["scan"]["versions"]["TLSv1.2"]["groups_accepted"] == ["secp224r1"]
    assert conf.status is Status.FAIL
    kex = {(v["rule"], v["item"]) for v in conf.details["violations"] if v["rule"].startswith("key_exchange")}
    assert kex == {("key_exchange.min_ecdh_bits", "TLSv1.2 secp224r1")}
    v12 = conf.details["scan"]["versions"]["TLSv1.2"]
    assert v12["groups_accepted"] == ["secp224r1"] and v12["groups_complete"] is True


def test_named_curves_within_the_list_pass(pki):
    with s_server(pki.modern.cert, pki.modern.key, "-no_tls1", "-no_tls1_1", "-groups", "P-256:P-384",
                  "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256") as port:
        [conf] = run_check(registry()["tls_configuration"], make_ctx(port, "https", tls=True))
    assert conf.status is Status.PASS, conf.summary
    versions = conf.details["scan"]["versions"]
    assert versions["TLSv1.3"]["key_exchange"][0]["group"] == "secp256r1"  # after a HelloRetryRequest
    assert versions["TLSv1.2"]["key_exchange"][0]["group"] == "secp256r1"
    assert versions["TLSv1.2"]["groups_accepted"] == [] and versions["TLSv1.2"]["groups_complete"]


# -- TLS 1.3-only chains ---------------------------------------------------------------------------
def test_tls13_only_server_with_intermediate_chains_to_ca(chain_pki):
    """The case that failed on Python 3.11: only the leaf was read, so a correct server whose
    intermediate was never seen did not chain to the CA."""
    with server_with_chain(chain_pki, "device", "-tls1_3") as port:
        [cert] = run_check(registry()["tls_certificate"], ctx_for(port, ca_file=chain_pki["ca"]))
    assert cert.status is Status.PASS, cert.summary
    assert [c["subject"] for c in cert.details["chain"]] == ["CN=device.test", "CN=probe intermediate CA"]
    assert cert.details["chain_complete"] is True
    assert "decrypted" in cert.details["source"] and "TLSv1.3" in cert.summary
    assert cert.details["trust"]["trusted"] is True


def test_tls13_only_server_missing_intermediate_fails_trust(chain_pki):
    """The negative of the above: a server that really omits its intermediate does not chain."""
    with s_server(chain_pki["device_crt"], chain_pki["device_key"], "-tls1_3") as port:
        [cert] = run_check(registry()["tls_certificate"], ctx_for(port, ca_file=chain_pki["ca"]))
    assert cert.status is Status.FAIL
    assert [v["rule"] for v in cert.details["violations"]] == ["certificate.untrusted_with_ca_file"]
    assert "no path from the served certificates to a CA in the CA file" in cert.summary


# -- names ---------------------------------------------------------------------------------------
def test_wrong_name_fails_with_ca_file_and_warns_without(chain_pki):
    with server_with_chain(chain_pki, "wrongname") as port:
        [with_ca] = run_check(registry()["tls_certificate"], ctx_for(port, ca_file=chain_pki["ca"]))
        [without] = run_check(registry()["tls_certificate"], ctx_for(port))
    assert with_ca.status is Status.FAIL
    assert [v["rule"] for v in with_ca.details["violations"]] == ["certificate.name_mismatch_with_ca_file"]
    assert with_ca.details["trust"]["trusted"] is True  # the right CA, the wrong name
    assert with_ca.summary.startswith("the certificate is not issued for 127.0.0.1: its subject alternative "
                                      "names are 127.0.0.2, other.test")
    assert without.status is Status.PASS
    assert [v["rule"] for v in without.details["violations"]] == ["certificate.name_mismatch"]
    assert "warnings: the certificate is not issued for 127.0.0.1" in without.summary


def test_hostname_option_checks_the_dns_name_and_is_sent_as_sni(chain_pki):
    """--hostname: the certificate must name it; it also goes out as SNI, so a server that picks
    its certificate by name serves the right one (s_server -servername/-cert2)."""
    with s_server(chain_pki["wrongname_crt"], chain_pki["wrongname_key"], "-cert_chain", str(chain_pki["intermediate"]),
                  "-servername", "device.test", "-cert2", str(chain_pki["device_bundle"]),
                  "-key2", str(chain_pki["device_key"])) as port:
        # (s_server sends no intermediate with its -cert2 certificate, so no CA file for this one)
        [named] = run_check(registry()["tls_certificate"], ctx_for(port, hostname="device.test"))
        [other] = run_check(registry()["tls_certificate"], ctx_for(port, ca_file=chain_pki["ca"], hostname="nas.test"))
    assert named.status is Status.PASS, named.summary
    assert named.details["chain"][0]["subject"] == "CN=device.test"
    assert not any(v["rule"].startswith("certificate.name_mismatch") for v in named.details["violations"])
    assert other.status is Status.FAIL
    assert other.details["chain"][0]["subject"] == "CN=wrongname.test"  # no SNI match: the default certificate
    assert "not issued for nas.test" in other.summary


# -- one finding per problem, readable -----------------------------------------------------------
def test_expired_certificate_is_reported_once(chain_pki):
    with server_with_chain(chain_pki, "expired") as port:
        [cert] = run_check(registry()["tls_certificate"], ctx_for(port, ca_file=chain_pki["ca"]))
    assert cert.status is Status.FAIL
    assert [v["rule"] for v in cert.details["violations"]] == ["certificate.expired"]
    assert cert.details["trust"]["trusted"] is True
    assert cert.details["trust"]["method"] in ("webpki-at-valid-time", "signatures")
    assert cert.summary.count("expired on") == 1 and cert.summary.startswith("leaf (CN=expired.test): expired on")


def test_sha1_signature_reported_once_in_words(chain_pki):
    with server_with_chain(chain_pki, "sha1", "-cipher", "DEFAULT:@SECLEVEL=0") as port:
        [cert] = run_check(registry()["tls_certificate"], ctx_for(port, ca_file=chain_pki["ca"]))
    assert cert.status is Status.FAIL
    assert [v["rule"] for v in cert.details["violations"]] == ["certificate.disallowed_signature_hashes"]
    assert cert.details["trust"]["method"] == "signatures"
    assert "AlgorithmIdentifier" not in cert.summary and "{" not in cert.summary
    assert "signed with sha1WithRSAEncryption" in cert.summary


def test_headline_puts_old_versions_before_suites(pki):
    with s_server(pki.legacy.cert, pki.legacy.key, "-cipher", "ALL:@SECLEVEL=0") as port:
        [conf] = run_check(registry()["tls_configuration"], make_ctx(port, "https", tls=True))
    assert conf.status is Status.FAIL
    assert conf.summary.startswith("accepts TLSv1.1, TLSv1.0, which the policy does not allow")
    assert "TLSv1.2 accepts" in conf.summary and "cipher suites outside the policy" in conf.summary
    assert conf.summary.index("TLSv1.2 accepts") > conf.summary.index("which the policy does not allow")


# -- a strict TLS 1.3 stack ----------------------------------------------------------------------
@contextlib.contextmanager
def tlslite_server(cert: Path, key: Path) -> Iterator[int]:
    """tlslite-ng's own server (pure Python, strict about RFC 8446 ClientHellos)."""
    script = Path(sys.executable).parent / "tls.py"
    if not script.exists():
        pytest.skip("tlslite-ng is not installed (pip install -e '.[test]')")
    port = free_port()
    with running([sys.executable, str(script), "server", "-k", str(key), "-c", str(cert), f"{HOST}:{port}"], port):
        yield port


@pytest.fixture(scope="module")
def rsa_pair(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tlslite")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return write_pem(d / "tlslite", build_cert("tlslite.test", key), key)


def test_strict_tls13_stack_accepts_the_conformant_hello(rsa_pair):
    cert, key = rsa_pair
    with tlslite_server(cert, key) as port:
        v13 = tls_hello.VERSIONS["TLSv1.3"]
        strict = tls_hello.hello(connector(port), v13, list(tls_hello.TLS13_SUITES), timeout=5, want_certificate=True)
        [cert_f] = run_check(registry()["tls_certificate"], make_ctx(port, "https", tls=True))
        [conf] = run_check(registry()["tls_configuration"], make_ctx(port, "https", tls=True))
    assert strict.outcome == tls_hello.ACCEPTED and len(strict.certificates) == 1
    assert cert_f.details["source"].startswith("TLSv1.3 handshake: probe derived the handshake keys"), cert_f.summary
    assert conf.status is not Status.INCONCLUSIVE, conf.summary
    assert conf.details["scan"]["versions"]["TLSv1.3"]["accepted"] is True
    assert conf.details["scan"]["versions"]["TLSv1.2"]["accepted"] is True


def test_strict_stack_refuses_obsolete_groups_in_a_tls13_hello(rsa_pair):
    """Why the hellos are separate: the same TLS 1.3 hello with the legacy group list is refused."""
    cert, key = rsa_pair
    share = __import__("probe.protocols.tls13_keys", fromlist=["make_share"]).make_share(29)
    with tlslite_server(cert, key) as port:
        record = _tls13_hello_with_groups(tls_hello.GROUPS, share.public)
        att = _raw_exchange(port, record)
    assert att[:1] == b"\x15", att[:16].hex()  # an alert ...
    assert att[5:7] == b"\x02\x2f"  # ... fatal illegal_parameter


def _tls13_hello_with_groups(groups: tuple[int, ...], x25519: bytes) -> bytes:
    """A TLS 1.3 hello as probe built it before: legacy groups in supported_groups."""
    import os
    import struct

    u16 = lambda vals: struct.pack(f"!H{len(vals)}H", 2 * len(vals), *vals)  # noqa: E731
    ext = lambda t, b: struct.pack("!HH", t, len(b)) + b  # noqa: E731
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32) + u16(list(tls_hello.TLS13_SUITES)) + b"\x01\x00"
    share = struct.pack("!HH", 29, 32) + x25519
    exts = (ext(10, u16(groups)) + ext(13, u16(tls_hello.TLS13_SIGALGS)) + ext(43, b"\x02\x03\x04")
            + ext(45, b"\x01\x01") + ext(51, struct.pack("!H", len(share)) + share))
    body += struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0301, len(hs)) + hs


def _raw_exchange(port: int, record: bytes) -> bytes:
    with connector(port)() as s:
        s.sendall(record)
        data = b""
        with contextlib.suppress(OSError):
            while len(data) < 7:
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
    return data


def test_openssl_accepts_the_conformant_hello_too(chain_pki):
    with server_with_chain(chain_pki, "device", "-tls1_3", "-groups", "P-384") as port:
        att = tls_hello.hello(connector(port), tls_hello.VERSIONS["TLSv1.3"], list(tls_hello.TLS13_SUITES),
                              timeout=5, want_certificate=True)
    assert att.outcome == tls_hello.ACCEPTED
    assert att.kex is not None and att.kex.group == "secp384r1"  # after a HelloRetryRequest
    assert len(att.certificates) == 2


@pytest.mark.skipif(shutil.which("lighttpd") is None, reason="lighttpd not installed")
def test_lighttpd_tls13_only_with_intermediate(chain_pki, tmp_path):
    """The same chain through lighttpd (mod_openssl), TLS 1.3 only, as a device web UI serves it."""
    port = free_port()
    (tmp_path / "www").mkdir()
    pem = tmp_path / "server.pem"
    pem.write_bytes(chain_pki["device_crt"].read_bytes() + chain_pki["device_key"].read_bytes())
    conf = tmp_path / "lighttpd.conf"
    conf.write_text(f'''server.document-root = "{tmp_path / "www"}"
server.bind = "{HOST}"
server.port = {port}
server.modules = ("mod_openssl")
ssl.engine = "enable"
ssl.pemfile = "{pem}"
ssl.ca-file = "{chain_pki["intermediate"]}"
ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.3")
''')
    with running(["lighttpd", "-D", "-f", str(conf)], port):
        [conf_f] = run_check(registry()["tls_configuration"], ctx_for(port))
        [cert] = run_check(registry()["tls_certificate"], ctx_for(port, ca_file=chain_pki["ca"]))
    assert conf_f.details["scan"]["versions"]["TLSv1.3"]["accepted"] is True
    assert conf_f.details["scan"]["versions"]["TLSv1.2"]["accepted"] is False
    assert conf_f.status is Status.PASS, conf_f.summary
    assert cert.status is Status.PASS, cert.summary
    assert len(cert.details["chain"]) == 2
