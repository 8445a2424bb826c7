#!/usr/bin/python3 -I
"""probe lab stand-in: the hardened gateway's admin login, with throttling and lockout.

lighttpd's mod_auth cannot count failures, so this small CGI does HTTP basic auth itself (over
HTTPS only; port 80 redirects) and keeps per-client failure counts in a flock'ed JSON file:
each failure costs a short delay, and `max_failures` within `window` seconds lock that client out
for `lock_seconds` (HTTP 429 with Retry-After, even for the right password). The numbers come from
the variant's params.
"""

import base64
import fcntl
import hmac
import json
import os
import sys
import time

CONFIG = "@{etc}/admin-auth.json"
FAILURE_DELAY = 0.5


def respond(status: str, headers: dict, body: str) -> None:
    out = [f"Status: {status}", "Content-Type: text/html; charset=utf-8", "Cache-Control: no-store"]
    out += [f"{k}: {v}" for k, v in headers.items()]
    sys.stdout.write("\r\n".join(out) + "\r\n\r\n" + body)
    sys.stdout.flush()


def page(title: str, text: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"</head><body><h1>{title}</h1><p>{text}</p></body></html>\n")


def credentials() -> tuple[str, str] | None:
    header = os.environ.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def main() -> None:
    with open(CONFIG, encoding="utf-8") as fh:
        cfg = json.load(fh)
    client = os.environ.get("REMOTE_ADDR", "?")
    challenge = {"WWW-Authenticate": f'Basic realm="{cfg["realm"]}", charset="UTF-8"'}
    with open(cfg["state"], "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        try:
            state = json.loads(fh.read() or "{}")
        except ValueError:
            state = {}
        now = time.time()
        entry = state.get(client, {"fails": [], "locked_until": 0})
        if now < entry["locked_until"]:
            wait = int(entry["locked_until"] - now) + 1
            respond("429 Too Many Requests", {"Retry-After": str(wait)},
                    page("Locked", f"Too many failed logins. Try again in {wait} seconds."))
            return
        given = credentials()
        ok = given is not None and hmac.compare_digest(given[0].encode(), cfg["user"].encode()) \
            and hmac.compare_digest(given[1].encode(), cfg["password"].encode())
        if ok:
            state.pop(client, None)
        elif given is not None:
            entry["fails"] = [t for t in entry["fails"] if now - t < cfg["window"]] + [now]
            if len(entry["fails"]) >= cfg["max_failures"]:
                entry = {"fails": [], "locked_until": now + cfg["lock_seconds"]}
            state[client] = entry
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(state))
    if ok:
        respond("200 OK", {}, page(f"{cfg['model']} - Administration",
                                   "Logged in. <a href=\"/update.html\">Firmware update</a>"))
        return
    if given is not None:
        time.sleep(FAILURE_DELAY)
    respond("401 Unauthorized", challenge, page("Login required", "Please log in."))


main()
