"""update_mechanism and update_channel against a real lighttpd serving a fake admin UI."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Callable

import pytest

from probe.engine import run_single_check
from probe.models import Service
from probe.output.evidence import validate
from tests.helpers.checks import one as _one
from tests.helpers.cli import InProcessCli
from tests.helpers.pki import self_signed
from tests.helpers.ports import free_port
from tests.helpers.sites import admin_ui, basic_auth_conf

Site = Callable[..., int]


def web(port: int, proto: str = "http") -> Service:
    return Service(host="127.0.0.1", port=port, transport="tcp", protocol=proto, method="test",
                   tls=proto == "https")




def test_http_update_url_fails_and_mechanism_is_seen(site: Site) -> None:
    port = free_port()
    site(admin_ui(f"http://127.0.0.1:{port}/fw/check.json"), port=port)
    svc = [web(port)]
    f, store = run_single_check("update_channel", "127.0.0.1", svc)
    f = _one(f)
    assert f.status == "FAIL", f.summary
    assert f.details["update_url"] == f"http://127.0.0.1:{port}/fw/check.json"
    assert f.details["found_as"] == "json:update_url"
    assert any(v["value"] == "1.2.3" for v in f.details["firmware_versions"])
    # the evidence is the device's raw answer, verbatim
    art = store.artefacts[f.artefacts[0]]
    assert b'"update_url"' in art.data and art.data.startswith(b"HTTP/1.1 200")
    assert f.clauses and "cls:5.3-7" in f.clauses and "cls:5.3-3" not in f.clauses

    m, _ = run_single_check("update_mechanism", "127.0.0.1", svc)
    m = _one(m)
    assert m.status == "PASS", m.summary
    pages = {p["source"] for p in m.details["update_pages"]}
    assert f"http://127.0.0.1:{port}/system/firmware.html" in pages
    assert "cls:5.3-3" in m.clauses and "cls:5.3-7" not in m.clauses


MODERN_TLS = ('ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.2", "CipherString" => '
              '"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305")')


def _run(cli: InProcessCli, tmp_path, *ports: int, extra: tuple[str, ...] = ()) -> dict:
    out = tmp_path / f"ev-{'-'.join(map(str, ports))}.json"
    r = cli("run", "--target", "127.0.0.1", "--profile", "general-iot", "--ports", ",".join(map(str, ports)),
                "--udp-ports", "none", "--no-credentials", "--no-nmap", "--out", str(out), *extra)
    assert r.returncode in (0, 1, 4), r.stderr
    doc = json.loads(out.read_text())
    validate(doc)
    return doc


def _roles(doc: dict, port: int) -> dict[str, dict]:
    svc = next(s for s in doc["services"] if s["port"] == port)
    return {r["role"]: r for r in svc["roles"]}


def test_https_update_url_on_device_is_judged_by_the_same_tls_policy(site: Site, cli: InProcessCli, tmp_path) -> None:
    """A self-signed certificate on the device's own update service is judged as on every other
    service (tls_certificate, through the update role), not failed by a trust store of its own."""
    # TLS 1.2+ with the Mozilla-intermediate suites only, so the certificate is the one question
    tls_port = site({"/fw/latest.json": json.dumps({"latest": "1.2.4"})}, tls_pem=self_signed(tmp_path),
                        conf=[MODERN_TLS])
    url = f"https://127.0.0.1:{tls_port}/fw/latest.json"
    port = site(admin_ui(url, firmware_link=False))
    doc = _run(cli, tmp_path, port, tls_port)
    roles = _roles(doc, tls_port)
    assert "update" in roles and url in roles["update"]["why"] and roles["update"]["evidence"]
    assert "update" not in _roles(doc, port)
    findings = {f["id"]: f for f in doc["findings"]}
    channel = next(f for f in doc["findings"] if f["check_id"] == "update_channel")
    assert channel["status"] == "PASS" and "same policy as every other service" in channel["summary"], channel
    assert channel["details"]["service"] == f"127.0.0.1:{tls_port}/tcp"
    cert = next(f for f in doc["findings"] if f["check_id"] == "tls_certificate" and f["port"] == tls_port)
    tls = next(f for f in doc["findings"] if f["check_id"] == "tls_configuration" and f["port"] == tls_port)
    c = next(c for c in doc["clauses"] if c["id"] == "cls:5.3-7")
    rules = {r["id"]: r for r in c["rules"]}
    assert rules["cls:5.3-7#cert-on-update-service"]["findings"] == [cert["id"]]
    assert rules["cls:5.3-7#tls-on-update-service"]["findings"] == [tls["id"]]
    assert rules["cls:5.3-7#update-channel"]["findings"] == [channel["id"]]
    deciding = [findings[i]["status"] for i in c["findings"]]
    assert c["verdict"] == ("FAIL" if "FAIL" in deciding else "INCONCLUSIVE" if "INCONCLUSIVE" in deciding
                            else "MANUAL"), c
    # the same policy: the certificate judged alone, with no update role, gets the same status
    alone, _ = run_single_check("tls_certificate", "127.0.0.1", [web(tls_port, "https")])
    assert _one(alone).status == cert["status"]
    # a valid, unexpired self-signed P-256 certificate passes the policy when no CA is given (trust is
    # reported, not judged): so the update-crypto clause is not failed by it
    assert cert["status"] == "PASS" and tls["status"] == "PASS", (cert["summary"], tls["summary"])
    assert c["verdict"] == "MANUAL" and "self-signed" in cert["summary"]


def test_protected_update_path_is_not_an_update_page(site: Site, cli: InProcessCli, tmp_path) -> None:
    """A 401 on /admin/firmware is "a protected page exists": no update page, no update role, so the
    weak TLS of that admin UI is evidence for authentication crypto, not for update crypto."""
    files = {"/index.html": "<html><head><title>Router</title></head><body>Welcome</body></html>",
             "/admin/firmware/index.html": "<html><head><title>Firmware upgrade</title></head></html>"}
    port = site(files, tls_pem=self_signed(tmp_path, expired=True), conf=basic_auth_conf(tmp_path))
    doc = _run(cli, tmp_path, port)
    mech = next(f for f in doc["findings"] if f["check_id"] == "update_mechanism")
    assert mech["status"] == "INCONCLUSIVE" and mech["reason_code"] == "missing-input", mech
    assert mech["details"]["update_pages"] == []
    assert any(p["source"].endswith("/admin/firmware") and p["value"].startswith("401")
               for p in mech["details"]["protected_pages"])
    roles = _roles(doc, port)
    assert "update" not in roles and "management" in roles  # the 401 is a login surface
    cert = next(f for f in doc["findings"] if f["check_id"] == "tls_certificate")
    assert cert["status"] == "FAIL"  # expired
    clauses = {c["id"]: c for c in doc["clauses"]}
    assert clauses["cls:5.3-7"]["verdict"] == "MANUAL" and cert["id"] not in clauses["cls:5.3-7"]["findings"]
    assert clauses["cls:5.1-3"]["verdict"] == "FAIL" and cert["id"] in clauses["cls:5.1-3"]["findings"]
    assert "cls:5.1-3" in cert["clauses"] and "cls:5.3-7" not in cert["clauses"]


def test_update_url_on_another_host_is_recorded_never_fetched(site: Site) -> None:
    # a listener on another loopback address stands in for the vendor's server: it must see nothing
    vendor = socket.socket()
    vendor.bind(("127.0.0.2", 0))
    vendor.listen(4)
    vendor.settimeout(0.5)
    vport = vendor.getsockname()[1]
    try:
        link = f"http://127.0.0.2:{vport}/downloads/firmware.bin"
        port = site(admin_ui(f"https://127.0.0.2:{vport}/check", firmware_link=False, extra_link=link))
        findings, _ = run_single_check("update_channel", "127.0.0.1", [web(port)])
        https = _one(findings)  # only the URL the device names in its API is judged
        assert https.details["update_url"] == f"https://127.0.0.2:{vport}/check"
        # the channel exists, but its protection cannot be observed: never NOT_APPLICABLE, never PASS
        assert https.status == "INCONCLUSIVE" and https.reason_code == "missing-input", https.summary
        assert "never contacts" in https.summary and "manufacturer's documents" in (https.reason or "")
        # the page's download link is recorded, not judged
        assert [x["value"] for x in https.details["update_links_not_judged"]] == [link]
        with pytest.raises((socket.timeout, TimeoutError)):
            vendor.accept()
    finally:
        vendor.close()


def test_ordinary_update_link_is_not_an_update_url_or_page(site: Site) -> None:
    """A page that merely links to update news (off-device, cleartext) and to a same-host news page
    whose path says "update": no update URL judged, no update page, so no FAIL."""
    vendor = socket.socket()
    vendor.bind(("127.0.0.2", 0))
    vendor.listen(4)
    vendor.settimeout(0.5)
    vport = vendor.getsockname()[1]
    news = f"http://127.0.0.2:{vport}/blog/firmware-update-2025.html"
    try:
        port = site({
            "/index.html": "<html><head><title>Smart plug</title></head><body>"
                           f'<a href="{news}">Read our firmware update news</a> | '
                           '<a href="/news/update-2025.html">Product update</a></body></html>',
            "/news/update-2025.html": "<html><head><title>News</title></head><body><h1>Spring news</h1>"
                                      "<p>New colours in the shop.</p></body></html>"})
        ch = _one(run_single_check("update_channel", "127.0.0.1", [web(port)])[0])
        assert ch.status == "NOT_APPLICABLE", ch.summary
        assert "not judged" in ch.summary and [x["value"] for x in ch.details["update_links_not_judged"]] == [news]
        mech = _one(run_single_check("update_mechanism", "127.0.0.1", [web(port)])[0])
        assert mech.status == "NOT_APPLICABLE" and mech.details["update_pages"] == [], mech.summary
        with pytest.raises((socket.timeout, TimeoutError)):
            vendor.accept()
    finally:
        vendor.close()


def test_no_update_endpoint_is_never_a_pass(site: Site) -> None:
    port = site({"/index.html": "<html><head><title>Camera</title></head><body>hello</body></html>"})
    for check in ("update_channel", "update_mechanism"):
        f = _one(run_single_check(check, "127.0.0.1", [web(port)])[0])
        assert f.status == "NOT_APPLICABLE", (check, f.summary)
        assert "not a PASS" in f.summary


def test_catch_all_web_ui_does_not_invent_endpoints(site: Site, tmp_path) -> None:
    """A UI answering 200 with the same page for every path must not look like /cgi-bin/upgrade."""
    port = free_port()
    page = "<html><head><title>Router</title></head><body>login</body></html>"
    # lighttpd's 404 handler pointed at the page turns it into a catch-all
    files = {"/index.html": page}
    site(files, port=port, conf=['server.error-handler-404 = "/index.html"'])
    f = _one(run_single_check("update_mechanism", "127.0.0.1", [web(port)])[0])
    assert f.status == "NOT_APPLICABLE", f.summary


def test_unreachable_web_service_is_inconclusive() -> None:
    port = free_port()  # nothing listens
    f = _one(run_single_check("update_channel", "127.0.0.1", [web(port)])[0])
    assert f.status == "INCONCLUSIVE" and f.reason_code == "connectivity"


def test_no_web_service_is_not_applicable() -> None:
    ssh = Service(host="127.0.0.1", port=22, transport="tcp", protocol="ssh", method="test")
    f = _one(run_single_check("update_mechanism", "127.0.0.1", [ssh])[0])
    assert f.status == "NOT_APPLICABLE"


def test_unconfirmed_clause_is_manual_until_an_overlay_confirms_it(site: Site, cli: InProcessCli, tmp_path) -> None:
    """cls:7.3-7's text is unconfirmed: the cleartext update URL is attached, decides nothing; an overlay
    with the official text confirms it, and the same evidence then decides it (overlay recorded)."""
    port = free_port()
    site(admin_ui(f"http://127.0.0.1:{port}/fw/check.json", firmware_link=False), port=port)
    overlay = tmp_path / "official-7.3-7.yaml"
    overlay.write_text("scheme: cls\nclauses:\n  - number: 7.3-7\n    text_confirmed: true\n"
                       "    title: The lab's licensed wording of 7.3-7\n", encoding="utf-8")
    docs = {}
    for name, extra in (("builtin", ()), ("overlay", ("--catalog", str(overlay)))):
        out = tmp_path / f"{name}.json"
        r = cli("run", "--target", "127.0.0.1", "--profile", "home-gateway", "--holding", "jc-star",
                    "--apply-for", "cls", "--ports", str(port), "--udp-ports", "none", "--no-nmap", "--out", str(out),
                    *extra)
        assert r.returncode == 1, r.stderr  # 5.3-7 FAILs either way
        docs[name] = json.loads(out.read_text())
        validate(docs[name])
    channel = next(f for f in docs["builtin"]["findings"] if f["check_id"] == "update_channel")
    assert channel["status"] == "FAIL"
    before = next(c for c in docs["builtin"]["clauses"] if c["id"] == "cls:7.3-7")
    assert before["verdict"] == "MANUAL" and before["text_confirmed"] is False
    assert "not confirmed" in before["reason"] and channel["id"] in before["findings"]
    assert docs["builtin"]["catalog"]["overlays"] == []
    after = next(c for c in docs["overlay"]["clauses"] if c["id"] == "cls:7.3-7")
    assert after["verdict"] == "FAIL" and after["text_confirmed"] is True
    assert after["title"] == "The lab's licensed wording of 7.3-7"
    assert docs["overlay"]["catalog"]["overlays"] == [
        {"path": str(overlay), "sha256": hashlib.sha256(overlay.read_bytes()).hexdigest()}]


def test_cleartext_update_url_fails_update_crypto_and_only_supports_the_rest(site: Site, cli: InProcessCli,
                                                                            tmp_path) -> None:
    """The cleartext update URL proves the channel has no cryptography (5.3-7 FAIL); it does not prove
    images unsigned, so 5.3-2 and 5.3-10 stay MANUAL with the finding attached as supporting evidence."""
    port = free_port()
    site(admin_ui(f"http://127.0.0.1:{port}/fw/check.json"), port=port)
    doc = _run(cli, tmp_path, port)
    channel = next(f for f in doc["findings"] if f["check_id"] == "update_channel")
    assert channel["status"] == "FAIL" and "whether images are signed" in channel["summary"]
    clauses = {c["id"]: c for c in doc["clauses"]}
    assert clauses["cls:5.3-7"]["verdict"] == "FAIL" and channel["id"] in clauses["cls:5.3-7"]["findings"]
    for cid in ("cls:5.3-2", "cls:5.3-10"):
        assert clauses[cid]["verdict"] == "MANUAL", clauses[cid]
        assert channel["id"] in clauses[cid]["supporting"] and channel["id"] not in clauses[cid]["findings"]
    assert set(channel["clauses"]) >= {"cls:5.3-7", "cls:5.3-2", "cls:5.3-10", "jc-star:S1.1-09"}
    assert "update" in _roles(doc, port)  # the device names its own port as the update host


def test_update_check_named_in_what_the_login_page_script_loads(site: Site) -> None:
    """A login page whose script loads a status document no link points to, which names the update
    server under an update-named object: found through the script (same host only), never by
    asking what looks like an action, and never on another host."""
    vendor = socket.socket()
    vendor.bind(("127.0.0.2", 0))
    vendor.listen(4)
    vendor.settimeout(0.5)
    vport = vendor.getsockname()[1]
    check = "https://updates.vendor.example/gw7/check"
    try:
        port = site({
            "/index.html": "<html><head><title>Gateway</title><script src='/static/ui.js'></script>"
                           f"<script src='http://127.0.0.2:{vport}/cdn/lib.js'></script></head>"
                           "<body><h1>Welcome</h1><p>Log in with the password on the label.</p></body></html>",
            "/static/ui.js": "const INFO = '/rest/sysinfo.json';\n"
                             "function reboot() { return fetch('/rest/reboot', {method: 'POST'}); }\n"
                             "fetch(INFO).then(r => r.json()).then(show);\n",
            "/rest/sysinfo.json": json.dumps({"model": "GW-7", "swVersion": "4.1.0",
                                              "firmware": {"autoCheck": True, "endpoint": check}}),
            "/rest/reboot": "rebooting (a test server that must never be asked)"})
        m, store = run_single_check("update_mechanism", "127.0.0.1", [web(port)])
        m = _one(m)
        assert m.status == "PASS", m.summary
        urls = {(u["value"], u["source"], u["how"]) for u in m.details["update_urls"]}
        assert urls == {(check, f"http://127.0.0.1:{port}/rest/sysinfo.json", "json:firmware.endpoint")}
        asked = " ".join(a.name for a in store.artefacts.values())
        assert "/static/ui.js" in asked and "/rest/sysinfo.json" in asked
        assert "/rest/reboot" not in asked and "127.0.0.2" not in asked  # no action, no other host
        ch = _one(run_single_check("update_channel", "127.0.0.1", [web(port)])[0])
        assert ch.status == "INCONCLUSIVE" and ch.details["update_url"] == check, ch.summary
        with pytest.raises((socket.timeout, TimeoutError)):
            vendor.accept()
    finally:
        vendor.close()


def test_update_endpoint_is_asked_on_the_other_web_services(site: Site, cli: InProcessCli, tmp_path) -> None:
    """The device names its update check on one port; the same document root serves it on another
    port too (update role there), while a third port's catch-all page is no endpoint (no role)."""
    a = free_port()
    endpoint = json.dumps({"latest_version": "2.0.1", "image_url": f"http://127.0.0.1:{a}/fw/gw-2.0.1.bin"})
    files = {"/index.html": "<html><head><title>Router</title></head><body>Status</body></html>",
             "/api/version": json.dumps({"firmware_version": "2.0.0", "update_check_url":
                                         f"http://127.0.0.1:{a}/api/check-latest"}),
             "/api/check-latest": endpoint}
    site(files, port=a)
    b = site(files, tls_pem=self_signed(tmp_path), conf=[MODERN_TLS])
    c = site({"/index.html": "<html><head><title>Router</title></head><body>login</body></html>"},
             conf=['server.error-handler-404 = "/index.html"'])
    doc = _run(cli, tmp_path, a, b, c)
    assert "update" in _roles(doc, a)  # the host:port of the URL the device names
    served = _roles(doc, b)["update"]
    assert f"https://127.0.0.1:{b}/api/check-latest" in served["why"] and "json-endpoint" in served["why"]
    assert "update" not in _roles(doc, c)


def test_update_url_in_a_script_bundle_config_object(site: Site) -> None:
    """A status page without login whose bundled script carries the update-check URL in its config
    object (no JSON document names it, no link points to it): found by the field's name; the
    bundle's other URLs (cloud, help) are not update URLs."""
    ota = "http://ota.vendor.example/h1/check"
    port = site({
        "/index.html": "<html><head><title>Home Hub</title><script src='/assets/app.1a2b.js' defer></script>"
                       "</head><body><h2>Hub status</h2><p>Set up in the app.</p></body></html>",
        "/assets/app.1a2b.js": '!function(){var e={model:"H1",fw:"2.0.1",otaCheckUrl:"' + ota + '",'
                               'cloudUrl:"wss://iot.vendor.example/hub",helpUrl:"https://vendor.example/help"};'
                               'window.HUB=e}();'})
    ch = _one(run_single_check("update_channel", "127.0.0.1", [web(port)])[0])
    assert ch.status == "FAIL", ch.summary
    assert (ch.details["update_url"], ch.details["found_as"]) == (ota, "script:otaCheckUrl")
    assert ch.details["found_in"] == f"http://127.0.0.1:{port}/assets/app.1a2b.js"
    m = _one(run_single_check("update_mechanism", "127.0.0.1", [web(port)])[0])
    assert m.status == "PASS" and [u["value"] for u in m.details["update_urls"]] == [ota], m.summary


def test_script_without_update_fields_names_no_update_url(site: Site) -> None:
    port = site({
        "/index.html": "<html><head><title>Home Hub</title><script src='/assets/app.js'></script></head>"
                       "<body><h2>Hub status</h2></body></html>",
        "/assets/app.js": 'var c={cloudUrl:"http://iot.vendor.example/hub",docs:"http://vendor.example/update-notes",'
                          'helpUrl:"https://vendor.example/help"};'})
    ch = _one(run_single_check("update_channel", "127.0.0.1", [web(port)])[0])
    assert ch.status == "NOT_APPLICABLE", ch.summary


def test_update_url_in_a_upnp_description_element(site: Site) -> None:
    """A vendor element of the UPnP description naming the firmware-update URL is an update URL
    the device names for itself; standard URL elements (manufacturerURL, presentationURL) are not."""
    fw = "http://fw.vendor.example/tv9/update.xml"
    desc = ('<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major>'
            "<minor>0</minor></specVersion><device><deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType>"
            "<friendlyName>TV</friendlyName><manufacturer>Vendor</manufacturer>"
            "<manufacturerURL>http://vendor.example/</manufacturerURL><modelName>TV-9</modelName>"
            f"<firmwareUpdateURL>{fw}</firmwareUpdateURL>"
            "<presentationURL>http://127.0.0.1/</presentationURL></device></root>")
    port = site({"/description.xml": desc, "/index.html": "<html><title>TV</title></html>"})
    svc = [Service(host="127.0.0.1", port=port, transport="tcp", protocol="upnp", method="test")]
    ch = _one(run_single_check("update_channel", "127.0.0.1", svc)[0])
    assert ch.status == "FAIL", ch.summary
    assert (ch.details["update_url"], ch.details["found_as"]) == (fw, "upnp:firmwareUpdateURL")


def test_unlinked_update_check_answer_found_by_the_common_paths(site: Site) -> None:
    """An OTA check answer on a common path that no page links to: asked from the data file's list,
    recognised by its update-check keys, and the download URL it names is judged."""
    image = "http://dl.vendor.example/p2/fw-1.4.bin"
    port = site({"/index.html": "<html><title>Plug</title><body>Use the app.</body></html>",
                 "/ota.json": json.dumps({"current_version": "1.3.0", "latest_version": "1.4.0",
                                          "firmware_url": image})})
    m = _one(run_single_check("update_mechanism", "127.0.0.1", [web(port)])[0])
    assert m.status == "PASS", m.summary
    assert any(p["source"] == f"http://127.0.0.1:{port}/ota.json" and p["how"] == "json-endpoint"
               for p in m.details["update_pages"])
    ch = _one(run_single_check("update_channel", "127.0.0.1", [web(port)])[0])
    assert ch.status == "FAIL" and ch.details["update_url"] == image, ch.summary


@pytest.mark.parametrize("how", ["script", "meta"])
def test_update_page_behind_a_script_or_meta_redirect_is_found(site: Site, how: str) -> None:
    """Many device UIs open on a page that only sends the browser on (`location.href = ...` or a
    meta refresh) to the real UI: the survey follows it as a browser would, on the same host."""
    send = ('<script>window.location.href = "/ui/main.html";</script>' if how == "script"
            else '<meta http-equiv="refresh" content="0; url=/ui/main.html">')
    port = site({
        "/index.html": f"<html><head><title>Loading</title>{send}</head><body></body></html>",
        "/ui/main.html": '<html><head><title>Router</title></head><body><a href="/ui/sys.html">System</a>'
                         '</body></html>',
        "/ui/sys.html": "<html><head><title>Firmware upgrade</title></head><body><h1>Firmware upgrade</h1>"
                        '<form method="post" action="/cgi-bin/upload" enctype="multipart/form-data">'
                        '<input type="file" name="image"><input type="submit"></form></body></html>'})
    f = _one(run_single_check("update_mechanism", "127.0.0.1", [web(port)])[0])
    assert f.status == "PASS", f.summary
    assert f"http://127.0.0.1:{port}/ui/sys.html" in {p["source"] for p in f.details["update_pages"]}


def test_the_survey_never_follows_a_link_or_redirect_that_names_an_action(site: Site) -> None:
    """A GET of /cgi-bin/reboot.cgi reboots a careless device: the crawl asks pages, never actions."""
    port = site({
        "/index.html": '<html><head><title>Router</title><meta http-equiv="refresh" content="5; url=/logout.html">'
                       '</head><body><a href="/cgi-bin/reboot.cgi">Reboot</a> <a href="/status.html">Status</a>'
                       '<a href="/factory_reset.html">Factory defaults</a></body></html>',
        "/status.html": "<html><head><title>Status</title></head><body>ok</body></html>",
        "/cgi-bin/reboot.cgi": "rebooting", "/logout.html": "bye", "/factory_reset.html": "gone"})
    f = _one(run_single_check("update_mechanism", "127.0.0.1", [web(port)])[0])
    visited = {p["source"] if isinstance(p, dict) else p for p in f.details["pages_visited"]}
    assert any(v.endswith("/status.html") for v in map(str, visited)), visited
    assert not [v for v in map(str, visited) if "reboot" in v or "logout" in v or "factory" in v], visited
