"""Open data, pictures and consoles (unauthenticated_access) against real daemons on 127.0.0.1:
Samba with and without a guest share, lighttpd with directory listings, WebDAV and a snapshot
endpoint, a socat-served fake debug console and busybox telnetd. Each capability shows its FAIL
with proof and a PASS that is not a false positive."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from probe.discovery import fingerprint as fp
from probe.models import InconclusiveReason, Status
from tests.helpers.checks import artefact_text, one
from tests.helpers.checks import check_service as run_check
from tests.helpers.daemons import LocalDaemons

pytestmark = pytest.mark.usefixtures("lab_tools")

# a 1x1 baseline JPEG (JFIF header, quantisation table, frame, Huffman table, scan, end of image)
JPEG = base64.b64decode("/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP////////////////////////////////////////////////////"
                        "//////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBA"
                        "QABPxA=") + b"\xff\xd9"

# the lab's restricted fake debug shell (runs nothing; `echo` prints its words without evaluating),
# logging every line it receives so a test can prove what probe typed
CONSOLE = (Path(__file__).resolve().parents[2] / "probe/lab/templates/console/debug-shell.sh").read_text()


def logging_console(log: Path, *, silent: bool = False, login: bool = False) -> str:
    script = CONSOLE.replace("@{firmware}", "test")
    script = script.replace('  n=$((n + 1))\n', f'  n=$((n + 1))\n  printf "%s\\n" "$line" >> {log}\n')
    if silent:  # prints nothing until it receives a line (consoles that wait for Enter)
        script = script.replace("printf '\\nBusyBox", "IFS= read -r -t 20 first || exit 0\nprintf '\\nBusyBox")
    if login:
        script = script.replace("n=0\n", "printf 'debug login: '\nIFS= read -r -t 20 u || exit 0\nexit 0\nn=0\n")
    return script


# -- SMB ------------------------------------------------------------------------------------

def test_samba_guest_share_fails_with_file_list(daemons: LocalDaemons) -> None:
    port = daemons.samba(guest=True)
    f, store = run_check("unauthenticated_access", port, "smb")
    f = one(f)
    assert f.status is Status.FAIL and f.severity == "high"
    media = next(s for s in f.details["shares"] if s["name"] == "media")
    assert sorted(media["listed"]) == ["holiday.mp4", "notes.txt"]
    assert "holiday.mp4" in artefact_text(store, f)


def test_samba_without_guest_passes(daemons: LocalDaemons) -> None:
    port = daemons.samba(guest=False)
    f, _ = run_check("unauthenticated_access", port, "smb")
    f = one(f)
    # Samba still accepts a null session with `restrict anonymous = 2`, but refuses it the share list
    assert f.status is Status.PASS and f.details["share_list_error"] == "STATUS_ACCESS_DENIED"
    assert not any(s["listed"] for s in f.details["shares"])


def test_smb_identified_on_its_port_and_an_odd_one(daemons: LocalDaemons) -> None:
    port = daemons.samba(guest=False)
    f = fp.fingerprint("127.0.0.1", port, timeout=1.0)
    assert (f.protocol, f.confidence, f.banner_kind) == ("smb", "handshake", "smb-probe")
    assert f.version and f.version.startswith("SMB ") and f.tried[-1] == "smb"
    assert fp.probe_order(445)[0] == "smb" and fp.probe_order(139)[0] == "smb"


def test_nothing_listening_is_inconclusive_never_pass() -> None:
    from tests.helpers.ports import free_port
    f, _ = run_check("unauthenticated_access", free_port(), "smb")
    assert one(f).reason_code is InconclusiveReason.CONNECTIVITY


# -- consoles -------------------------------------------------------------------------------

def test_console_without_login_fails_and_only_newline_and_echo_were_typed(daemons: LocalDaemons,
                                                                        tmp_path: Path) -> None:
    log = tmp_path / "typed.log"
    port = daemons.console(logging_console(log))
    found = fp.fingerprint("127.0.0.1", port)
    assert (found.protocol, found.banner_kind, found.tried) == ("console", "greeting", ("greeting",))
    f, store = run_check("unauthenticated_access", port, "console")
    f = one(f)
    assert f.status is Status.FAIL and f.severity == "critical" and f.details["outcome"] == "executes"
    token = f.details["token"]
    assert token in artefact_text(store, f)
    typed = log.read_text().splitlines()
    assert typed[0] == "" and len(typed) == 2 and typed[1].startswith("echo ") and token not in typed[1]
    assert typed[1].replace("''", "") == f"echo {token}"


def test_silent_console_found_by_one_empty_line(daemons: LocalDaemons, tmp_path: Path) -> None:
    log = tmp_path / "typed.log"
    port = daemons.console(logging_console(log, silent=True))
    found = fp.fingerprint("127.0.0.1", port, timeout=1.0)
    assert (found.protocol, found.banner_kind) == ("console", "newline-probe")
    assert found.tried == ("greeting", "newline")  # nothing else (no TLS, HTTP, MQTT) went to the shell
    assert not log.exists() or log.read_text() == ""  # the empty line was the silent console's own first read


def test_console_that_asks_for_a_login_passes(daemons: LocalDaemons, tmp_path: Path) -> None:
    port = daemons.console(logging_console(tmp_path / "typed.log", login=True))
    f, _ = run_check("unauthenticated_access", port, "console")
    assert one(f).status is Status.PASS


def test_telnet_backdoor_shell_fails(daemons: LocalDaemons, tmp_path: Path) -> None:
    sh = tmp_path / "shell.sh"
    sh.write_text(logging_console(tmp_path / "typed.log"))
    sh.chmod(0o755)
    tmp_path.chmod(0o755)
    port = daemons.telnetd(str(sh))
    f, store = run_check("unauthenticated_access", port, "telnet")
    f = one(f)
    assert f.status is Status.FAIL and f.details["outcome"] == "executes"
    assert "\\xff\\xfd" in artefact_text(store, f) or "\\xff\\xfb" in artefact_text(store, f)  # real telnet


def test_telnet_with_login_prompt_passes(daemons: LocalDaemons) -> None:
    port = daemons.telnetd_login()
    f, _ = run_check("unauthenticated_access", port, "telnet")
    f = one(f)
    assert f.status is Status.PASS and f.details["outcome"] == "login"


# -- web: listings, WebDAV, snapshots -------------------------------------------------------

def _nas_files() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {"/index.html": "<html><head><title>Storage</title></head><body>"
                                                    "<a href=\"/media/\">Media</a></body></html>\n"}
    for i in range(3):
        files[f"/media/album{i}/track{i}.txt"] = f"track {i}\n"
    files["/media/readme.txt"] = "family photos\n"
    # a deep tree: the crawl must stop at its depth and page caps
    deep = "/media/deep"
    for level in range(8):
        deep += f"/l{level}"
        files[f"{deep}/f.txt"] = "x\n"
    return files


def test_directory_listing_on_odd_port_fails_with_files_fetched(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd(_nas_files(), conf=['server.modules += ("mod_dirlisting")',
                                                '$HTTP["url"] =~ "^/media/" { dir-listing.activate = "enable" }'])
    f, _ = run_check("unauthenticated_access", port, "http")
    f = one(f)
    assert f.status is Status.FAIL and "directory listing" in f.summary
    listed = [x["path"] for x in f.details["listings"]]
    assert listed[0] == "/media/" and "/media/album0/" in listed
    assert len(listed) <= 12 and not any(p.count("/") > 6 for p in listed)  # page and depth caps held
    fetched = f.details["listing_files"]
    assert 1 <= len(fetched) <= 3 and all(x["status"] == 200 and x["bytes_read"] <= 8192 for x in fetched)


def test_no_listing_passes(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd(_nas_files(), conf=['server.modules += ("mod_dirlisting")'])  # listing off
    f, _ = run_check("unauthenticated_access", port, "http")
    f = one(f)
    assert f.status is Status.PASS and f.details["listings"] == [] and f.details["webdav"] == []


def test_webdav_propfind_open_fails_protected_passes(daemons: LocalDaemons, tmp_path: Path) -> None:
    files = {"/index.html": "<html><body>NAS</body></html>\n", "/dav/movies/film.txt": "film\n"}
    dav = ['server.modules += ("mod_webdav")', '$HTTP["url"] =~ "^/dav/" { webdav.activate = "enable" }']
    port = daemons.lighttpd(files, conf=dav)
    f = one(run_check("unauthenticated_access", port, "http")[0])
    assert f.status is Status.FAIL and "WebDAV" in f.summary
    entry = next(x for x in f.details["webdav"] if x["path"] == "/dav/")
    assert "/dav/movies/" in entry["entries"]

    users = tmp_path / "users"
    users.write_text("nas:K7#q-not-a-default\n")
    port = daemons.lighttpd(files, conf=[*dav, 'server.modules += ("mod_auth", "mod_authn_file")',
                                         'auth.backend = "plain"', f'auth.backend.plain.userfile = "{users}"',
                                         'auth.require = ("/dav/" => ("method" => "basic", "realm" => "nas", '
                                         '"require" => "valid-user"))'])
    f = one(run_check("unauthenticated_access", port, "http")[0])
    assert f.status is Status.PASS and "/dav/" in f.details["protected_data_paths"]


def test_snapshot_image_without_login_fails(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd({"/index.html": "<html><body>Camera</body></html>\n", "/tmpfs/snap.jpg": JPEG})
    f = one(run_check("unauthenticated_access", port, "http")[0])
    assert f.status is Status.FAIL and "camera pictures" in f.title
    assert f.details["media"][0] == {**f.details["media"][0], "path": "/tmpfs/snap.jpg", "kind": "image/jpeg"}


def test_image_bytes_labelled_html_or_protected_snapshot_pass(daemons: LocalDaemons, tmp_path: Path) -> None:
    # JPEG bytes labelled as something else (application/json here) are not a picture: no false positive
    port = daemons.lighttpd({"/index.html": "<html><body>Camera</body></html>\n", "/snapshot.cgi": JPEG})
    assert one(run_check("unauthenticated_access", port, "http")[0]).status is Status.PASS
    users = tmp_path / "users"
    users.write_text("admin:K7#q-not-a-default\n")
    port = daemons.lighttpd({"/index.html": "<html><body>Camera</body></html>\n", "/snapshot.jpg": JPEG},
                            conf=['server.modules += ("mod_auth", "mod_authn_file")', 'auth.backend = "plain"',
                                  f'auth.backend.plain.userfile = "{users}"',
                                  'auth.require = ("/snapshot.jpg" => ("method" => "basic", "realm" => "cam", '
                                  '"require" => "valid-user"))'])
    f = one(run_check("unauthenticated_access", port, "http")[0])
    assert f.status is Status.PASS and "/snapshot.jpg" in f.details["protected_data_paths"]


# -- information_exposure -------------------------------------------------------------------

def _device(port: int) -> list:
    from tests.helpers.checks import service
    return [service(port, "http")]


def run_device_check(check_id: str, port: int) -> tuple:
    from probe.engine import run_single_check
    from probe.options import SafetyOptions, ScanOptions
    return run_single_check(check_id, "127.0.0.1", _device(port), ScanOptions(safety=SafetyOptions(timeout=3.0)))


def test_status_endpoint_named_by_login_script_leaks_serial_and_mac(daemons: LocalDaemons) -> None:
    status = ('{"device": {"serialNo": "HV40812345", "lanMac": "02:42:ac:11:00:02"}, "fw": {"version": "2.4.1"}, '
              '"ota": {"server": "https://updates.vendor.example/check"}, "admin_password": "********"}')
    page = ('<html><head><title>Storage</title><script>fetch("/cgi-bin/sysinfo.cgi").then(r => r.json())'
            '</script></head><body>Log in</body></html>\n')
    port = daemons.lighttpd({"/index.html": page, "/cgi-bin/sysinfo.cgi": status})
    f, _ = run_device_check("information_exposure", port)
    f = one(f)
    assert f.status is Status.FAIL and f.severity == "medium"
    assert f.details["categories"] == ["mac", "serial", "update_server"]  # the masked password is not a leak
    assert "/cgi-bin/sysinfo.cgi" in f.details["services"][0]["script_endpoints"]
    assert "HV40812345" in f.summary


def test_version_only_status_passes_and_reports(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd({"/index.html": "<html><body>Hello</body></html>\n",
                             "/status.json": '{"firmware_version": "1.2.3", "uptime": 12}'})
    f = one(run_device_check("information_exposure", port)[0])
    assert f.status is Status.PASS and f.details["categories"] == ["firmware"]


def test_cgi_variables_with_secret_fail_high(daemons: LocalDaemons) -> None:
    cgi = "var id='00E0F8A1B2C3';\nvar sys_ver='11.37.2.49';\nvar wifi_key='sunshine2024';\n"
    port = daemons.lighttpd({"/index.html": "<html><body>Camera</body></html>\n", "/get_status.cgi": cgi})
    f = one(run_device_check("information_exposure", port)[0])
    assert f.status is Status.FAIL and f.severity == "high" and "secret" in f.details["categories"]
    assert "sunshine2024" not in str(f.details)  # redacted in the finding; the raw answer is the artefact


# -- service_inventory: unidentified services -----------------------------------------------

def test_unidentified_binary_service_is_listed_and_blocks_pass(daemons: LocalDaemons) -> None:
    from probe.discovery import discover
    from probe.options import DiscoveryOptions, SafetyOptions, ScanMethod, ScanOptions
    from probe.session import TargetSession
    from probe.store import EvidenceStore
    from tests.helpers.checks import one as only
    port = daemons.console("#!/bin/bash\nprintf '\\x00\\x00\\x00\\x18\\xa5\\x5aHV\\x01\\x02'\n"
                           "IFS= read -r -t 5 _ || true\n")
    opts = ScanOptions(safety=SafetyOptions(timeout=1.0),
                       discovery=DiscoveryOptions(method=ScanMethod.CONNECT, use_nmap=False, tcp_ports=(port,)))
    from probe.engine import make_context
    from probe.plugins import registry
    session = TargetSession("127.0.0.1", opts, EvidenceStore())
    discover(session, (port,), ())
    check = registry()["service_inventory"]
    f = only(list(check().run(make_context(session, check.metadata, services=session.store.snapshot()[0]))))
    assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.UNSUPPORTED
    u = f.details["unidentified"][0]
    assert u["port"] == port and u["first_bytes_hex"].startswith("00000018a55a4856")
    assert u["first_bytes_text"].startswith("\\x00\\x00\\x00\\x18\\xa5ZHV")
    assert u["probes_tried"][0] == "greeting" and "tls" in u["probes_tried"] and "smb" in u["probes_tried"]


def test_mjpeg_stream_without_login_fails(daemons: LocalDaemons) -> None:
    # what an MJPEG camera sends: a multipart/x-mixed-replace body, one JPEG frame per part
    frame = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(JPEG) + JPEG + b"\r\n"
    port = daemons.lighttpd({"/index.html": "<html><body>Camera</body></html>\n", "/video.mjpg": frame * 3})
    f = one(run_check("unauthenticated_access", port, "http")[0])
    assert f.status is Status.FAIL and f.details["media"][0]["kind"] == "mjpeg-stream"


# A router's script-only login page (no <form>: the app's script posts the login as JSON), at an
# admin path, showing the words a management page shows too ("Wireless", "Firmware", "Settings"):
# a login, not an open management page. The open settings page beside it, whose script saves
# Wi-Fi settings (a key, no login), is one.
SCRIPT_LOGIN_PAGE = """<!DOCTYPE html><html><head><title>Wireless Router - Settings</title></head><body>
<h1>Wireless Router</h1><p>Firmware version 2.1.4</p>
User <input id="u" type="text"> Password <input id="p" type="password"> <button onclick="go()">Log in</button>
<script src="/static/js/app.js"></script></body></html>
"""
SCRIPT_LOGIN_JS = """function go() {
  $.ajax({url: "/api/v1/login", type: "POST", contentType: "application/json",
          data: JSON.stringify({"username": $("#u").val(), "password": $("#p").val()})});
}
"""
OPEN_SETTINGS_PAGE = """<html><head><title>Wireless settings</title></head><body><h1>Wireless settings</h1>
SSID <input id="ssid" value="home-5G"> WPA key <input id="key" type="password" value="x">
<button onclick="save()">Save configuration</button> Firmware upgrade | Reboot
<script src="/static/js/wifi.js"></script></body></html>
"""
WIFI_JS = """function save() {
  $.ajax({url: "/api/v1/wifi", type: "POST", contentType: "application/json",
          data: JSON.stringify({"ssid": $("#ssid").val(), "wpa_key": $("#key").val()})});
}
"""


@pytest.mark.parametrize("settings_open", [False, True])
def test_script_only_login_page_is_a_login_not_an_open_page(daemons: LocalDaemons, settings_open: bool) -> None:
    files = {"/index.html": "<html><body>Welcome</body></html>\n", "/admin/index.html": SCRIPT_LOGIN_PAGE,
             "/static/js/app.js": SCRIPT_LOGIN_JS}
    if settings_open:
        files |= {"/settings/index.html": OPEN_SETTINGS_PAGE, "/static/js/wifi.js": WIFI_JS}
    port = daemons.lighttpd(files)
    f = one(run_check("unauthenticated_access", port, "http")[0])
    open_paths = [p["path"] for p in f.details["open"]]
    assert "/admin/" in f.details["protected_paths"] and "/admin/" not in open_paths, f.details
    if settings_open:
        assert f.status is Status.FAIL and open_paths == ["/settings"], f  # /settings -> /settings/
    else:
        assert f.status is Status.PASS, f
