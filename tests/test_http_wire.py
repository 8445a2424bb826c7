"""protocols.http.read_response: where one response ends, on a real socket pair.

The reader must stop at the declared end (Content-Length, the last chunk, no body for HEAD)
without waiting for the peer to close, because devices often keep the connection open; and it
must stop at its byte and time caps whatever the peer does.
"""

from __future__ import annotations

import socket
import time

import pytest

from probe.protocols import http


def _read(wire: bytes, method: str = "GET", timeout: float = 3.0, max_bytes: int = 4096) -> tuple[http.RawRead, float]:
    a, b = socket.socketpair()
    with a, b:
        b.sendall(wire)  # and never closes: only the declared end or a cap may end the read
        start = time.monotonic()
        got = http.read_response(a, method=method, timeout=timeout, max_bytes=max_bytes)
        return got, time.monotonic() - start


def test_content_length_ends_the_read() -> None:
    got, took = _read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    assert not got.timed_out and took < 1
    r = http.parse_response(got.data, "GET", 4096)
    assert r.body == b"hello" and not r.truncated


def test_last_chunk_ends_the_read() -> None:
    got, took = _read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert not got.timed_out and took < 1
    r = http.parse_response(got.data, "GET", 4096)
    assert r.body == b"abcde" and not r.truncated


def test_head_has_no_body() -> None:
    got, took = _read(b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n", method="HEAD")
    assert not got.timed_out and took < 1


def test_unfinished_chunked_body_is_cut_at_the_deadline() -> None:
    got, took = _read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", timeout=0.5)
    assert got.timed_out and 0.4 < took < 2
    r = http.parse_response(got.data, "GET", 4096, cut=got.timed_out)
    assert r.body == b"abc" and r.truncated


def test_body_cap_ends_the_read() -> None:
    got, took = _read(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 10000, max_bytes=1000)
    assert took < 1
    r = http.parse_response(got.data, "GET", 1000)
    assert len(r.body) == 1000 and r.truncated


def test_close_delimited_body_cut_by_time_is_marked() -> None:
    got, _ = _read(b"HTTP/1.0 200 OK\r\n\r\npartial", timeout=0.3)
    assert got.timed_out
    assert http.parse_response(got.data, "GET", 4096, cut=True).truncated


def test_no_bytes_at_all_is_no_response() -> None:
    got, _ = _read(b"", timeout=0.3)
    assert got.data == b"" and got.timed_out
    with pytest.raises(ValueError, match=http.NO_RESPONSE):
        http.parse_response(got.data, "GET", 4096)
