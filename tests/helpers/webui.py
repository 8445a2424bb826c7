"""Router- and camera-style web UIs on 127.0.0.1: lighttpd serving the pages and scripts, and the
lab's login-handler CGI (probe/lab/templates/www/soho-router/cgi-bin/webui.py) answering the
login page (a fresh one-time token per GET) and the login API, as the firmware's handler does.

Each builder returns the port of a web UI showing one way real products reach and run their
login; the paths and field names differ from the lab variant's on purpose, so that a test that
passes proves a pattern, not one device's names.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tests.helpers.daemons import REPO_ROOT, LocalDaemons

WEBUI_CGI = REPO_ROOT / "probe/lab/templates/www/soho-router/cgi-bin/webui.py"
CGI_CONF = ['server.modules += ("mod_cgi", "mod_rewrite")', 'cgi.assign = (".py" => "/usr/bin/python3")',
            'static-file.exclude-extensions = (".py")']

SPA_INDEX = """<!DOCTYPE html><html><head><title>Gateway</title>
<script>if (top.location.href == "about:blank") {{ }} top.location.replace("{page}");</script></head>
<body>Loading...</body></html>
"""
SPA_LOGIN = """<!DOCTYPE html><html><head><title>Gateway login</title></head><body>
<input type="hidden" id="{token}" name="{token}" value="@@TOKEN@@">
User <input id="u" type="text"> Password <input id="p" type="password"> <button onclick="go()">Login</button>
<a href="/logout.htm">Log out</a> <a href="/help.htm">Help</a>
<script src="/static/vendor/jquery-3.7.1.min.js"></script>
<script src="/static/js/main.js"></script></body></html>
"""
# the app's own script, with the login call; {password} is how the script sends the password
SPA_SCRIPT = """// gateway UI
var API = {{}};
function go() {{
  var name = $("#u").val(), pw = $("#p").val();
  var tk = $("#{token}").val();
  $.ajax({{url: "{api}", type: "POST", contentType: "application/json",
          data: JSON.stringify({{"user": name, "passwd": {password}, "{token}": tk, "lang": "en"}}),
          success: function (r) {{ if (r.success) {{ location.href = "/static/home.html"; }} }}}});
}}
function reboot() {{ if (confirm("Reboot now?")) {{ location.href = "/cgi-bin/reboot.cgi?now=1"; }} }}
"""
FRAMES_INDEX = '<html><head><meta http-equiv="refresh" content="0; URL=/main.htm"></head><body></body></html>\n'
FRAMESET = ('<html><frameset rows="60,*"><frame src="/top.htm" name="top"><frame src="{page}" name="main">'
            "</frameset></html>\n")
FRAME_LOGIN = """<html><head><title>Camera</title></head><body>@@MESSAGE@@
<form method="post" action="{api}"><input type="hidden" name="{token}" value="@@TOKEN@@">
User <input type="text" name="login_user"> Password <input type="password" name="login_pwd">
<input type="submit" value="Login"></form></body></html>
"""


def web_ui(daemons: LocalDaemons, files: Mapping[str, str], cfg: dict[str, object], page_template: str,
           rewrites: Mapping[str, str]) -> int:
    """lighttpd serving `files`, with the login-handler CGI behind the `rewrites` (URL regex -> CGI)."""
    d = Path(tempfile.mkdtemp(prefix="webui-", dir=daemons.workdir))
    (d / "login.html").write_text(page_template)
    conf = {"state": str(d / "tokens.json"), "page_template": str(d / "login.html"), "home": "/", **cfg}
    (d / "webui.json").write_text(json.dumps(conf))
    cgi = WEBUI_CGI.read_text().replace("@{etc}", str(d))
    rules = ", ".join(f'"{k}" => "/cgi-bin/webui.py"' for k in rewrites)
    return daemons.lighttpd({**files, "/cgi-bin/webui.py": cgi},
                            conf=[*CGI_CONF, f"url.rewrite-once = ({rules})"])


def spa_json_login(daemons: LocalDaemons, password: str, *, password_js: str = "pw", hashed: bool = False,
                   nonce: bool = False, api_literal: bool = True, api_served: bool = True,
                   name_users: bool = False) -> int:
    """/ sends the browser on by script (`top.location.replace`); the login page has no <form>: its
    script (a file, after a jQuery file) posts JSON with the user, the password and a one-time
    token from a hidden input to an API path. `password_js`: how the script sends the password
    (`hex_md5(pw)` with `hashed`, which the handler then expects); `nonce`: every refusal carries
    a fresh value; not `api_literal`: the script builds the API path at run time; not `api_served`:
    nothing answers at the API path the script names (404); `name_users`: a refusal says "Unknown
    user." or "Wrong password."."""
    page, api, token = "/ui/login.html", "/api/v2/user/login", "_tk"
    script = SPA_SCRIPT.format(token=token, api=api, password=password_js)
    if not api_literal:
        script = script.replace(f'"{api}"', "API.base + API.user")
    files = {"/index.html": SPA_INDEX.format(page=page), "/static/js/main.js": script,
             "/static/vendor/jquery-3.7.1.min.js": "/*! jQuery v3.7.1 (stand-in: empty) */\n",
             "/static/home.html": "<html><body>Home</body></html>\n"}
    cfg = {"users": [{"user": "admin", "password": password}], "page": page, "api": api, "encoding": "json",
           "user_field": "user", "password_field": "passwd", "token_field": token,
           "password_hash": "md5" if hashed else "", "failure_nonce": nonce, "name_users": name_users}
    rewrites = {"^/ui/login\\.html(\\?.*)?$": "", **({"^/api/v2/.*$": ""} if api_served else {})}
    return web_ui(daemons, files, cfg, SPA_LOGIN.format(token=token), rewrites)


def frames_form_login(daemons: LocalDaemons, password: str) -> int:
    """/ is a meta refresh to a frameset; the login page in its frame is a classic <form> with a
    hidden one-time token, posted form-encoded; a refusal is the login page again (a new token)."""
    page, api, token = "/login.htm", "/goform/formLogin", "csrf"
    files = {"/index.html": FRAMES_INDEX, "/main.htm": FRAMESET.format(page=page),
             "/top.htm": "<html><body>IP Camera</body></html>\n"}
    cfg = {"users": [{"user": "admin", "password": password}], "page": page, "api": api, "encoding": "form",
           "user_field": "login_user", "password_field": "login_pwd", "token_field": token, "answer": "html"}
    return web_ui(daemons, files, cfg, FRAME_LOGIN.format(api=api, token=token),
                  {"^/login\\.htm(\\?.*)?$": "", "^/goform/.*$": ""})


XHR_LOGIN = """<html><head><title>Router</title><script src="/js/md5.js"></script><script>
function doLogin() {
  var xhr = new XMLHttpRequest();
  xhr.open("POST", "/cgi-bin/auth.cgi", true);
  xhr.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
  xhr.send("username=" + encodeURIComponent(document.getElementById("user").value) +
           "&password=" + hex_md5(document.getElementById("pwd").value) + "&_=" + Date.now());
}
</script></head><body>User <input id="user"> Password <input id="pwd" type="password">
<a href="javascript:doLogin()">Login</a></body></html>
"""


def xhr_concat_login(daemons: LocalDaemons, password: str) -> int:
    """/ answers an HTTP redirect to a static login page whose inline script builds a form-encoded
    body by concatenation and sends md5(password), as older router firmware does."""
    page, api = "/html/login.htm", "/cgi-bin/auth.cgi"
    cfg = {"users": [{"user": "admin", "password": password}], "page": "/unused", "api": api, "encoding": "form",
           "user_field": "username", "password_field": "password", "password_hash": "md5"}
    d = Path(tempfile.mkdtemp(prefix="webui-", dir=daemons.workdir))
    conf = {"state": str(d / "tokens.json"), "page_template": str(d / "unused.html"), "home": "/", **cfg}
    (d / "webui.json").write_text(json.dumps(conf))
    cgi = WEBUI_CGI.read_text().replace("@{etc}", str(d))
    files = {page: XHR_LOGIN, "/js/md5.js": "function hex_md5(s) { /* stand-in */ return s; }\n",
             "/cgi-bin/webui.py": cgi}
    return daemons.lighttpd(files, conf=[*CGI_CONF, 'server.modules += ("mod_redirect")',
                                         'url.redirect = ("^/$" => "/html/login.htm")',
                                         'url.rewrite-once = ("^/cgi-bin/auth\\.cgi$" => "/cgi-bin/webui.py")'])
