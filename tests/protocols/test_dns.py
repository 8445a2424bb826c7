"""probe.protocols.dns: the one DNS/mDNS message builder and parser, on bytes fixtures.

Its client behaviour against a real server is in tests/discovery/test_udp_probe.py (dnsmasq
answering version.bind over UDP) and tests/discovery/test_fingerprint_loopback.py (over TCP).
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.protocols import dns


def _answer(qid: int, question: bytes, *records: bytes) -> bytes:
    return struct.pack("!HHHHHH", qid, 0x8400, 1, len(records), 0, 0) + question + b"".join(records)


def test_query_encoding_matches_the_rfc_layout() -> None:
    q = dns.query(0x1234, "version.bind", dns.TXT, dns.CH)
    # ID, flags 0 (no recursion), 1 question; QNAME labels; QTYPE 16; QCLASS 3
    assert q == bytes.fromhex("123400000001000000000000") + b"\x07version\x04bind\x00" + b"\x00\x10\x00\x03"
    assert dns.query(1, "a.local.", dns.PTR, rd=True)[2:4] == b"\x01\x00"  # RD bit only when asked
    assert dns.tcp_frame(q)[:2] == struct.pack("!H", len(q))


def test_version_bind_txt_answer() -> None:
    question = b"\x07version\x04bind\x00\x00\x10\x00\x03"
    txt = b"\x0bdnsmasq-2.9"
    record = b"\xc0\x0c" + struct.pack("!HHIH", dns.TXT, dns.CH, 0, len(txt)) + txt
    reply = dns.parse_response(_answer(0xBEEF, question, record), 0xBEEF)
    assert reply is not None and reply.rcode == 0
    assert reply.first(dns.TXT) == "dnsmasq-2.9" and reply.first(dns.PTR) is None
    assert dns.parse_tcp_response(dns.tcp_frame(_answer(0xBEEF, question, record)), 0xBEEF) == reply


def test_mdns_ptr_answers_follow_compression() -> None:
    question = dns.encode_name(dns.MDNS_SERVICES) + struct.pack("!HH", dns.PTR, dns.IN)
    # "_http._tcp" + a pointer to "local" inside the question (offset 12 + 1+9 + 1+7 + 1+4 = 35)
    target = b"\x05_http\x04_tcp\xc0\x23"
    rec = b"\xc0\x0c" + struct.pack("!HHIH", dns.PTR, dns.IN, 10, len(target)) + target
    reply = dns.parse_response(_answer(7, question, rec, rec), 7)
    assert reply is not None and reply.all(dns.PTR) == ["_http._tcp.local", "_http._tcp.local"]


def test_not_a_response_wrong_id_or_short_is_none() -> None:
    q = dns.query(5, "version.bind", dns.TXT, dns.CH)
    assert dns.parse_response(q, 5) is None  # a query (QR bit clear) is not an answer
    assert dns.parse_response(b"\x00\x05\x80", 5) is None
    assert dns.parse_tcp_response(b"\x00\x03abc", 5) is None


def test_pointer_loop_is_bounded() -> None:
    # header (response, 1 answer) + answer name that points to itself
    msg = bytes.fromhex("abcd81800000000100000000" "c00c" "000c0001000000000002c00c")
    reply = dns.parse_response(msg, 0xABCD)
    assert reply is not None  # parsed, not hung
    assert dns.parse_response(msg, 0x1111) is None  # wrong id


def test_truncated_answer_keeps_what_came_before() -> None:
    question = b"\x07version\x04bind\x00\x00\x10\x00\x03"
    txt = b"\x03abc"
    good = b"\xc0\x0c" + struct.pack("!HHIH", dns.TXT, dns.CH, 0, len(txt)) + txt
    msg = struct.pack("!HHHHHH", 9, 0x8400, 1, 3, 0, 0) + question + good + b"\xc0\x0c\x00"
    reply = dns.parse_response(msg, 9)
    assert reply is not None and [a.text for a in reply.answers] == ["abc"]


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=8, max_size=600), st.integers(0, 0xFFFF))
def test_parser_is_total_and_bounded(data: bytes, qid: int) -> None:
    reply = dns.parse_response(struct.pack("!HH", qid, 0x8000) + data, qid)  # any body after a response header
    assert reply is not None and len(reply.answers) <= dns.MAX_ANSWERS
