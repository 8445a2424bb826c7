"""model_designation against real lighttpd and a real snmpd on loopback."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from probe.checks.model_designation import model_tokens
from probe.engine import run_single_check
from probe.models import Service
from tests.helpers.daemons import LocalDaemons
from tests.helpers.ports import free_port
from tests.helpers.sites import admin_ui

Site = Callable[..., int]


def test_model_from_web_ui_title_meta_and_json(site: Site) -> None:
    port = site(admin_ui("https://127.0.0.9/x"))
    f, _ = run_single_check("model_designation", "127.0.0.1",
                            [Service("127.0.0.1", port, "tcp", "http", "test")])
    assert len(f) == 1 and f[0].status == "PASS", f[0].summary
    hows = {(s["value"], s["how"]) for s in f[0].details["strings"]}
    assert ("EX-GW1000", "html-meta:model") in hows and ("EX-GW1000", "json:model") in hows
    assert ("EX-GW1000 Home Gateway", "html-title") in hows
    assert "jc-star:S1.1-10" in f[0].clauses


def test_generic_title_is_not_a_model(site: Site) -> None:
    port = site({"/index.html": "<html><head><title>Login</title></head></html>"})
    f, _ = run_single_check("model_designation", "127.0.0.1",
                            [Service("127.0.0.1", port, "tcp", "http", "test", product="lighttpd", version="1.4.69")])
    assert f[0].status == "NOT_APPLICABLE", f[0].summary
    assert any(s["how"] == "banner" for s in f[0].details["strings"])  # recorded, but a banner is not a model


def test_snmp_sysdescr_with_community_public(daemons: LocalDaemons) -> None:
    port = daemons.snmpd(sys_descr="ACME EX-GW1000 home gateway, firmware 1.2.3", extra=["sysServices 72"])
    f, store = run_single_check("model_designation", "127.0.0.1",
                                [Service("127.0.0.1", port, "udp", "snmp", "test")])
    assert f[0].status == "PASS", f[0].summary
    s = next(x for x in f[0].details["strings"] if x["how"] == "snmp:sysDescr")
    assert s["value"] == "ACME EX-GW1000 home gateway, firmware 1.2.3"
    assert store.artefacts[s["artefact"]].kind == "transcript"
    assert b"public" in store.artefacts[s["artefact"]].data


def test_nothing_reachable_is_inconclusive() -> None:
    f, _ = run_single_check("model_designation", "127.0.0.1",
                            [Service("127.0.0.1", free_port(), "tcp", "http", "test")])
    assert f[0].status == "INCONCLUSIVE" and f[0].reason_code == "connectivity"


@pytest.mark.parametrize("text,expect", [("RT-AX58U", True), ("Archer C7", True), ("Welcome", False),
                                         ("HTTP 1.1", False)])
def test_model_tokens(text: str, expect: bool) -> None:
    assert bool(model_tokens(text)) is expect
