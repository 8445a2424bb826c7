"""update_mechanism and update_channel against a real lighttpd serving a fake admin UI."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from probe.engine import run_single_check
from probe.models import Service
from probe.options import CryptoOptions, ScanOptions
from tests.helpers.checks import one as _one
from tests.helpers.pki import TestPKI
from tests.helpers.ports import free_port
from tests.helpers.sites import admin_ui

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


def test_https_update_url_on_device_passes_only_with_the_ca(site: Site, tls_pem: Path, pki: TestPKI) -> None:
    tls_port = site({"/fw/latest.json": json.dumps({"latest": "1.2.4"})}, tls_pem=tls_pem)
    port = site(admin_ui(f"https://127.0.0.1:{tls_port}/fw/latest.json", firmware_link=False))
    svc = [web(port)]
    with_ca, store = run_single_check("update_channel", "127.0.0.1", svc,
                                      options=ScanOptions(crypto=CryptoOptions(ca_file=pki.ca)))
    f = _one(with_ca)
    assert f.status == "PASS", f.summary
    kinds = {store.artefacts[a].kind for a in f.artefacts}
    assert "certificate" in kinds and "http-response" in kinds
    without_ca, _ = run_single_check("update_channel", "127.0.0.1", svc)
    g = _one(without_ca)
    assert g.status == "FAIL" and "certificate" in g.summary
    assert "unable to get local issuer" in (g.details["tls_error"] or "")


def test_update_url_on_another_host_is_recorded_never_fetched(site: Site) -> None:
    # a listener on another loopback address stands in for the vendor's server: it must see nothing
    vendor = socket.socket()
    vendor.bind(("127.0.0.2", 0))
    vendor.listen(4)
    vendor.settimeout(0.5)
    vport = vendor.getsockname()[1]
    try:
        port = site(admin_ui(f"https://127.0.0.2:{vport}/check", firmware_link=False,
                                 extra_link=f"http://127.0.0.2:{vport}/downloads/firmware.bin"))
        findings, _ = run_single_check("update_channel", "127.0.0.1", [web(port)])
        by_url = {f.details["update_url"]: f for f in findings}
        https = by_url[f"https://127.0.0.2:{vport}/check"]
        assert https.status == "INCONCLUSIVE" and "never contacts" in https.summary
        assert https.reason_code == "unsupported"
        plain = by_url[f"http://127.0.0.2:{vport}/downloads/firmware.bin"]
        assert plain.status == "FAIL" and "not fetched" in plain.summary and plain.details["found_as"] == "html-link"
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


def test_catch_all_web_ui_does_not_invent_endpoints(site: Site) -> None:
    """A UI answering 200 with the same page for every path must not look like /cgi-bin/upgrade."""
    page = "<html><head><title>Router</title></head><body>login</body></html>"
    # lighttpd's 404 handler pointed at the page turns it into a catch-all
    port = site({"/index.html": page}, conf=['server.error-handler-404 = "/index.html"'])
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
