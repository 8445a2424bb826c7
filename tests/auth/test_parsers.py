"""Unit tests of the protocol parsers with plain byte inputs (no network)."""

from __future__ import annotations

import re

import pytest

from probe.errors import UserError
from probe.protocols import http, http_auth, mqtt, snmp, telnet
from probe.protocols.transcript import Transcript, escape
from probe.services.credentials import builtin, for_service, parse
from tests.helpers.wire import NETSNMP_V3_REPORT

IAC, DO, WILL, SB, SE = 255, 253, 251, 250, 240


def test_telnet_parser_strips_negotiation_across_reads() -> None:
    p = telnet.TelnetParser()
    d1, n1, _ = p.feed(bytes([IAC, DO, 1, ord("a"), IAC]))
    d2, n2, _ = p.feed(bytes([WILL]))
    d3, n3, _ = p.feed(bytes([3]) + b"login: " + bytes([IAC, IAC]))
    assert d1 + d2 + d3 == b"alogin: \xff"
    assert n1 + n2 + n3 == [(DO, 1), (WILL, 3)]


def test_telnet_subnegotiation_is_capped_and_removed() -> None:
    p = telnet.TelnetParser()
    data, _, subs = p.feed(bytes([IAC, SB, 24]) + b"x" * 5000 + bytes([IAC, SE]) + b"ok")
    assert data == b"ok"
    assert len(subs) == 1 and len(subs[0]) == telnet.MAX_SUBNEG


def test_telnet_option_flood_gets_bounded_replies() -> None:
    n = telnet.Negotiator(max_replies=10)
    replies = [n.respond(DO, opt % 256) for opt in range(1000)] + [n.respond(DO, 1) for _ in range(100)]
    assert sum(1 for r in replies if r) == 10
    assert telnet.Negotiator().respond(WILL, telnet.OPT_ECHO) == bytes([IAC, telnet.DO, 1])
    assert telnet.Negotiator().respond(WILL, 31) == bytes([IAC, telnet.DONT, 31])
    assert telnet.Negotiator().respond(DO, 24) == bytes([IAC, telnet.WONT, 24])


@pytest.mark.parametrize("text,pattern", [
    (b"\r\nrouter login: ", telnet.LOGIN_RE), (b"Username:", telnet.LOGIN_RE),
    (b"Password: ", telnet.PASSWORD_RE), (b"BusyBox\r\n~ # ", telnet.SHELL_RE), (b"user@cam:~$ ", telnet.SHELL_RE),
])
def test_telnet_prompts(text: bytes, pattern: re.Pattern[bytes]) -> None:
    assert pattern.search(telnet.clean(text))


def test_shell_prompt_needs_to_be_last() -> None:
    assert not telnet.SHELL_RE.search(b"####### banner #######\r\n")


def test_ber_get_request_matches_net_snmp_encoding() -> None:
    # snmpget -v2c -c public ... sysDescr.0 with request id 1234 encodes exactly like this
    msg = snmp.message(snmp.V2C, b"public", snmp.GET, 1234, snmp.SYS_DESCR)
    assert msg.hex() == "302702010104067075626c6963a01a020204d2020100020100300e300c06082b060102010101000500"


def test_ber_response_parse() -> None:
    value = snmp.tlv(0x04, b"Linux box")
    vb = snmp.tlv(0x30, snmp.tlv(0x30, snmp.enc_oid(snmp.SYS_DESCR) + value))
    pdu = snmp.tlv(snmp.RESPONSE, snmp.enc_int(7) + snmp.enc_int(0) + snmp.enc_int(0) + vb)
    reply = snmp.parse_message(snmp.tlv(0x30, snmp.enc_int(1) + snmp.tlv(0x04, b"public") + pdu))
    assert reply.request_id == 7 and reply.error == "noError"
    assert reply.varbinds == ((snmp.SYS_DESCR, "OCTET STRING", b"Linux box"),)
    assert snmp.dec_oid(snmp.enc_oid("1.3.6.1.4.1.99999.300")[2:]) == "1.3.6.1.4.1.99999.300"
    assert snmp.enc_len(300) == b"\x82\x01\x2c"


@pytest.mark.parametrize("bad", [b"", b"\x30", b"\x30\x05\x02\x01", b"\x30\x84\xff\xff\xff\xff", b"\x04\x00"])
def test_ber_rejects_malformed(bad: bytes) -> None:
    with pytest.raises(snmp.BERError):
        snmp.parse_message(bad)


def test_snmpv3_report_parse() -> None:
    r = snmp.parse_v3_message(NETSNMP_V3_REPORT)
    assert r.msg_id == 0x2FFB3246 and r.pdu_type == snmp.REPORT
    assert r.engine_id.hex() == "80001f88802bc2d74937650f6b00000000" and r.enterprise == 8072
    assert (r.boots, r.time, r.report) == (1, 7, "usmStatsUnknownEngineIDs")
    msg = snmp.v3_discovery_message(0x2FFB3246)
    # what net-snmp's own client sends for discovery, but for the request id inside the PDU
    assert msg[:17] == NETSNMP_V3_REPORT[:2].replace(b"\x71", b"\x3e") + NETSNMP_V3_REPORT[2:17]
    assert snmp.parse_v3_message(msg).report == ""  # a request names no report


@pytest.mark.parametrize("cut", [1, 10, 30, 60, 100])
def test_snmpv3_parse_rejects_truncation(cut: int) -> None:
    with pytest.raises(snmp.BERError):
        snmp.parse_v3_message(NETSNMP_V3_REPORT[:cut])


def test_mqtt_packets() -> None:
    assert mqtt.encode_length(0) == b"\x00" and mqtt.encode_length(321) == b"\xc1\x02"
    pkt = mqtt.connect_packet("c", "u", "p")
    assert pkt[0] == 0x10 and pkt[2:8] == b"\x00\x04MQTT" and pkt[8] == 4 and pkt[9] == 0xC2
    assert mqtt.subscribe_packet(1, "a/b") == b"\x82\x08\x00\x01\x00\x03a/b\x00"


def test_digest_rfc7616_examples() -> None:
    ch = {"realm": "http-auth@example.org", "qop": "auth, auth-int", "algorithm": "MD5",
          "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
          "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"}
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    md5 = http_auth.digest_header(ch, "Mufasa", "Circle of Life", "GET", "/dir/index.html", cnonce=cnonce)
    assert 'response="8ca523f5e9506fed4657c9700eebdbec"' in md5
    sha = http_auth.digest_header({**ch, "algorithm": "SHA-256"}, "Mufasa", "Circle of Life", "GET",
                                  "/dir/index.html", cnonce=cnonce)
    assert 'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"' in sha


def test_challenge_parsing() -> None:
    got = http_auth.parse_challenges(['Digest realm="a, b", nonce="n", qop="auth", Basic realm="x"'])
    assert got == [("digest", {"realm": "a, b", "nonce": "n", "qop": "auth"}), ("basic", {"realm": "x"})]


def test_form_detection() -> None:
    page = b"""<form action="/cgi-bin/login" method="post"><input type="hidden" name="tok" value="1">
    <input name="username"><input type="password" name="pwd"></form>"""
    forms, orphan, _ = http_auth.find_forms(page)
    assert forms == [http_auth.Form("/cgi-bin/login", "POST", "username", "pwd", {"tok": "1"})] and not orphan


def test_http_response_parsing_chunked() -> None:
    assert http.dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") == (b"abcde", True)
    status, _, headers = http.parse_head(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=x")
    assert status == 401 and headers == [("WWW-Authenticate", "Basic realm=x")]


def test_transcript_escapes_and_redacts() -> None:
    t = Transcript("telnet", "127.0.0.1", 23, secrets=(b"s3cret",))
    t.sent(b"s3cret\r\n")
    t.received(b"\x1b[31m\\ok")
    text = t.text()
    assert "s3cret" not in text and "<redacted>" in text and "\\x1b[31m\\\\ok" in text
    assert escape(b"\x00\xff") == "\\x00\\xff"


def test_builtin_credentials_ordered_and_sourced() -> None:
    rows = builtin()
    assert 40 <= len(rows) <= 80
    assert all(r.source for r in rows)
    first = [(c.username, c.password) for c in for_service("telnet")[:6]]
    assert first == [("admin", "admin"), ("root", "root"), ("admin", "password"), ("admin", "1234"),
                     ("admin", "12345"), ("root", "")]
    assert [c.password for c in for_service("snmp")] == ["public", "private"]
    assert not any("nmap" in r.source.lower() or "changeme" in r.source.lower() for r in rows)


@pytest.mark.parametrize("text,line", [
    ("service,username,password\nssh,root\n", 2),
    ("service,username,password,source,rank\nssh,a,b,c,1\nbogus,a,b,c,1\n", 3),
    ("service,username,password,source,rank\nssh,a,b,c,x\n", 2),
    ("user,pass\n", 1),
])
def test_malformed_credential_file_names_line(text: str, line: int) -> None:
    with pytest.raises(UserError, match=rf"creds\.csv:{line}:"):
        parse(text, "creds.csv", secret=True)
