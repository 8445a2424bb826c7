"""probe.protocols.script_login: login calls read from device web UI scripts (the text only; the
same code against lighttpd and a login CGI: tests/auth/test_web_logins.py)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.protocols import script_login as S

FETCH = """function doLogin(){ var u=document.getElementById("user").value, p=document.getElementById("pwd").value;
 fetch("/api/v1/auth/login", {method: "POST", headers: {"Content-Type": "application/json"},
       body: JSON.stringify({username: u, password: p, lang: "en"})}).then(r => r.json()); }"""
JQUERY_FORM = """$("#btn").click(function(){ $.ajax({url: "/cgi-bin/luci/api/auth", type: "POST",
  data: {usr: $("#u").val(), pwd: $("#p").val(), remember: $("#r").is(":checked")}}); });"""
XHR_TOKEN = """var xhr = new XMLHttpRequest(); xhr.open("POST", "/goform/login");
xhr.setRequestHeader("Content-Type", "application/json");
xhr.send(JSON.stringify({"action": "login", "password": pw, "csrf_token": tok}));"""
NAMED = """const API_LOGIN = "/api/session"; function go() { return request(API_LOGIN, {method: "POST",
  body: JSON.stringify({user: name, passwd: pass})}); }"""


def test_fetch_json_login() -> None:
    (login,) = S.find(FETCH)
    assert (login.path, login.method, login.encoding) == ("/api/v1/auth/login", "POST", "json")
    assert (login.user_field, login.password_field, login.constants, login.problem) == \
        ("username", "password", (("lang", "en"),), None)
    body, headers = S.body(login, "admin", "secret", {})
    assert json.loads(body) == {"lang": "en", "username": "admin", "password": "secret"}
    assert headers["Content-Type"] == "application/json"


def test_jquery_object_is_form_encoded_and_unticked_box_sent_false() -> None:
    (login,) = S.find(JQUERY_FORM)
    assert (login.path, login.encoding, login.user_field, login.password_field) == \
        ("/cgi-bin/luci/api/auth", "form", "usr", "pwd")
    body, headers = S.body(login, "admin", "a b", {})
    assert body == b"usr=admin&pwd=a+b&remember=false" and headers["Content-Type"].startswith("application/x-www")


def test_password_only_login_with_token_and_named_path() -> None:
    (login,) = S.find(XHR_TOKEN)
    assert (login.path, login.user_field, login.tokens, login.constants) == \
        ("/goform/login", None, ("csrf_token",), (("action", "login"),))
    (named,) = S.find(NAMED)
    assert (named.path, named.user_field, named.password_field) == ("/api/session", "user", "passwd")


def test_password_hashed_or_encoded_alone_is_reproduced() -> None:
    (direct,) = S.find('$.post("/login.cgi", {username: u, password: hex_md5(p)});')
    (via_var,) = S.find('var h = btoa($("#p").val()); $.post("/login.cgi", {username: u, password: h});')
    assert (direct.transform, direct.problem, via_var.transform, via_var.problem) == ("md5", None, "base64", None)
    assert S.sent_password(direct, "admin") == "21232f297a57a5a743894a0e4a801fc3"
    assert S.sent_password(via_var, "admin") == "YWRtaW4="


def test_salted_keyed_or_unknown_transform_is_a_problem_not_a_guess() -> None:
    for script in ('var h = hex_md5(user + pw + nonce); $.post("/login.cgi", {username: u, password: h});',
                   '$.post("/login.cgi", {username: u, password: encrypt(pw, key)});',
                   'var h = md5(pw); h = md5(h + salt); $.post("/login.cgi", {username: u, password: h});',
                   '$.post("/login.cgi", {username: u, password: myEncode(pw)});'):
        (login,) = S.find(script)
        assert login.transform is None and "cannot reproduce" in (login.problem or ""), script
    (computed,) = S.find('fetch("/api/login", {method: "POST", body: JSON.stringify({password: p, ts: now()})})')
    assert "'ts'" in (computed.problem or "")


def test_settings_changes_are_never_taken_for_a_login() -> None:
    assert S.find('$.post("/api/system/password", {oldPassword: a, newPassword: b});') == []
    assert S.find('fetch("/api/login/set", {method: "POST", body: JSON.stringify({password: p})})') == []
    assert S.find('$.post("/api/wifi", {ssid: s, password: p});') == []  # says nothing of a login
    assert S.find('fetch("/api/auth", {method: "POST", body: JSON.stringify({password: p, confirm: q})})') == []


def test_signature_ignores_session_ids_and_times_only() -> None:
    a = S.signature(200, b'{"success": false, "time": 1764640000123, "sid": "9f2c4e1a77b0d3e5c8a1"}')
    b = S.signature(200, b'{"time": 1764640001999, "sid": "0a1b2c3d4e5f60718293", "success": false}')
    assert a == b
    assert a != S.signature(200, b'{"success": true, "time": 1764640000123, "sid": "9f2c4e1a77b0d3e5c8a1"}')
    assert a != S.signature(401, b'{"success": false, "time": 1764640000123, "sid": "9f2c4e1a77b0d3e5c8a1"}')
    assert S.says_locked(b'{"msg": "Too many attempts, try again in 60 s"}') and not S.says_locked(b'{"ok":0}')


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_any_script_text_is_read_without_error(text: str) -> None:
    for login in S.find(text):
        assert login.path and login.password_field
    S.signature(200, text.encode("utf-8", "replace"))


def test_body_or_query_built_by_concatenation() -> None:
    (post,) = S.find('xhr.open("POST", "/cgi-bin/login.cgi"); xhr.send("username=" + '
                     'encodeURIComponent($("#u").val()) + "&password=" + hex_md5(document.getElementById("p").value)'
                     ' + "&lang=en");')
    assert (post.path, post.method, post.encoding, post.user_field, post.transform, post.constants) == \
        ("/cgi-bin/login.cgi", "POST", "form", "username", "md5", (("lang", "en"),))
    assert S.body(post, "admin", "admin", {})[0] == b"username=admin&password=21232f297a57a5a743894a0e4a801fc3&lang=en"
    (dlink,) = S.find('$.post("/goform/login", "REPORT_METHOD=xml&ACTION=login_plaintext&USER=" + user + '
                      '"&PASSWD=" + pwd);')
    assert S.body(dlink, "admin", "", {})[0] == b"REPORT_METHOD=xml&ACTION=login_plaintext&USER=admin&PASSWD="
    (get,) = S.find('xhr.open("GET", "/login.cgi?user=" + u + "&pass=" + p + "&t=" + Date.now(), true);')
    assert (get.path, get.method, get.clock, get.problem) == ("/login.cgi", "GET", ("t",), None)
    assert S.find('var s = "a=" + b + "&oldpass=" + c + "&newpass=" + d; $.post("/api/login", s);') == []
