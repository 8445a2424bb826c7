"""The authentication checks against real daemons on 127.0.0.1 (started and stopped here)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from probe.models import InconclusiveReason, Status
from probe.options import CredentialOptions
from tests.helpers.checks import artefact_text, one
from tests.helpers.checks import check_service as run_check
from tests.helpers.cli import InProcessCli
from tests.helpers.daemons import STRONG_PASSWORD, TEST_PASSWORD, LocalDaemons
from tests.helpers.ports import free_port

pytestmark = pytest.mark.usefixtures("lab_tools")


# -- default_credentials: found on every protocol, with proof ------------------------------

def test_telnet_default_found_with_transcript(daemons: LocalDaemons) -> None:
    port = daemons.telnetd_login()
    f, store = run_check("default_credentials", port, "telnet", credentials=CredentialOptions(budget=3))
    f = one(f)
    assert f.status is Status.FAIL and "admin / admin" in f.summary
    proof = store.artefacts[f.artefacts[0]].data.decode()
    assert ">> admin\\r\\n" in proof and "~ # " in proof and "Password: " in proof


def test_ssh_default_found_and_session_opened(daemons: LocalDaemons) -> None:
    port = daemons.dropbear()
    f, store = run_check("default_credentials", port, "ssh", credentials=CredentialOptions(budget=3))
    f = one(f)
    assert f.status is Status.FAIL and "admin / admin" in f.summary
    proof = store.artefacts[f.artefacts[0]].data.decode()
    assert "SSH-2.0-dropbear" in proof and "session channel opened" in proof


def test_ftp_default_found(daemons: LocalDaemons) -> None:
    port = daemons.vsftpd(anonymous=False, password=TEST_PASSWORD)
    f, store = run_check("default_credentials", port, "ftp", credentials=CredentialOptions(budget=3))
    f = one(f)
    assert f.status is Status.FAIL
    proof = store.artefacts[f.artefacts[0]].data.decode()
    assert ">> PASS admin" in proof and "<< 230" in proof


@pytest.mark.parametrize("method", ["basic", "digest"])
def test_http_default_found_and_proven(daemons: LocalDaemons, method: str) -> None:
    port = daemons.lighttpd_auth(admin_method=method)
    f, store = run_check("default_credentials", port, "http", credentials=CredentialOptions(budget=2))
    f = one(f)
    assert f.status is Status.FAIL and f"HTTP {method}" in f.summary and "401 without credentials" in f.summary
    proof = store.artefacts[f.artefacts[0]].data.decode()
    sent = "Authorization: Basic YWRtaW46YWRtaW4=" if method == "basic" else 'Authorization: Digest username="admin"'
    assert sent in proof


def test_http_form_login_default_found_and_proven(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_form()
    f, store = run_check("default_credentials", port, "http", credentials=CredentialOptions(budget=3))
    f = one(f)
    assert f.status is Status.FAIL and "HTTP form" in f.summary, f
    proof = store.artefacts[f.artefacts[0]].data.decode()
    assert "POST /cgi-bin/login.cgi" in proof and "username=admin&password=admin" in proof.replace("tok=t0k3n&", "")
    assert "Router status" in proof  # the page behind the login, which the wrong password never saw


def test_http_form_login_strong_password_passes(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_form(STRONG_PASSWORD)
    f, store = run_check("default_credentials", port, "http", credentials=CredentialOptions(budget=3))
    f = one(f)
    assert f.status is Status.PASS, f
    table = json.loads(store.artefacts[f.artefacts[-1]].data)
    assert [a["result"] for a in table["attempts"]] == ["failure"] * 3


def test_mqtt_default_found(daemons: LocalDaemons) -> None:
    port = daemons.mosquitto(anonymous=False)
    f, _ = run_check("default_credentials", port, "mqtt", credentials=CredentialOptions(budget=3))
    f = one(f)
    assert f.status is Status.FAIL and "CONNACK 0" in f.summary


def test_snmp_public_and_private_found(daemons: LocalDaemons) -> None:
    port = daemons.snmpd(rw="private")
    f, store = run_check("default_credentials", port, "snmp", transport="udp")
    f = one(f)
    assert f.status is Status.FAIL and "'public'" in f.summary and "'private'" in f.summary
    assert "Linux" in artefact_text(store, f)
    # every community in one burst with one shared wait (issue 14), each still its own attempt
    assert f.details["attempts"] == 2 and "2 communities in one burst per version" in artefact_text(store, f)


# -- a device that locks the client out for a short, stated pause ------------------------------

def test_short_lockout_is_waited_out_and_every_pair_is_answered(daemons: LocalDaemons) -> None:
    """The hardened gateway's login stand-in, scaled down: 3 failures lock the client out for 2 s
    (429 + Retry-After). Twice the trials pause, then go on with the ranked pairs: PASS only with
    every pair of the budget answered with a rejection, and the waits reported."""
    port = daemons.lighttpd_lockout(lockout_after=3, lock_seconds=2)
    opts = CredentialOptions(budget=6)
    f, store = run_check("default_credentials", port, "http", credentials=opts)
    f = one(f)
    assert f.status is Status.PASS, f.summary
    table = json.loads(store.artefacts[f.artefacts[-1]].data)
    assert [a["result"] for a in table["attempts"]] == ["failure"] * 6  # 429s are not counted as answers
    waits = f.details["lockout_waits"]
    assert 1 <= len(waits) <= 2 and all(w["status"] == 429 and w["retry_after_s"] <= 3 for w in waits)
    assert "locked the client out" in f.summary and "waited out" in f.summary


def test_lockout_waits_are_bounded(daemons: LocalDaemons) -> None:
    """More lockouts than the bound (two pauses per service): the trials stop, INCONCLUSIVE, never PASS."""
    port = daemons.lighttpd_lockout(lockout_after=2, lock_seconds=2)
    f, _ = run_check("default_credentials", port, "http", credentials=CredentialOptions(budget=12))
    f = one(f)
    assert f.status is Status.INCONCLUSIVE and "429" in (f.reason or ""), f.summary
    assert len(f.details["lockout_waits"]) == 2 and f.details["attempts"] < 12


def test_long_lockout_is_not_waited_out(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_lockout(lockout_after=2, lock_seconds=600)
    f, _ = run_check("default_credentials", port, "http", credentials=CredentialOptions(budget=6))
    f = one(f)
    assert f.status is Status.INCONCLUSIVE and f.details["lockout_waits"] == [], f.summary
    assert re.search(r"asked for a pause of 60[01] s", f.summary)


# -- wrong credentials are not reported; PASS needs a real login prompt ------------------------

def test_telnet_strong_password_passes(daemons: LocalDaemons) -> None:
    port = daemons.telnetd_login(password=STRONG_PASSWORD)
    f, store = run_check("default_credentials", port, "telnet", credentials=CredentialOptions(budget=4))
    f = one(f)
    assert f.status is Status.PASS and f.details["attempts"] == 4
    table = json.loads(store.artefacts[f.artefacts[-1]].data)
    assert [a["result"] for a in table["attempts"]] == ["failure"] * 4


def test_ssh_strong_password_passes(daemons: LocalDaemons) -> None:
    port = daemons.dropbear(password=STRONG_PASSWORD)
    f, _ = run_check("default_credentials", port, "ssh", credentials=CredentialOptions(budget=3))
    f = one(f)
    assert f.status is Status.PASS
    # the first attempt's 'none' request lists what dropbear allows (and is not counted as a try)
    assert f.details["auth_methods"] == ["publickey", "password"]


def test_key_only_openssh_is_not_applicable_and_no_password_is_sent(daemons: LocalDaemons) -> None:
    port = daemons.sshd(["PasswordAuthentication no", "KbdInteractiveAuthentication no"], [("ed", "ed25519")])
    f, store = run_check("default_credentials", port, "ssh", credentials=CredentialOptions(budget=3))
    f = one(f)
    assert f.status is Status.NOT_APPLICABLE, f.summary
    assert f.details["auth_methods"] == ["publickey"] and "publickey" in (f.reason or "")
    log = "\n".join(store.artefacts[a].data.decode() for a in f.artefacts if store.artefacts[a].kind == "transcript")
    assert "listing the allowed methods" in log and "auth_password" not in log


def test_http_strong_password_passes(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_auth(STRONG_PASSWORD)
    f, _ = run_check("default_credentials", port, "http", credentials=CredentialOptions(budget=2))
    assert one(f).status is Status.PASS


def test_snmp_unknown_communities_pass(daemons: LocalDaemons) -> None:
    port = daemons.snmpd(ro="x9-not-default")
    f, _ = run_check("default_credentials", port, "snmp", transport="udp")
    assert one(f).status is Status.PASS


def test_open_http_page_is_not_a_login_success(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_open()
    f, _ = run_check("default_credentials", port, "http")
    f = one(f)
    assert f.status is Status.NOT_APPLICABLE and "unauthenticated_access" in f.summary


def test_telnet_without_login_is_not_applicable(daemons: LocalDaemons) -> None:
    port = daemons.telnetd_open_shell()
    f, _ = run_check("default_credentials", port, "telnet")
    assert one(f).status is Status.NOT_APPLICABLE


def test_mqtt_anonymous_broker_is_not_applicable(daemons: LocalDaemons) -> None:
    port = daemons.mosquitto(anonymous=True)
    f, _ = run_check("default_credentials", port, "mqtt")
    assert one(f).status is Status.NOT_APPLICABLE


def test_no_service_is_inconclusive_never_pass() -> None:
    port = free_port()  # nothing listens there
    f, _ = run_check("default_credentials", port, "telnet", credentials=CredentialOptions(budget=3))
    f = one(f)
    assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.CONNECTIVITY


def test_not_opted_in() -> None:
    f, _ = run_check("default_credentials", 1, "telnet", credentials=CredentialOptions(enabled=False))
    assert one(f).reason_code is InconclusiveReason.NOT_OPTED_IN


def test_legacy_ssh_is_unsupported_with_offer(legacy_only_sshd: int) -> None:
    port = legacy_only_sshd
    f, _ = run_check("default_credentials", port, "ssh", credentials=CredentialOptions(budget=2))
    f = one(f)
    assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.UNSUPPORTED
    assert "diffie-hellman-group1-sha1" in f.reason and "ssh-rsa" in f.reason


def test_operator_credentials_tried_first_and_redacted(daemons: LocalDaemons, tmp_path: Path) -> None:
    creds = tmp_path / "mine.csv"
    creds.write_text(f"service,username,password\ntelnet,admin,{STRONG_PASSWORD}\n")
    port = daemons.telnetd_login(password=STRONG_PASSWORD)
    f, store = run_check("default_credentials", port, "telnet",
                         credentials=CredentialOptions(budget=2, user_file=creds))
    f = one(f)
    assert f.status is Status.FAIL and "operator-supplied" in f.summary
    assert STRONG_PASSWORD not in artefact_text(store, f)


def test_malformed_credentials_option_is_usage_error(cli: InProcessCli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("service,username,password\nssh,root\n")
    r = cli("run", "--target", "127.0.0.1", "--credentials", str(bad), "--out", str(tmp_path / "e.json"))
    assert r.returncode == 2 and f"{bad}:2:" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "e.json").exists()  # refused before scanning


# -- unauthenticated_access ---------------------------------------------------------------------

def test_open_settings_page_fails(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_auth()
    f, _ = run_check("unauthenticated_access", port, "http")
    f = one(f)
    assert f.status is Status.FAIL and "/settings" in f.summary and "/admin" in f.details["protected_paths"]


def test_plain_open_site_passes(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_open()
    f, _ = run_check("unauthenticated_access", port, "http")
    assert one(f).status is Status.PASS


@pytest.mark.parametrize("anonymous,status", [(True, Status.FAIL), (False, Status.PASS)])
def test_anonymous_ftp(daemons: LocalDaemons, anonymous: bool, status: Status) -> None:
    port = daemons.vsftpd(anonymous=anonymous, password=TEST_PASSWORD)
    f, _ = run_check("unauthenticated_access", port, "ftp")
    assert one(f).status is status


@pytest.mark.parametrize("anonymous,status", [(True, Status.FAIL), (False, Status.PASS)])
def test_anonymous_mqtt(daemons: LocalDaemons, anonymous: bool, status: Status) -> None:
    port = daemons.mosquitto(anonymous=anonymous)
    f, _ = run_check("unauthenticated_access", port, "mqtt")
    f = one(f)
    assert f.status is status
    if anonymous:
        assert f.details["suback"] == [0] and f.details["publish_echoed"] is True


# what weak devices write into snmpd.conf: net-snmp then makes these objects read-only (notWritable),
# so a write-back of sysContact cannot prove write access there
SYSTEM_SET_IN_CONFIG = ["sysContact support@example.invalid", "sysName gw-test", "sysDescr Test gateway"]


def _system_group(port: int) -> str:
    walk = subprocess.run(["snmpwalk", "-v2c", "-c", "public", "-On", f"udp:127.0.0.1:{port}", "1.3.6.1.2.1.1"],
                          capture_output=True, text=True, timeout=30, env=dict(os.environ, MIBS="")).stdout
    return "\n".join(ln for ln in walk.splitlines() if not ln.startswith(".1.3.6.1.2.1.1.3.0"))  # not sysUpTime


def test_snmp_write_community_proven_without_change(daemons: LocalDaemons) -> None:
    """The weak gateway's case: sysContact/sysName/sysDescr set in the config (net-snmp makes them
    notWritable). "private" is still proven a write community, by the error-status of a SET of
    read-only sysDescr.0 to its own value, and nothing on the agent changes."""
    port = daemons.snmpd(rw="private", extra=SYSTEM_SET_IN_CONFIG)
    before = _system_group(port)
    f, store = run_check("unauthenticated_access", port, "snmp", transport="udp")
    f = one(f)
    assert f.status is Status.FAIL and f.details["community"] == "private", f.summary
    assert f.details["set_error"] == "notWritable" and "noAccess" in f.summary  # public showed the contrast
    rights = {r["community"]: r["rights"] for r in f.details["communities"]}
    assert rights == {"public": "read-only", "private": "write"}
    assert _system_group(port) == before and "Test gateway" in before
    text = artefact_text(store, f)
    assert "SET of the same value" in text and "notWritable" in text


def test_snmp_v1_only_write_rights_are_not_guessed(daemons: LocalDaemons) -> None:
    """SNMPv1 answers noSuchName for a read-only and a read-write community alike: INCONCLUSIVE."""
    port = daemons.snmpd(ro=None, sys_descr="v1 only agent",
                         extra=["com2sec rw 127.0.0.1 private", "group rwg v1 rw", "view all included .1",
                                'access rwg "" any noauth exact all all none'])
    f, _ = run_check("unauthenticated_access", port, "snmp", transport="udp")
    f = one(f)
    assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.UNSUPPORTED, f.summary
    assert "noSuchName" in f.reason and f.details["communities"][0]["version"] == "v1"


@pytest.mark.parametrize("agent", ["per-device community", "v3 only"])
def test_snmp_agent_answering_no_default_community_passes_on_its_v3_report(daemons: LocalDaemons,
                                                                           agent: str) -> None:
    """A v1/v2c agent drops a wrong community silently; silence counts as a refusal only because the
    agent answered SNMPv3 engine discovery, and the findings say so and keep that answer."""
    port = (daemons.snmpd(ro="k7-per-device-4c1") if agent == "per-device community" else
            daemons.snmpd(ro=None, extra=['createUser labadmin SHA-256 "k7-auth-pass-phrase" AES "k7-priv-phrase"',
                                          "rouser labadmin priv"]))
    for check in ("default_credentials", "unauthenticated_access"):
        f, store = run_check(check, port, "snmp", transport="udp")
        f = one(f)
        assert f.status is Status.PASS, (check, f.summary)
        assert f.details["agent_proof"] == "SNMPv3 engine-discovery Report"
        assert f.details["snmpv3_engine_id"].startswith("80001f88")
        assert "without answering" in f.summary and f.details["snmpv3_engine_id"] in f.summary
        assert "SNMPv3 Report: engine ID " + f.details["snmpv3_engine_id"] in artefact_text(store, f)


def test_snmp_silence_without_an_agent_is_never_a_pass() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet:
        quiet.bind(("127.0.0.1", 0))
        port = quiet.getsockname()[1]
        for check in ("default_credentials", "unauthenticated_access"):
            f, _ = run_check(check, port, "snmp", transport="udp")
            f = one(f)
            assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.CONNECTIVITY, f.summary


def test_snmp_read_only_passes(daemons: LocalDaemons) -> None:
    port = daemons.snmpd()
    f, _ = run_check("unauthenticated_access", port, "snmp", transport="udp")
    f = one(f)
    assert f.status is Status.PASS and f.details["readable_communities"] == ["public"]


# -- cleartext_authentication extensions ---------------------------------------------------------

def test_http_basic_on_plain_http_fails(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_auth()
    f, _ = run_check("cleartext_authentication", port, "http")
    f = one(f)
    assert f.status is Status.FAIL and f.details["surface"] == "basic"
    assert f.details["weakness"] == "basic-over-plain-http" and "base64" in f.summary and "readable" in f.title


def test_http_digest_on_plain_http_names_what_is_actually_weak(daemons: LocalDaemons) -> None:
    """Digest sends no password in cleartext: this check does not FAIL it on its own (the lead's
    decision, docs/verdicts.md). PASS, naming what stays weak as warnings, never the Basic wording."""
    port = daemons.lighttpd_auth(admin_method="digest", password=STRONG_PASSWORD)
    f, store = run_check("cleartext_authentication", port, "http")
    f = one(f)
    assert f.status is Status.PASS and f.details["surface"] == "digest", f.summary
    assert f.details["weakness"] == "digest-over-plain-http"
    assert f.details["digest_algorithm"] in ("MD5", "SHA-256")
    assert "no password in cleartext" in f.summary and "attacked offline" in f.summary
    assert "after the login travels unencrypted (not observed" in f.summary and "MD5" in f.summary
    assert "in the clear" not in f.summary and "readable" not in f.summary  # never the Basic wording
    assert len(f.details["warnings"]) >= 3
    assert "WWW-Authenticate: Digest" in artefact_text(store, f)
    assert set(f.clauses) == {"cls:5.1-3", "jc-star:S1.1-12"}


@pytest.mark.parametrize("password", [TEST_PASSWORD, STRONG_PASSWORD])
def test_http_digest_with_a_published_default_password_fails(daemons: LocalDaemons, cli: InProcessCli,
                                                             tmp_path: Path, password: str) -> None:
    """In a run, cleartext_authentication reads default_credentials' finding on the same service (it
    runs after it): a default password logging in through Digest on plain HTTP makes the offline
    attack a lookup and showed the session unencrypted (FAIL); a unique password leaves the PASS."""
    port = daemons.lighttpd_auth(admin_method="digest", password=password)
    out = tmp_path / "ev.json"
    cli("run", "--target", "127.0.0.1", "--ports", str(port), "--udp-ports", "none", "--no-nmap",
        "--profile", "general-iot", "--credential-budget", "3", "--out", str(out), "--quiet")
    doc = json.loads(out.read_text())
    login = next(x for x in doc["findings"] if x["check_id"] == "default_credentials")
    clear = next(x for x in doc["findings"] if x["check_id"] == "cleartext_authentication")
    if password == TEST_PASSWORD:
        assert login["status"] == "FAIL" and clear["status"] == "FAIL", clear["summary"]
        assert clear["details"]["default_login_finding"] == login["id"] and login["id"] in clear["summary"]
        assert "admin / admin" in clear["summary"] and "seen travelling unencrypted" in clear["summary"]
        assert {c["id"]: c["verdict"] for c in doc["clauses"]}["cls:5.1-3"] == "FAIL"
    else:
        assert login["status"] == "PASS" and clear["status"] == "PASS", clear["summary"]
    assert clear["details"]["surface"] == "digest"
    roles = {s["port"]: [r["role"] for r in s["roles"]] for s in doc["services"]}
    assert roles[port] == ["management"]


def test_factory_state_reports_the_default_login_but_does_not_fail_password_clauses(
        daemons: LocalDaemons, cli: InProcessCli, tmp_path: Path) -> None:
    """--device-state factory: the working default login stays a FAIL finding, the password clauses
    (exempt in the factory default state) become INCONCLUSIVE device-state; other clauses are not excused."""
    port = daemons.telnetd_login(user="admin", password="admin")
    outs = {}
    for state in ("factory", None):
        out = tmp_path / f"ev-{state}.json"
        extra = ["--device-state", state] if state else []
        r = cli("run", "--target", "127.0.0.1", "--ports", str(port), "--udp-ports", "none", "--no-nmap",
                "--profile", "general-iot", "--credential-budget", "2", "--out", str(out), "--quiet", *extra)
        assert r.returncode == 1, r.stderr  # telnet's cleartext login still FAILs 5.1-3 / S1.1-12
        outs[state] = json.loads(out.read_text())
    factory, default = outs["factory"], outs[None]
    assert (factory["run"]["device_state"], factory["run"]["device_state_source"]) == ("factory", "operator")
    assert (default["run"]["device_state"], default["run"]["device_state_source"]) == ("initialised", "default")
    login = next(f for f in factory["findings"] if f["check_id"] == "default_credentials")
    assert login["status"] == "FAIL"  # still reported: it is what the first set-up must replace
    got = {c["id"]: c for c in factory["clauses"]}
    was = {c["id"]: c for c in default["clauses"]}
    for cid in ("cls:5.1-1", "cls:5.1-2", "jc-star:S1.1-02", "uk-psti:1"):
        assert got[cid]["verdict"] == "INCONCLUSIVE" and got[cid]["reason_code"] == "device-state", got[cid]
        assert "re-test after initial set-up" in got[cid]["reason"] and login["id"] in got[cid]["findings"]
        assert was[cid]["verdict"] == "FAIL" and was[cid]["reason_code"] is None
    assert got["cls:5.1-3"]["verdict"] == "FAIL"  # the factory state excuses passwords, not cleartext


def test_mqtt_credentials_on_plain_port_fail(daemons: LocalDaemons) -> None:
    port = daemons.mosquitto(anonymous=False)
    f, _ = run_check("cleartext_authentication", port, "mqtt")
    assert one(f).status is Status.FAIL


# -- brute_force_protection ----------------------------------------------------------------------

def test_brute_force_needs_opt_in() -> None:
    f, _ = run_check("brute_force_protection", 1, "telnet")
    f = one(f)
    assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.NOT_OPTED_IN
    assert "--allow-brute-force-test" in f.reason


def test_brute_force_without_rate_limit_fails(daemons: LocalDaemons) -> None:
    port = daemons.telnetd_login()
    f, store = run_check("brute_force_protection", port, "telnet",
                         credentials=CredentialOptions(brute_force=True, brute_force_attempts=6))
    f = one(f)
    assert f.status is Status.FAIL
    table = json.loads(store.artefacts[f.artefacts[0]].data)
    assert len(table["attempts"]) == 6 and all(a["answer_latency_s"] is not None for a in table["attempts"])


def test_brute_force_lighttpd_fails_with_measurements(daemons: LocalDaemons) -> None:
    port = daemons.lighttpd_auth()
    f, store = run_check("brute_force_protection", port, "http",
                         credentials=CredentialOptions(brute_force=True, brute_force_attempts=4))
    f = one(f)
    assert f.status is Status.FAIL and "constant per-attempt delay" in f.details["analysis"]
    assert len(json.loads(store.artefacts[f.artefacts[0]].data)["attempts"]) == 4


def test_brute_force_lockout_passes(daemons: LocalDaemons) -> None:
    port = daemons.telnetd_login(mode="lockout")
    f, _ = run_check("brute_force_protection", port, "telnet", credentials=CredentialOptions(brute_force=True))
    f = one(f)
    assert f.status is Status.PASS and f.details["defence"] == "lockout"
