"""Default credentials chosen the way real devices need them (issue 12 §2).

Every public Mirai pair is within the default budget on telnet and SSH; what the device shows
(here: the title of its web UI, an auth realm) selects its maker's or product's pairs first, from
probe's vendor list and from the installed nmap's http-default-accounts fingerprints read at run
time; vendor accounts with an empty password and user-only logins are tried and proven. The
daemons are configured as products ship them: busybox telnetd with busybox's own login, dropbear
with a vendor account, lighttpd with the whole UI behind Basic or Digest under the product's realm.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import jsonschema
import pytest

from probe.compliance import nmap_fingerprints, vendor_defaults
from probe.compliance.nmap_fingerprints import WebAnswer
from probe.models import Finding, Service, Status
from probe.options import DEFAULT_BUDGETS, CredentialOptions, DiscoveryOptions
from probe.output.evidence import load_schema
from probe.services import credentials
from probe.store import EvidenceStore
from tests.helpers.checks import check_service, one, service
from tests.helpers.daemons import STRONG_PASSWORD, LocalDaemons

MIRAI = "mirai (SecLists"
AIROS_PAGE = {"/index.html": "<html><head><title>airOS - Login</title></head><body>Ubiquiti</body></html>\n"}


def _planned(f: Finding) -> list[dict[str, str]]:
    return list(f.details["planned"])


def _proof(store: EvidenceStore, f: Finding) -> str:
    return store.artefacts[f.artefacts[0]].data.decode("utf-8", "replace")


# -- the lists, without a device ---------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["telnet", "ssh"])
def test_every_mirai_pair_is_within_the_default_budget(protocol: str) -> None:
    from checks.default_credentials import planned_pairs

    creds = credentials.for_service(protocol)
    mirai = [c for c in creds if c.source.startswith(MIRAI)]
    assert len(mirai) >= 60  # SecLists Passwords/Malware/mirai-botnet.txt has 60 distinct pairs
    budget = CredentialOptions().budget_for(protocol)
    assert budget == DEFAULT_BUDGETS[protocol] and budget >= len(creds)
    plan = planned_pairs(creds, budget)
    assert all(c in plan for c in mirai)
    assert ("root", "") in [(c.username, c.password) for c in mirai]  # Mirai's "(none)" is an empty password
    assert CredentialOptions().budget_for("http") == 20 and CredentialOptions(budget=5).budget_for("ssh") == 5


def test_vendor_pairs_are_all_in_the_general_list() -> None:
    general = {(c.username, c.password) for c in credentials.for_service("telnet")}
    _source, vendors = vendor_defaults.vendors()
    assert vendors and all(pair in general for v in vendors for pair in v.pairs)


def test_a_clue_naming_the_maker_puts_its_pairs_first_on_remote_shells_only() -> None:
    clues = [{"kind": "http-title", "where": "http://x/", "text": "airOS - Login"}]
    sel = vendor_defaults.select("telnet", clues, [], None)
    assert [(p.username, p.password) for p in sel.picks] == [("ubnt", "ubnt")]
    assert "Ubiquiti" in sel.picks[0].why and sel.matches[0]["clue"] == "http-title"
    assert vendor_defaults.select("http", clues, [], None).picks == []
    plain = [{"kind": "banner", "where": "tcp/23", "text": "login:"}]
    assert vendor_defaults.select("ssh", plain, [], None).picks == []


def test_ranking_operator_then_fingerprint_then_general(tmp_path: Path) -> None:
    own = tmp_path / "own.csv"
    own.write_text("service,username,password\ntelnet,field,Secret-1\n")
    picked = credentials.Credential("telnet", "ubnt", "ubnt", "vendor list", 0, selected_by="Ubiquiti")
    out = credentials.ranked("telnet", own, [picked])
    assert [(c.username, c.password) for c in out[:3]] == [("field", "Secret-1"), ("ubnt", "ubnt"), ("admin", "admin")]
    assert [c for c in out if (c.username, c.password) == ("ubnt", "ubnt")] == [picked]  # once, as selected


def test_nmap_fingerprints_are_read_from_the_installed_nmap() -> None:
    data = nmap_fingerprints.load()
    assert data.status == "read" and data.path and data.path.endswith(nmap_fingerprints.FILE)
    assert len(data.fingerprints) >= 40  # nmap 7.93 has 57; those that make their own requests are left out
    comtrend = next(f for f in data.fingerprints if f.name.startswith("Comtrend"))
    dsl = WebAnswer("/", 401, {"www-authenticate": 'Basic realm="DSL Router"'}, b"")
    other = WebAnswer("/", 401, {"www-authenticate": 'Basic realm="device"'}, b"")
    assert comtrend.match(dsl) and not comtrend.match(other) and ("apuser", "apuser") in comtrend.pairs
    assert not any(f.match(other) for f in data.fingerprints if "/" in f.paths)


def test_nmap_not_installed_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nmap_fingerprints, "locate", lambda: None)
    data = nmap_fingerprints.load()
    assert data.status == "not-installed" and not data.fingerprints and "not installed" in data.error


@pytest.mark.parametrize(("pattern", "text", "hit"), [
    ("^level 15?%f[ ].* access$", "level 15 access", True),
    ("^level 15?%f[ ].* access$", "level 150 access", False),
    ("^RT%-%u[%u%d]+$", "RT-AC66U", True),
    ("^RT%-%u[%u%d]+$", "RT-ac66u", False),
    ("/start%.html$", "https://x/start.html", True),
    ("<title>[^<]-%sibm storwize v3700%s*</title>", "<title>x ibm storwize v3700</title>", True),
    ("href%s*=%s*(['\"])a%.asp%1", "href = 'a.asp'", True),
    ("href%s*=%s*(['\"])a%.asp%1", "href = 'a.asp\"", False),
    ("LoginForm%.jsp%f[;\0]", "/LoginForm.jsp", True),
    ("LoginForm%.jsp%f[;\0]", "/LoginForm.jspx", False),
])
def test_lua_patterns_become_regular_expressions(pattern: str, text: str, hit: bool) -> None:
    rx = nmap_fingerprints.lua_pattern(pattern)
    assert rx is not None and bool(rx.search(text)) is hit


# -- real daemons configured like shipped products -----------------------------------------------

lab = pytest.mark.usefixtures("lab_tools")


@pytest.fixture(scope="session")
def airos_web(session_daemons: LocalDaemons) -> Service:
    """A device's web UI whose title names its maker (Ubiquiti airOS), shared (read-only)."""
    return service(session_daemons.lighttpd(AIROS_PAGE), "http")


@lab
@pytest.mark.parametrize("protocol", ["telnet", "ssh"])
def test_vendor_account_found_first_because_the_device_names_its_maker(daemons: LocalDaemons, airos_web: Service,
                                                                       protocol: str) -> None:
    accounts = {"ubnt": "ubnt"}
    port = daemons.telnetd_busybox(accounts) if protocol == "telnet" else daemons.dropbear_accounts(accounts)
    f, store = check_service("default_credentials", port, protocol, others=[airos_web])
    f = one(f)
    assert f.status is Status.FAIL and "ubnt / ubnt" in f.summary
    first = _planned(f)[0]
    assert (first["username"], first["password"]) == ("ubnt", "ubnt") and "Ubiquiti" in first["selected_by"]
    assert f.details["attempts"] == 1 and f.details["budget"] == DEFAULT_BUDGETS[protocol]
    assert f.details["fingerprint"]["matches"][0]["name"] == "Ubiquiti"
    proof = _proof(store, f)
    assert ("~ # " in proof) if protocol == "telnet" else ("session channel opened" in proof)


@lab
@pytest.mark.parametrize("protocol", ["telnet", "ssh"])
def test_vendor_account_with_its_own_password_passes(daemons: LocalDaemons, protocol: str) -> None:
    accounts = {"support": STRONG_PASSWORD}
    port = daemons.telnetd_busybox(accounts) if protocol == "telnet" else daemons.dropbear_accounts(accounts)
    # busybox login answers a wrong password after its 3 s delay: the socket timeout must outlast it
    f, _store = check_service("default_credentials", port, protocol, credentials=CredentialOptions(budget=3),
                              timeout=6.0)
    f = one(f)
    assert f.status is Status.PASS and f.details["attempts"] == 3
    assert all(p["source"].startswith(MIRAI) for p in _planned(f))


@lab
def test_telnet_user_only_login_is_proven(daemons: LocalDaemons) -> None:
    """busybox login asks no password for an account that has none: the user name alone logs in."""
    port = daemons.telnetd_busybox({"admin": ""})
    f, store = check_service("default_credentials", port, "telnet", credentials=CredentialOptions(budget=1))
    f = one(f)
    assert f.status is Status.FAIL and "admin with no password (the user name alone logged in)" in f.summary
    assert f.details["accepted"][0]["user_only"] is True
    proof = _proof(store, f)
    assert ">> admin\\r\\n" in proof and "Password: " not in proof and "~ # " in proof


@lab
def test_ssh_user_only_login_is_proven(daemons: LocalDaemons) -> None:
    """dropbear -B lets an account with no password in by its name alone (SSH 'none' method)."""
    port = daemons.dropbear_accounts({"admin": ""}, blank_ok=True)
    f, store = check_service("default_credentials", port, "ssh", credentials=CredentialOptions(budget=8))
    f = one(f)
    assert f.status is Status.FAIL and "admin with no password (the user name alone logged in)" in f.summary
    proof = _proof(store, f)
    assert "auth_none(username='admin')" in proof and "session channel opened" in proof


@lab
def test_ssh_account_without_password_refused_by_the_server_passes(daemons: LocalDaemons) -> None:
    """Without -B dropbear refuses a blank password: nobody gets in, so no default login exists."""
    port = daemons.dropbear_accounts({"admin": ""})
    f, _store = check_service("default_credentials", port, "ssh", credentials=CredentialOptions(budget=8))
    f = one(f)
    assert f.status is Status.PASS
    assert ("admin", "") in [(p["username"], p["password"]) for p in _planned(f)]


@lab
@pytest.mark.parametrize("method", ["basic", "digest"])
def test_nmap_fingerprint_selects_the_products_default(daemons: LocalDaemons, method: str) -> None:
    """A router UI under the realm nmap's Comtrend fingerprint names: its apuser/apuser (in no
    built-in list) is tried first and proven."""
    port = daemons.lighttpd_realm("DSL Router", "apuser", "apuser", method=method)
    f, store = check_service("default_credentials", port, "http")
    f = one(f)
    assert f.status is Status.FAIL and "apuser / apuser" in f.summary and f"HTTP {method}" in f.summary
    first = _planned(f)[0]
    assert first["username"] == "apuser" and first["source"].startswith(nmap_fingerprints.SOURCE)
    assert "Comtrend" in first["selected_by"] and f.details["fingerprint"]["nmap_fingerprints"]["status"] == "read"
    assert f.details["sources"] == [first["source"]]
    schema = load_schema()  # the finding as the evidence file writes it, against the published schema
    jsonschema.validate(f.to_json(), {"$defs": schema["$defs"], **schema["properties"]["findings"]["items"]})
    bad = f.to_json()
    bad["details"]["planned"][0].pop("source")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, {"$defs": schema["$defs"], **schema["properties"]["findings"]["items"]})


@lab
def test_nmap_fingerprint_with_the_products_password_changed_passes(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_realm("DSL Router", "apuser", STRONG_PASSWORD, method="digest")
    runs = [one(check_service("default_credentials", port, "http", credentials=CredentialOptions(budget=4))[0])
            for _ in range(2)]
    for f in runs:
        assert f.status is Status.PASS and f.details["attempts"] == 4
        assert [p["username"] for p in _planned(f)[:2]] == ["apuser", "root"]  # the fingerprint's pairs, then the list
    assert _planned(runs[0]) == _planned(runs[1])  # the fingerprint's order is as deterministic as the list's


@lab
def test_without_nmap_the_general_list_is_used_and_the_evidence_says_so(daemons: LocalDaemons,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    port = daemons.lighttpd_realm("DSL Router", "apuser", "apuser")
    monkeypatch.setattr(vendor_defaults, "nmap_data", lambda: nmap_fingerprints.NmapData(
        "not-installed", error="nmap's http-default-accounts fingerprints are not installed"))
    f, _store = check_service("default_credentials", port, "http", credentials=CredentialOptions(budget=4))
    f = one(f)
    assert f.status is Status.PASS and all(p["username"] != "apuser" for p in _planned(f))
    status = f.details["fingerprint"]["nmap_fingerprints"]
    assert status["status"] == "not-installed" and "probe's own lists were used" in status["why"]
    off, _ = check_service("default_credentials", port, "http", credentials=CredentialOptions(budget=1),
                           discovery=DiscoveryOptions(use_nmap=False))
    assert one(off).details["fingerprint"]["nmap_fingerprints"]["status"] == "disabled"


@pytest.fixture(scope="session")
def mobotix_https(session_daemons: LocalDaemons, tmp_path_factory: pytest.TempPathFactory) -> Service:
    """An HTTPS UI whose self-signed certificate names its maker in the subject (O=MOBOTIX AG)."""
    d = tmp_path_factory.mktemp("mobotix-cert")
    key, crt = d / "k.pem", d / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "30", "-subj", "/O=MOBOTIX AG/CN=M16", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    pem = d / "server.pem"
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    return service(session_daemons.lighttpd({"/index.html": "<html><body>Camera</body></html>\n"}, tls_pem=pem),
                   "https")


@lab
@pytest.mark.parametrize("clue", ["tls-subject", "snmp-sysdescr"])
def test_certificate_subject_or_sysdescr_names_the_maker(daemons: LocalDaemons, mobotix_https: Service,
                                                         clue: str) -> None:
    """admin/meinsm (Mobotix; rank 62 of the general list) is tried first when the device's
    certificate or its SNMP sysDescr (as discovery read it: no packet is sent for it) names the maker."""
    port = daemons.dropbear_accounts({"admin": "meinsm"})
    other = mobotix_https if clue == "tls-subject" else service(
        161, "snmp", transport="udp", details={"sysdescr": "MOBOTIX M16 camera, Linux 4.9"})
    f, _store = check_service("default_credentials", port, "ssh", others=[other])
    f = one(f)
    assert f.status is Status.FAIL and f.details["attempts"] == 1 and "admin / meinsm" in f.summary
    match = f.details["fingerprint"]["matches"][0]
    assert match["name"] == "Mobotix" and match["clue"] == clue
    assert "Mobotix" in _planned(f)[0]["selected_by"]


@lab
def test_a_product_recognised_only_at_its_own_login_path(daemons: LocalDaemons) -> None:
    """nmap recognises Tomcat's manager by the realm at /manager/html/, a path probe's login
    discovery does not read: it is asked once (GET), the product's tomcat/s3cret (in no built-in
    list) goes first and is proven; the same site under a generic realm selects nothing."""
    port = daemons.lighttpd_realm("Tomcat Manager Application", "tomcat", "s3cret")
    f, store = check_service("default_credentials", port, "http", credentials=CredentialOptions(budget=12))
    f = one(f)
    assert f.status is Status.FAIL and "tomcat / s3cret" in f.summary
    nmap = f.details["fingerprint"]["nmap_fingerprints"]
    assert nmap["paths_asked"] >= 1 and "GET /manager/html/" in store.artefacts[nmap["paths_artefact"]].data.decode()
    assert f.details["fingerprint"]["matches"][0]["path"] != "/"
    plain = daemons.lighttpd_realm("device", "tomcat", "s3cret")
    g = one(check_service("default_credentials", plain, "http", credentials=CredentialOptions(budget=2))[0])
    assert g.status is Status.PASS and g.details["fingerprint"]["selected_pairs"] == 0
    assert g.details["fingerprint"]["nmap_fingerprints"]["paths_asked"] >= 1
