"""Web UI content for the update, model and declaration tests: what a home gateway's admin UI
shows (title, model meta tag, firmware page, a JSON version API with its update URL)."""

from __future__ import annotations

import json
from pathlib import Path


def admin_ui(update_url: str, *, firmware_link: bool = True, extra_link: str | None = None) -> dict[str, str]:
    links = ['<a href="/status.html">Status</a>']
    if firmware_link:
        links.append('<a href="/system/firmware.html">Firmware upgrade</a>')
    if extra_link:
        links.append(f'<a href="{extra_link}">Download the latest firmware</a>')
    index = ("<!DOCTYPE html><html><head><title>EX-GW1000 Home Gateway</title>"
             '<meta name="model" content="EX-GW1000"></head><body>'
             + " | ".join(links) + "</body></html>")
    return {
        "/index.html": index,
        "/status.html": "<html><head><title>Status</title></head><body>Firmware Version: 1.2.3</body></html>",
        "/system/firmware.html": "<html><head><title>Firmware upgrade</title></head><body>"
                                 '<form action="/cgi-bin/upload" method="post"><input type="file"></form>'
                                 "</body></html>",
        "/api/version": json.dumps({"model": "EX-GW1000", "firmware_version": "1.2.3", "update_url": update_url}),
    }


def basic_auth_conf(directory: Path, prefix: str = "/admin/") -> list[str]:
    """lighttpd lines putting `prefix` behind HTTP Basic (a user with a strong password)."""
    users = directory / "webusers"
    users.write_text("owner:Zq8-unique-device-password\n")
    return ['server.modules += ("mod_auth", "mod_authn_file")', 'auth.backend = "plain"',
            f'auth.backend.plain.userfile = "{users}"',
            f'auth.require = ("{prefix}" => ("method" => "basic", "realm" => "device", "require" => "valid-user"))']
