"""Hostile and broken peers: parsers and readers must end with a clear error, never an exception
escaping, a hang or unbounded memory. Parser unit tests use crafted bytes; reader tests use
scripted loopback peers (garbage, stalls, floods, truncation)."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paramiko import kex_group14

from probe.hostile.servers import BY_NAME
from probe.models import InconclusiveReason, Status
from probe.protocols import ssh_kexinit, tls_hello, x509
from tests.helpers.checks import check_service, connector, one
from tests.helpers.peers import scripted_peer


# -- TLS parser units ----------------------------------------------------------------------------
def _server_hello_body(version=0x0303, suite=0xC02F, exts=b"", sid=b"") -> bytes:
    body = struct.pack("!H", version) + b"\x11" * 32 + bytes([len(sid)]) + sid + struct.pack("!HB", suite, 0)
    if exts:
        body += struct.pack("!H", len(exts)) + exts
    return body


def test_server_hello_parses_and_reads_supported_versions():
    ext = struct.pack("!HH", 43, 2) + b"\x03\x04"
    sh = tls_hello.parse_server_hello(_server_hello_body(exts=ext, suite=0x1301))
    assert (sh.version, sh.cipher_suite, sh.hello_retry) == (0x0304, 0x1301, False)


@pytest.mark.parametrize("body", [
    b"", b"\x03\x03" + b"\x00" * 10,                                   # short
    _server_hello_body(sid=b"x" * 33)[:80],                            # session id > 32
    _server_hello_body() + b"\x00\x10\x00\x2b",                          # extensions length lies
    _server_hello_body(version=0x0203),                                # not SSL3/TLS
    _server_hello_body(exts=struct.pack("!HH", 43, 3) + b"\x03\x04\x00"),  # bad supported_versions
])
def test_server_hello_rejects_malformed(body):
    with pytest.raises(tls_hello.TLSParseError):
        tls_hello.parse_server_hello(body)


def test_certificate_list_rejects_lies():
    with pytest.raises(tls_hello.TLSParseError):
        tls_hello.parse_certificate_list(b"\x00\x00\x10\x00\x00\x05abc")
    with pytest.raises(tls_hello.TLSParseError):
        tls_hello.parse_certificate_list(b"\x00\x00\x03\x00\x00\x00")  # zero-length certificate
    many = b"".join(b"\x00\x00\x01Z" for _ in range(50))
    assert len(tls_hello.parse_certificate_list(len(many).to_bytes(3, "big") + many)) == tls_hello.MAX_CERTS


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_tls_parsers_only_raise_parse_errors(data):
    for fn in (tls_hello.parse_server_hello, tls_hello.parse_certificate_list):
        try:
            fn(data)
        except tls_hello.TLSParseError:
            pass


def test_client_hello_is_well_formed():
    for name, v in tls_hello.VERSIONS.items():
        rec = tls_hello.build_client_hello(v, tls_hello.suites_for(v))
        ctype, rver, length = struct.unpack("!BHH", rec[:5])
        assert ctype == 22 and length == len(rec) - 5 and rec[5] == 1
        assert int.from_bytes(rec[6:9], "big") == length - 4
        assert rver == (0x0300 if name == "SSLv3" else 0x0301)


def test_cipher_table_is_consistent():
    table = tls_hello.cipher_suites()
    assert table[0xC02F].name == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert table[0x000A].name == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
    assert table[0x0005].name == "TLS_RSA_WITH_RC4_128_SHA"
    assert 0x0000 not in tls_hello.suites_for(0x0303)
    assert all(c not in tls_hello.suites_for(0x0301) for c in (0xC02F, 0x009C, 0x003C))


# -- X.509 ----------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_x509_never_raises_on_garbage(data):
    info = x509.parse_certificate(data)
    assert info.parse_error


# -- SSH parser units ----------------------------------------------------------------------------
def _kexinit(lists: list[bytes]) -> bytes:
    body = b"\x14" + b"C" * 16
    for item in lists:
        body += struct.pack("!I", len(item)) + item
    return body + b"\x00" + b"\x00\x00\x00\x00"


def test_kexinit_parses_ten_lists():
    payload = _kexinit([b"curve25519-sha256,diffie-hellman-group1-sha1", b"ssh-ed25519"] + [b"aes128-ctr"] * 2
                       + [b"hmac-sha2-256"] * 2 + [b"none"] * 2 + [b""] * 2)
    k = ssh_kexinit.parse_kexinit(payload)
    assert k.get("kex_algorithms") == ["curve25519-sha256", "diffie-hellman-group1-sha1"]
    assert k.get("languages_server_to_client") == []


@pytest.mark.parametrize("payload", [
    b"", b"\x15" + b"\x00" * 60,                                  # wrong message number
    _kexinit([b"a"] * 3),                                         # too few lists
    b"\x14" + b"C" * 16 + b"\xff\xff\xff\xff",                     # list length past the end
    _kexinit([b"a,,b"] + [b"x"] * 9),                             # empty name
    _kexinit([b"a\x1bb"] + [b"x"] * 9),                           # control character
    _kexinit([b"\xff\xfe"] + [b"x"] * 9),                         # not ASCII
])
def test_kexinit_rejects_malformed(payload):
    with pytest.raises(ssh_kexinit.SSHProtocolError):
        ssh_kexinit.parse_kexinit(payload)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_ssh_parsers_only_raise_protocol_errors(data):
    for fn in (ssh_kexinit.parse_kexinit, ssh_kexinit.parse_host_key_blob):
        try:
            fn(b"\x14" + data if fn is ssh_kexinit.parse_kexinit else data)
        except ssh_kexinit.SSHProtocolError:
            pass


def test_modp_group1_is_the_rfc_safe_prime():
    p, g = ssh_kexinit._dh_primes()["diffie-hellman-group1-sha1"]
    assert p.bit_length() == 1024 and g == 2
    assert hex(p).upper().startswith("0XFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1")
    assert pow(2, p - 1, p) == 1 and pow(2, (p - 1) // 2 - 1, (p - 1) // 2) == 1  # p and (p-1)/2 probable primes


def test_modp_group14_matches_paramiko():
    assert ssh_kexinit._dh_primes()["diffie-hellman-group14-sha1"][0] == kex_group14.KexGroup14SHA256.P


# -- scripted TLS peers ---------------------------------------------------------------------------
def _drain(conn):
    conn.recv(65536)


def _garbage(conn):
    _drain(conn)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def _stall(conn):
    _drain(conn)
    time.sleep(4)


def _huge_record(conn):
    _drain(conn)
    conn.sendall(struct.pack("!BHH", 22, 0x0303, 0xFFFF) + b"\x00" * 100)


def _flood(conn):
    _drain(conn)
    first = b"\x02\x00\xff\xff" + b"\x00" * 16380  # a 64 KiB "ServerHello" spread over records
    conn.sendall(struct.pack("!BHH", 22, 0x0303, len(first)) + first)
    for _ in range(40):
        conn.sendall(struct.pack("!BHH", 22, 0x0303, 16384) + b"\x00" * 16384)


def _giant_message(conn):
    _drain(conn)
    conn.sendall(struct.pack("!BHH", 22, 0x0303, 8) + b"\x02\xff\xff\xff\x00\x00\x00\x00")


def _truncated(conn):
    _drain(conn)
    conn.sendall(struct.pack("!BHH", 22, 0x0303, 60) + b"\x02\x00\x00\x38" + b"\x03\x03")


def _alert(conn):
    _drain(conn)
    conn.sendall(b"\x15\x03\x01\x00\x02\x02\x28")


@pytest.mark.parametrize("behaviour,code,words", [
    (_garbage, "device-misbehaved", "not a TLS record"),
    (_stall, "device-misbehaved", "no answer"),
    (_huge_record, "device-misbehaved", "exceeds the TLS maximum"),
    (_flood, "device-misbehaved", "more than 65536 bytes"),
    (_giant_message, "device-misbehaved", "exceeds our cap"),
    (_truncated, "device-misbehaved", "closed mid-record"),
])
def test_hello_against_hostile_peers(behaviour, code, words):
    with scripted_peer(behaviour) as port:
        t0 = time.monotonic()
        att = tls_hello.hello(connector(port), 0x0303, tls_hello.suites_for(0x0303), timeout=1.5,
                              want_certificate=True, max_bytes=64 * 1024)
    assert time.monotonic() - t0 < 5
    assert att.outcome == tls_hello.ERROR and att.reason_code == code and words in att.reason, att.reason


def test_alert_means_rejected():
    with scripted_peer(_alert) as port:
        att = tls_hello.hello(connector(port), 0x0301, tls_hello.suites_for(0x0301), timeout=1.5)
    assert att.outcome == tls_hello.REJECTED and att.alert_name == "handshake_failure"


def test_tls_checks_on_garbage_peer_are_inconclusive_not_pass():
    with scripted_peer(_garbage, connections=100) as port:
        conf = one(check_service("tls_configuration", port, "https")[0])
        cert = one(check_service("tls_certificate", port, "https")[0])
    assert conf.status is Status.INCONCLUSIVE and conf.reason_code is InconclusiveReason.DEVICE_MISBEHAVED
    assert cert.status is Status.INCONCLUSIVE


@pytest.mark.parametrize(("name", "status"), [("tls-huge-cert", Status.INCONCLUSIVE),
                                              ("tls-malformed-cert", Status.FAIL)])
def test_server_answering_every_hello_with_tls12(name: str, status: Status) -> None:
    """Both servers answer every hello with a TLS 1.2 ServerHello picking the offered suite. A version
    above the one offered is a protocol violation, never "accepted"; it leaves a version accepted
    only where the server completed its first flight: tls-malformed-cert does (ServerHello, a
    Certificate of bad DER, ServerHelloDone), so its NULL/EXPORT picks stand and FAIL; tls-huge-cert
    never does (a 16 MiB Certificate), so no version can be read: INCONCLUSIVE naming the violation."""
    server = BY_NAME[name]("127.0.0.1", 0).start()
    try:
        f = one(check_service("tls_configuration", server.port, "https")[0])
    finally:
        server.stop()
    versions = f.details["scan"]["versions"]
    for old in ("SSLv3", "TLSv1.0", "TLSv1.1"):
        assert versions[old]["accepted"] is None and "higher than" in versions[old]["reason"], versions[old]
    assert "answered a TLSv1.0 hello with TLSv1.2" in f.details["scan"]["version_violation"]
    assert f.status is status, f.summary
    if status is Status.INCONCLUSIVE:
        assert f.reason_code is InconclusiveReason.DEVICE_MISBEHAVED and "protocol violation" in f.summary
        assert versions["TLSv1.2"]["accepted"] is None and "acceptance not proven" in versions["TLSv1.2"]["reason"]
    else:
        assert versions["TLSv1.2"]["accepted"] is True and "NULL" in f.summary


# -- scripted SSH peers ---------------------------------------------------------------------------
def _ssh1(conn):
    conn.sendall(b"SSH-1.5-OldDevice_1.0\r\n")
    conn.recv(100)


def _ssh199_then_close(conn):
    conn.sendall(b"SSH-1.99-Legacy\r\n")
    conn.recv(100)


def _endless_prebanner(conn):
    for _ in range(200):
        conn.sendall(b"Welcome to the device, please wait\r\n")
    time.sleep(2)


def _long_line(conn):
    conn.sendall(b"X" * 5000)
    time.sleep(1)


def _bad_packet(conn):
    conn.sendall(b"SSH-2.0-Weird\r\n" + struct.pack("!IB", 10_000_000, 4))
    time.sleep(1)


def _ssh_stall(conn):
    conn.sendall(b"SSH-2.0-Slow\r\n")
    time.sleep(4)


def test_ssh1_only_fails_check_with_banner_evidence():
    with scripted_peer(_ssh1) as port:
        found, store = check_service("ssh_algorithms", port, "ssh")
    f = one(found)
    assert f.status is Status.FAIL and "protocol 1" in f.summary
    assert any(store.artefacts[a].data.startswith(b"SSH-1.5") for a in f.artefacts)


def test_ssh199_is_protocol_1_and_2():
    with scripted_peer(_ssh199_then_close) as port:
        scan = ssh_kexinit.read_kexinit(connector(port), timeout=2)
        f = one(check_service("ssh_algorithms", port, "ssh")[0])
    assert scan.banner.supports_v1 and scan.banner.supports_v2
    assert f.status is Status.FAIL  # protocol 1 alone fails, even though KEXINIT never came


@pytest.mark.parametrize("behaviour,words", [
    (_endless_prebanner, "no SSH identification string within"),
    (_long_line, "longer than"),
    (_bad_packet, "packet length"),
    (_ssh_stall, "stalled"),
])
def test_ssh_reader_against_hostile_peers(behaviour, words):
    with scripted_peer(behaviour) as port:
        t0 = time.monotonic()
        scan = ssh_kexinit.read_kexinit(connector(port), timeout=1.5)
        f = one(check_service("ssh_algorithms", port, "ssh")[0])
    assert time.monotonic() - t0 < 8
    assert scan.reason_code == "device-misbehaved" and words in scan.error, scan.error
    assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.DEVICE_MISBEHAVED
