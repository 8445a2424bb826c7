#!/usr/bin/python3 -I
"""probe lab stand-in: a router web UI's login handler, the way single-page router UIs do it.

lighttpd serves the static pages and scripts; this CGI answers the two dynamic paths of the
login (from the configuration file CONFIG, which names them):

- GET of the login page: the page template with a fresh one-time token written into it (a
  `<meta name="csrf-token">` or a hidden input, as the template puts it);
- any other path under the API: 401 (the views after the login are not part of this stand-in);
- POST of the login API: a JSON body (or a form) with the user name, the password and that token.
  A right login answers `{"success": true, ...}` with a session cookie; anything else the same
  "invalid" answer (its time stamp aside). A token is good for one login only. With `"answer":
  "html"` (a classic form login) it answers the status page, or the login page again.

It keeps no failure count and changes nothing on the device but its token list (state file).
"""

import hashlib
import json
import os
import secrets
import sys
import time
from urllib.parse import parse_qsl

CONFIG = "@{etc}/webui.json"
MAX_TOKENS = 64


def respond(status: str, ctype: str, body: str, headers: tuple[str, ...] = ()) -> None:
    out = [f"Status: {status}", f"Content-Type: {ctype}", "Cache-Control: no-store", *headers]
    sys.stdout.write("\r\n".join(out) + "\r\n\r\n" + body)
    sys.stdout.flush()


def tokens(cfg: dict, add: str | None = None, take: str | None = None) -> bool:
    """Add a token to the state file, or take one out (True when it was there)."""
    path = cfg["state"]
    try:
        with open(path, encoding="utf-8") as fh:
            known = json.load(fh)
    except (OSError, ValueError):
        known = []
    found = take is not None and take in known
    if found:
        known.remove(take)
    if add:
        known = (known + [add])[-MAX_TOKENS:]
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(known, fh)
    os.replace(tmp, path)
    return found


def login_page(cfg: dict, message: str = "") -> None:
    token = secrets.token_hex(12)
    if cfg.get("token_field"):
        tokens(cfg, add=token)
    with open(cfg["page_template"], encoding="utf-8") as fh:
        page = fh.read().replace("@@TOKEN@@", token).replace("@@MESSAGE@@", message)
    respond("200 OK", "text/html; charset=utf-8", page)


def login(cfg: dict) -> None:
    raw = sys.stdin.read(min(int(os.environ.get("CONTENT_LENGTH") or 0), 65536))
    try:
        fields = json.loads(raw) if cfg["encoding"] == "json" else dict(parse_qsl(raw, keep_blank_values=True))
    except ValueError:
        fields = {}
    if not isinstance(fields, dict):
        fields = {}
    password = str(fields.get(cfg["password_field"], ""))
    if cfg.get("password_hash") == "md5":  # the page's script sends md5(password)
        expected = {u["user"]: hashlib.md5(u["password"].encode()).hexdigest() for u in cfg["users"]}
    else:
        expected = {u["user"]: u["password"] for u in cfg["users"]}
    user = str(fields.get(cfg["user_field"], "")) if cfg.get("user_field") else cfg["users"][0]["user"]
    token_ok = not cfg.get("token_field") or tokens(cfg, take=str(fields.get(cfg["token_field"], "")))
    ok = token_ok and user in expected and secrets.compare_digest(expected[user], password)
    if cfg.get("answer") == "html":  # a form login: the status page, or the login page again
        if ok:
            respond("200 OK", "text/html; charset=utf-8", "<html><body><h1>Status</h1><p>WAN connected</p>"
                    f"<p>Session {secrets.token_hex(16)}</p></body></html>\n",
                    (f"Set-Cookie: sysauth={secrets.token_hex(16)}; Path=/; HttpOnly",))
        else:
            login_page(cfg, "<p class=\"error\">Invalid user name or password.</p>")
        return
    if ok:
        session = secrets.token_hex(16)
        body = {"success": True, "data": {"stok": session, "role": "admin", "redirect": cfg["home"]}}
        respond("200 OK", "application/json", json.dumps(body), (f"Set-Cookie: sysauth={session}; Path=/; HttpOnly",))
        return
    msg = "Invalid user name or password."
    if cfg.get("name_users"):  # a handler that tells an unknown user from a wrong password
        msg = "Wrong password." if user in expected else "Unknown user."
    body = {"success": False, "errorcode": "login failed", "msg": msg, "time": int(time.time() * 1000)}
    if cfg.get("failure_nonce"):  # a device that puts a fresh value in every refusal
        body["attempt_id"] = secrets.token_hex(2) + str(os.getpid())[-2:]
    respond("200 OK", "application/json", json.dumps(body))


def main() -> None:
    with open(CONFIG, encoding="utf-8") as fh:
        cfg = json.load(fh)
    path = os.environ.get("REQUEST_URI", "/").split("?", 1)[0]
    method = os.environ.get("REQUEST_METHOD", "GET")
    if path == cfg["page"] and method in ("GET", "HEAD"):
        login_page(cfg)
    elif path == cfg["api"] and method == "POST":
        login(cfg)
    elif path == cfg["api"]:
        respond("405 Method Not Allowed", "application/json", json.dumps({"success": False, "msg": "not allowed"}),
                ("Allow: POST",))
    else:  # every other API call needs the session this stand-in never checks: none is served
        respond("401 Unauthorized", "application/json", json.dumps({"success": False, "errorcode": "timeout",
                                                                    "msg": "Please log in."}))


if __name__ == "__main__":
    main()
