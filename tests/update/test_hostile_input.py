"""Parsers of device input never crash on garbage (hypothesis), and never expand hostile XML."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.protocols import html, http, securitytxt
from probe.services import upnp, web


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_security_txt_parser_total(text: str) -> None:
    out = securitytxt.parse(text)
    assert isinstance(out.valid, bool)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_http_response_parser_total(raw: bytes) -> None:
    try:
        r = http.parse_response(b"HTTP/1.1 200 OK\r\n" + raw, "GET", 4096)
    except ValueError:
        return  # no complete head: the documented refusal
    assert r.status == 200 and len(r.body) <= 4096


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_description_parser_raises_only_valueerror(raw: bytes) -> None:
    try:
        upnp.parse_description(b"<root>" + raw, "http://127.0.0.1/")
    except ValueError:
        pass


def test_html_page_parser_survives_broken_markup() -> None:
    p = html.parse("<html><title>A<title>B</title><a href='x'>" + "<a " * 5000 + "</html>")
    assert p.title.startswith("A")
    assert web.resolve_link("http://127.0.0.1/a/", "javascript:alert(1)") is None
    assert web.resolve_link("http://127.0.0.1/a/", "../up.html") == "http://127.0.0.1/up.html"
    assert not web.same_host("http://localhost/x", "127.0.0.1")  # names are never resolved
    assert web.same_host("https://[::1]:8443/x", "::1")
