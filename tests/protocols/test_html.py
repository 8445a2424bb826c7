"""probe.protocols.html: the one HTML parser, on page fixtures (device markup is often broken).

The crawl and the login search that read real pages through it run against lighttpd in
tests/update/ and tests/auth/.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.protocols import html

ROUTER = """<!DOCTYPE html><html><head><title> ACME
 WR-1000 </title><meta name="Model" content="WR-1000"><meta property="og:title" content="x">
<script src="/a.js"></script><script>var f = '<input type="password" name="p">';</script></head>
<body><a href="/status.html">Status <b>page</b></a><iframe src="/frame.html"></iframe>
<form action="/cgi-bin/login" method="post"><input type="hidden" name="tok" value="1">
<input name="username"><input type="password" name="pwd"><input type="submit" value="Log in"></form>
<input id="orphan" type="password" name="p2"></body></html>"""


def test_router_page() -> None:
    page = html.parse(ROUTER)
    assert page.title == "ACME WR-1000"
    assert ("model", "WR-1000") in page.meta and ("og:title", "x") in page.meta
    assert page.links == [("/status.html", "Status page"), ("/frame.html", ""), ("/cgi-bin/login", "form")]
    assert page.scripts == 2
    login, orphan = page.forms
    assert (login.action, login.method, login.orphan) == ("/cgi-bin/login", "POST", False)
    assert [(i.type, i.name) for i in login.inputs] == [("hidden", "tok"), ("text", "username"),
                                                         ("password", "pwd"), ("submit", "")]
    assert orphan.orphan and orphan.method == "POST" and orphan.inputs == [html.Input("password", "p2", "")]


def test_password_markup_written_by_a_script_counts() -> None:
    script_only = b"<html><script>document.write('<input type=\"password\" name=\"p\">')</script></html>"
    assert html.has_password_markup(script_only)
    assert not any(html.parse(script_only.decode()).forms)  # the parser sees no input: the script is not run
    assert not html.has_password_markup(b"<p>password: type it below</p>")


def test_broken_markup_and_caps() -> None:
    page = html.parse("<html><title>A<title>B</title><a href='x'>" + "<a " * 5000 + "</html>")
    assert page.title.startswith("A")
    many = html.parse("".join(f'<a href="/{i}">{i}</a><meta name="m{i}" content="c">' for i in range(2000)))
    assert len(many.links) == len(many.meta) == html.MAX_ITEMS
    assert html.parse("<title>" + "x" * 10 + "</title>", limit=9).title == "xx"  # read up to the limit only
    assert html.parse("<title>" + "y" * 5000).title == "y" * html.MAX_TITLE


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_parser_is_total_and_bounded(text: str) -> None:
    page = html.parse(text)
    assert len(page.links) <= html.MAX_ITEMS and len(page.forms) <= html.MAX_ITEMS and len(page.title) <= html.MAX_TITLE


def test_redirects_from_meta_refresh_and_scripts() -> None:
    page = html.parse("""<html><head><meta http-equiv="Refresh" content="0; URL='/cgi-bin/login.cgi'">
<script>if (top.location.href == "/x") {} window.location.href = "/webpages/login.html";
top.location.replace('/a.htm'); location = base + "/computed"; document.location.assign("b.asp");</script>
</head><frameset><frame src="/top.htm"><iframe src="/main.htm"></iframe></frameset></html>""")
    assert page.redirects == ["/cgi-bin/login.cgi", "/webpages/login.html", "/a.htm", "b.asp"]
    assert page.frames == ["/top.htm", "/main.htm"]
    assert html.script_redirects("location.href='/x.html'; // location.href == '/y'") == ["/x.html"]
