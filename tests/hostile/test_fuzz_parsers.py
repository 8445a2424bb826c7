"""Property-based fuzzing of every parser that reads user files or device bytes.

The contract: user files either parse or raise UserError (a one-line message, exit 2); device
bytes never raise at all (or only the documented netio errors), and never grow past their caps.
Bounded (max_examples, deadline) so the whole module runs in well under a minute.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
import unicodedata
from pathlib import Path
from unittest import mock

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.compliance.catalog import load_catalog
from probe.compliance.profile import parse_ports, parse_profile
from probe.compliance.recognition import load_moc
from probe.discovery import identify
from probe.errors import UserError
from probe.models import Artefact
from probe.output.terminal import safe
from probe.plugins import registry
from probe.protocols import netio, snmp
from probe.targets import read_targets_file, resolve_target
from tests.helpers.wire import NETSNMP_V3_REPORT

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# YAML-ish values: what yaml.safe_load can produce
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                      max_leaves=25)
port_specs = st.one_of(st.sampled_from(["all", "1-1024", "22,80", "0", "65536", "5-1", "-", "a-b", "1-2-3"]),
                       st.text(alphabet="0123456789-, all", max_size=20), st.lists(values, max_size=5), values)

PROFILE_KEYS = ("name", "device_class", "schemes", "discovery", "checks", "disallowed_services", "description")
KNOWN = set(registry())


def _profile_like() -> st.SearchStrategy:
    good = {"name": st.text(max_size=10), "device_class": st.sampled_from(["general-iot", "home-gateway", "x"]),
            "schemes": st.one_of(st.lists(st.sampled_from(["jc-star", "cls", "uk-psti", "?"]), max_size=3), values),
            "discovery": st.one_of(st.fixed_dictionaries({"tcp_ports": port_specs},
                                                          optional={"udp_ports": port_specs}), values),
            "checks": st.one_of(st.lists(st.sampled_from(sorted(KNOWN) + ["nope"]), max_size=4), values),
            "disallowed_services": values}
    return st.fixed_dictionaries({}, optional=good)


@FAST
@given(st.one_of(values, _profile_like()))
def test_profile_parser_only_raises_user_error(data) -> None:
    try:
        p = parse_profile(data, "fuzz.yaml", KNOWN)
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    assert p.tcp_ports and all(1 <= x <= 65535 for x in p.tcp_ports)


@FAST
@given(port_specs)
def test_port_spec_parser(spec) -> None:
    try:
        ports = parse_ports(spec, "fuzz")
    except UserError:
        return
    assert all(1 <= p <= 65535 for p in ports) and list(ports) == sorted(set(ports))


def _write_and(tmp: Path, name: str, content: bytes) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    for old in tmp.iterdir():
        old.unlink()
    (tmp / name).write_bytes(content)
    return tmp


_CATALOG = load_catalog()
_NUMBERS = sorted({c.number for c in _CATALOG.clauses}) + ["zz", "1"]

overlay_docs = st.one_of(
    values,
    st.fixed_dictionaries({"scheme": st.sampled_from(["jc-star", "cls", "uk-psti", "nope"]),
                           "clauses": st.one_of(values, st.lists(st.fixed_dictionaries(
                               {"number": st.one_of(st.sampled_from(_NUMBERS), values)},
                               optional={"title": values, "title_ja": values, "text_confirmed": values,
                                         "checks": values}), max_size=4))}))


@FILES
@given(st.one_of(overlay_docs.map(lambda d: yaml.safe_dump(d).encode()), st.binary(max_size=200)))
def test_catalog_overlay_only_raises_user_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        try:
            load_catalog(_write_and(Path(d), "over.yaml", content))
        except UserError as exc:
            assert "\n" not in str(exc)


moc_docs = st.one_of(values, st.fixed_dictionaries(
    {"tables": st.one_of(values, st.lists(st.fixed_dictionaries({}, optional={
        "id": values, "holding": st.sampled_from(["jc-star", "cls", "x"]),
        "apply_for": st.sampled_from(["jc-star", "cls", "uk-psti", "x"]),
        "status": st.one_of(values, st.dictionaries(st.sampled_from(_NUMBERS),
                                                    st.sampled_from(["full", "partial", "none", "x"]), max_size=3)),
        "default": values, "device_classes": values, "annex": values, "note": values}), max_size=3))},
    optional={"arrangement": values, "source": values}))


@FILES
@given(st.one_of(moc_docs.map(lambda d: yaml.safe_dump(d).encode()), st.binary(max_size=200)))
def test_moc_tables_only_raise_user_error(content: bytes) -> None:
    catalog = _CATALOG
    with tempfile.TemporaryDirectory() as d:
        try:
            load_moc(catalog, _write_and(Path(d), "moc.yaml", content))
        except UserError as exc:
            assert "\n" not in str(exc)



@FILES
@given(st.binary(max_size=300))
def test_targets_file_never_looks_anything_up(content: bytes) -> None:
    """Any targets file: each line is an IP, a refused input, or a host name whose lookup we fake
    here (a real lookup would leave the machine)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "targets.txt"
        path.write_bytes(content)
        try:
            lines = read_targets_file(str(path))
        except UserError:
            return
    with mock.patch.object(socket, "getaddrinfo", side_effect=socket.gaierror(-2, "Name or service not known")) as gai:
        for line in lines:
            try:
                resolve_target(line, networks=[])
            except UserError as exc:
                assert "\n" not in str(exc)
        for call in gai.call_args_list:  # only syntactically valid names ever reach the resolver
            name = call.args[0]
            assert all(ch.isalnum() and ch.isascii() or ch in "-." for ch in name), name


@FAST
@given(st.text(max_size=60))
def test_resolve_target_text(text: str) -> None:
    with mock.patch.object(socket, "getaddrinfo", side_effect=socket.gaierror(-2, "Name or service not known")):
        try:
            ip = resolve_target(text, networks=[])
        except UserError:
            return
    import ipaddress
    addr = ipaddress.ip_address(ip)
    assert not addr.is_multicast and not addr.is_unspecified


# -- device bytes --------------------------------------------------------------------------------

@FAST
@given(st.binary(max_size=600))
def test_banner_and_http_identification_never_raise(data: bytes) -> None:
    proto, product, version = identify.from_banner(data)
    assert proto in (None, "ssh", "telnet", "ftp", "smtp", "console")
    identify.from_http_response(data)
    identify.looks_like_tls_server_reply(data)
    identify.looks_like_mqtt_connack(data)


def _peer(chunks: list[bytes], close: bool) -> socket.socket:
    a, b = socket.socketpair()

    def feed() -> None:
        try:
            for c in chunks:
                b.sendall(c)
            if close:
                b.shutdown(socket.SHUT_WR)
            threading.Event().wait(0.05)
        except OSError:
            pass
        finally:
            b.close()
    threading.Thread(target=feed, daemon=True).start()
    return a


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=3000), max_size=8), st.booleans(), st.integers(1, 5000),
       st.sampled_from([b"\r\n", b"login:", (b"\n", b"$ ")]))
def test_netio_reads_are_capped(chunks, close, cap, marker) -> None:
    s = _peer(chunks, close)
    try:
        r = netio.read_some(s, max_bytes=cap, total_timeout=0.3, idle_timeout=0.05, until=marker)
        assert len(r.data) <= cap
    finally:
        s.close()
    s = _peer(chunks, close)
    try:
        data = netio.read_until(s, marker, max_bytes=cap, total_timeout=0.3)
        assert len(data) <= cap + 4096
    except (netio.ReadTimeout, netio.ReadLimitExceeded) as exc:
        assert len(exc.data) <= cap + 4096
    except ConnectionResetError:
        pass
    finally:
        s.close()
    s = _peer(chunks, close)
    try:
        assert len(netio.read_exact(s, min(cap, 2000), total_timeout=0.3)) == min(cap, 2000)
    except (netio.ReadTimeout, ConnectionResetError):
        pass
    finally:
        s.close()


def _visible(text: str) -> bool:
    return all(unicodedata.category(ch)[0] != "C" for ch in text)


@FAST
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_terminal_rendering_has_no_control_characters(text: str) -> None:
    out = safe(text, 200)
    assert _visible(out), repr(out)
    assert _visible(netio.printable(text.encode("utf-8", "surrogatepass"), 200))


@FAST
@given(st.binary(max_size=400))
def test_artefacts_of_any_bytes_serialise(data: bytes) -> None:
    doc = Artefact("a-1", "banner", "x", data).to_json()
    json.dumps(doc)
    assert doc["size"] == len(data)


@FAST
@given(st.binary(max_size=300), st.integers(0, 120), st.binary(max_size=8))
def test_snmp_parsers_raise_only_ber_error(data: bytes, cut: int, patch: bytes) -> None:
    """SNMP answers are device bytes: v1/v2c and v3 parsers either decode or raise BERError."""
    mutated = NETSNMP_V3_REPORT[:cut] + patch + NETSNMP_V3_REPORT[cut + len(patch):]
    for blob in (data, mutated):
        for parse in (snmp.parse_message, snmp.parse_v3_message):
            try:
                parse(blob)
            except snmp.BERError:
                pass


# -- open-data parsers (issue 12): device bytes never raise, results stay capped -------------------

@FAST
@given(st.binary(max_size=600))
def test_smb_reply_console_prompt_and_media_never_raise(data: bytes) -> None:
    from probe.protocols import console, media, smb
    dialect = smb.parse_negotiate_reply(data)
    assert dialect is None or isinstance(dialect, str)
    prompt = console.prompt_in(data)
    assert prompt is None or len(prompt) <= 65
    assert media.recognise("image/jpeg", data) in (None, *(f"image/{k}" for k in media.MAGIC))


@FAST
@given(st.text(max_size=3000), st.sampled_from(["/", "/media/", "/a b/"]))
def test_listing_and_multistatus_parsers_never_raise(text: str, path: str) -> None:
    from probe.protocols import dirlisting, webdav
    page = f"<html><head><title>Index of {path}</title></head><body>{text}</body></html>"
    listing = dirlisting.parse(path, page, ("Index of /",))
    assert listing is not None and len(listing.files) + len(listing.folders) <= dirlisting.MAX_ENTRIES
    hrefs = webdav.parse_multistatus(text.encode("utf-8", "replace"))
    assert hrefs is None or len(hrefs) <= webdav.MAX_HREFS


def test_multistatus_with_entities_is_refused() -> None:
    from probe.protocols import webdav
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            b'<D:multistatus xmlns:D="DAV:"><D:response><D:href>&b;</D:href></D:response></D:multistatus>')
    assert webdav.parse_multistatus(bomb) is None  # defusedxml refuses entity definitions


@FAST
@given(values)
def test_status_classifier_never_raises(doc: object) -> None:
    from probe.services import status_pages
    pairs = [(p, str(v)) for p, v in status_pages._walk(doc)]
    found = status_pages.classify(pairs)
    assert all(len(v) <= 10 for v in found.values())


# -- UDP services (issue 12 section 3): device datagrams decode or raise the module's own error ----

@FAST
@given(st.binary(max_size=700))
def test_udp_service_parsers_raise_only_their_own_errors(data: bytes) -> None:
    from probe.protocols import coap, ntp, tftp, ubnt, wsdiscovery
    for parse, error in ((tftp.parse, tftp.TftpError), (coap.parse, coap.CoapError), (ubnt.parse, ubnt.UbntError)):
        try:
            parse(data)
        except error:
            pass
    assert ntp.parse_server(data, bytes(8)) is None or len(data) >= 48
    frag = ntp.parse_control(data, 7)
    assert frag is None or len(frag.data) <= len(data)
    assert len(ntp.variables(data.decode("latin-1"))) <= 64
    assert len(coap.links(data)) <= 100
    matches = wsdiscovery.parse_matches(b"<ProbeMatch>" + data)
    assert matches is None or len(matches.matches) <= 8
    assert coap.answer_to(data, 1, b"tok") is None or data[:1] and data[0] >> 6 == 1
