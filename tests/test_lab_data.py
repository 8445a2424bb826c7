"""Lab data without root: variants load, templates render (truth files: tests/lab/test_truth_files.py)."""

from __future__ import annotations

import pytest

from probe.errors import UserError
from probe.lab import manager, netns
from probe.lab.variants import known_variants, load_variant, render, templates_dir


def test_known_variants() -> None:
    assert known_variants() == ["camera", "consumer-router", "hardened-gateway", "hostile", "media-nas", "smart-hub",
                                "soho-router",
                                "weak-gateway"]


def test_addresses_are_per_instance_slash30() -> None:
    assert netns.addresses(0, 0) == ("10.231.0.1", "10.231.0.2")
    assert netns.addresses(37, 2) == ("10.231.37.9", "10.231.37.10")
    with pytest.raises(ValueError):
        netns.addresses(255, 0)  # 10.231.255.0/24 is reserved


def test_interface_names_fit_linux_limit() -> None:
    for name in known_variants():
        assert len(f"{netns.ns_prefix(254)}{load_variant(name).short}") <= 15


def test_template_syntax_leaves_dollars_and_mail_addresses_alone() -> None:
    text = 'x @{address} $HTTP["url"] ${url.path} mailto:security@acme.example'
    assert render(text, {"address": "10.231.0.2"}, "t") == \
        'x 10.231.0.2 $HTTP["url"] ${url.path} mailto:security@acme.example'
    with pytest.raises(UserError, match="unknown placeholder"):
        render("@{nope}", {}, "t")


def test_every_template_a_variant_names_exists() -> None:
    for name in known_variants():
        v = load_variant(name)
        for svc in v.services:
            if svc.template:
                assert (templates_dir() / svc.template).is_file(), (name, svc.template)
        if v.firewall:
            assert (templates_dir() / v.firewall).is_file()
        if v.site:
            assert (templates_dir() / "www" / v.site).is_dir()


def test_unknown_variant_is_a_one_line_user_error() -> None:
    with pytest.raises(UserError, match="unknown variant 'router9000'; known: camera"):
        load_variant("router9000")


def test_not_root_is_a_one_line_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(UserError, match="needs root"):
        manager.up(["camera"], 5)


def test_missing_daemon_names_it_and_the_setup_script(monkeypatch: pytest.MonkeyPatch) -> None:
    from probe.lab import sysexec
    monkeypatch.setattr(sysexec.shutil, "which", lambda name, path=None: None if name == "vsftpd" else "/x")
    with pytest.raises(UserError, match="'vsftpd' is not installed; run scripts/setup-system.sh"):
        sysexec.require_binaries(["lighttpd", "vsftpd"])


def test_hostile_variant_names_real_servers_on_their_pretended_ports() -> None:
    """Each hostile service runs a server that exists, on one TCP port, declared as the protocol
    the server pretends to speak (or the port's guess, for servers that say nothing)."""
    from probe.discovery.identify import PORT_GUESS
    from probe.hostile.servers import BY_NAME
    v = load_variant("hostile")
    hostile = [s for s in v.services if s.daemon == "hostile"]
    assert len(hostile) >= 8
    for svc in hostile:
        cls = BY_NAME[svc.options.get("server", svc.id)]
        (port,) = svc.ports
        assert port.transport == "tcp"
        want = cls.looks_like if cls.looks_like != "unknown" else PORT_GUESS.get(port.port, "unknown")
        if want == "tls":
            want = {443: "https", 8443: "https", 8883: "mqtts"}.get(port.port, "tls")
        assert port.protocol == want, (svc.id, port)
