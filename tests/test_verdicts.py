"""Unit tests of the aggregation rules in docs/verdicts.md (pure logic over findings, rules and roles)."""

import dataclasses
import itertools

import pytest

from probe.compliance.catalog import EvidenceRule, load_catalog
from probe.compliance.roles import assign_roles
from probe.compliance.verdicts import clause_verdict, clauses_for_finding
from probe.models import DeviceState, Effect, Finding, InconclusiveReason, Service, ServiceRole, Status

_ids = itertools.count(1)


def f(status: Status, check: str = "brute_force_protection", port: int | None = None,
      code: InconclusiveReason | None = None, details: dict | None = None) -> Finding:
    return Finding(id=f"f-{next(_ids)}", check_id=check, status=status, host="h", title="t", summary=f"s {status}",
                   port=port, transport="tcp" if port else None,
                   reason=None if status in (Status.PASS, Status.FAIL) else "why",
                   reason_code=code or (InconclusiveReason.CONNECTIVITY if status is Status.INCONCLUSIVE else None),
                   details=details or {})


CAT = load_catalog()
NET = CAT.get("cls:5.1-5")  # network: brute_force_protection decides
PART = CAT.get("cls:5.1-1")  # partly-network: default_credentials decides
DOCS = CAT.get("cls:5.3-13")  # documents-only


def verdict(clause, findings, roles=None, state=DeviceState.INITIALISED):
    return clause_verdict(clause, "h", findings, clause.checks, None, roles=roles, device_state=state)


@pytest.mark.parametrize("clause,findings,want", [
    (NET, [f(Status.PASS)], Status.PASS),
    (NET, [f(Status.PASS), f(Status.FAIL)], Status.FAIL),
    (NET, [f(Status.PASS), f(Status.INCONCLUSIVE)], Status.INCONCLUSIVE),
    (NET, [f(Status.NOT_APPLICABLE)], Status.NOT_APPLICABLE),
    (NET, [f(Status.NOT_APPLICABLE), f(Status.PASS)], Status.PASS),
    (NET, [], Status.INCONCLUSIVE),
    (PART, [f(Status.FAIL, "default_credentials")], Status.FAIL),
    (PART, [f(Status.PASS, "default_credentials")], Status.MANUAL),
    (PART, [f(Status.INCONCLUSIVE, "default_credentials")], Status.INCONCLUSIVE),
    (PART, [], Status.MANUAL),
    (DOCS, [f(Status.FAIL, "security_txt")], Status.MANUAL),
    (DOCS, [], Status.MANUAL),
])
def test_contract_table(clause, findings, want) -> None:
    v = verdict(clause, findings)
    assert v.verdict is want
    assert v.reason
    assert (v.reason_code is not None) == (want is Status.INCONCLUSIVE)


def test_findings_of_other_checks_never_count() -> None:
    # a brute-force FAIL says nothing about default passwords
    v = verdict(PART, [f(Status.FAIL, "brute_force_protection")])
    assert v.verdict is Status.MANUAL and v.findings == () and v.supporting == ()


def test_never_pass_when_part_needs_documents() -> None:
    for clause in CAT.clauses:
        if clause.assessment.value != "network":
            fs = [f(Status.PASS, chk) for chk in clause.checks]
            assert verdict(clause, fs).verdict is not Status.PASS


def test_declaration_is_attached_not_a_pass() -> None:
    v = clause_verdict(DOCS, "h", [], DOCS.checks, {"support_period_end": "2030-01-01"})
    assert v.verdict is Status.MANUAL and v.basis == "declared"
    assert clause_verdict(DOCS, "h", [], DOCS.checks, None).basis == "manual"


def test_no_evidence_network_clause_is_inconclusive_missing_input() -> None:
    v = verdict(NET, [])
    assert v.reason_code is InconclusiveReason.NO_INPUT


# -- roles ---------------------------------------------------------------------------------------

UPDATE_CRYPTO = CAT.get("cls:5.3-7")
AUTH_CRYPTO = CAT.get("cls:5.1-3")
ROLES = {"h:8443/tcp": (ServiceRole("management", "HTTP basic login at /admin/"),),
         "h:9443/tcp": (ServiceRole("update", "the device names https://h:9443/fw as its update URL"),)}


def test_weak_tls_on_an_admin_ui_is_not_update_crypto_evidence() -> None:
    admin_tls = f(Status.FAIL, "tls_configuration", port=8443)
    v = verdict(UPDATE_CRYPTO, [admin_tls], ROLES)
    assert v.verdict is Status.MANUAL and admin_tls.id not in v.findings
    w = verdict(AUTH_CRYPTO, [admin_tls], ROLES)
    assert w.verdict is Status.FAIL and w.findings == (admin_tls.id,)
    assert clauses_for_finding(admin_tls, [UPDATE_CRYPTO, AUTH_CRYPTO], ROLES) == ("cls:5.1-3",)


def test_weak_tls_on_the_update_service_fails_update_crypto() -> None:
    update_tls = f(Status.FAIL, "tls_certificate", port=9443)
    v = verdict(UPDATE_CRYPTO, [update_tls], ROLES)
    assert v.verdict is Status.FAIL and v.findings == (update_tls.id,)
    by_id = {r.id: r for r in v.rules}
    assert by_id["cls:5.3-7#cert-on-update-service"].findings == (update_tls.id,)
    assert by_id["cls:5.3-7#tls-on-update-service"].findings == ()
    # the update port carries no login: not authentication evidence
    assert verdict(AUTH_CRYPTO, [update_tls], ROLES).verdict is Status.MANUAL


def test_device_scoped_finding_is_selected_only_by_rules_without_roles() -> None:
    rule = EvidenceRule("r", "update_channel", ("update",), Effect.DECIDES, "why")
    clause = dataclasses.replace(UPDATE_CRYPTO, rules=(rule,))
    assert verdict(clause, [f(Status.FAIL, "update_channel")], ROLES).verdict is Status.MANUAL


def test_supports_is_attached_and_never_decides() -> None:
    cleartext = f(Status.FAIL, "update_channel")
    v = verdict(CAT.get("cls:5.3-2"), [cleartext])
    assert v.verdict is Status.MANUAL and v.findings == () and v.supporting == (cleartext.id,)
    w = verdict(UPDATE_CRYPTO, [cleartext])
    assert w.verdict is Status.FAIL and w.findings == (cleartext.id,) and w.supporting == ()
    # an INCONCLUSIVE supporting finding does not block either
    assert verdict(CAT.get("cls:5.3-3"), [f(Status.INCONCLUSIVE, "update_mechanism")]).verdict is Status.MANUAL


def test_fails_only_pass_never_counts_toward_a_pass() -> None:
    only = dataclasses.replace(NET, rules=(EvidenceRule("r", "brute_force_protection", (), Effect.FAILS_ONLY, "w"),))
    assert verdict(only, [f(Status.PASS)]).verdict is Status.INCONCLUSIVE
    assert verdict(only, [f(Status.FAIL)]).verdict is Status.FAIL
    assert verdict(only, [f(Status.INCONCLUSIVE)]).verdict is Status.INCONCLUSIVE


def test_unconfirmed_text_is_manual_with_findings_attached() -> None:
    unconfirmed = CAT.get("cls:7.3-7")
    cleartext = f(Status.FAIL, "update_channel")
    v = verdict(unconfirmed, [cleartext])
    assert v.verdict is Status.MANUAL and "not confirmed" in v.reason and v.findings == (cleartext.id,)
    confirmed = dataclasses.replace(unconfirmed, text_confirmed=True)
    assert verdict(confirmed, [cleartext]).verdict is Status.FAIL


# -- device state ---------------------------------------------------------------------------------

def test_factory_state_makes_the_password_clauses_inconclusive_not_fail() -> None:
    login = f(Status.FAIL, "default_credentials", port=23)
    for cid in ("cls:5.1-1", "cls:5.1-2", "jc-star:S1.1-02", "uk-psti:1"):
        v = verdict(CAT.get(cid), [login], state=DeviceState.FACTORY)
        assert v.verdict is Status.INCONCLUSIVE and v.reason_code is InconclusiveReason.DEVICE_STATE, cid
        assert "re-test after initial set-up" in v.reason and v.findings == (login.id,)
        assert verdict(CAT.get(cid), [login]).verdict is Status.FAIL
    # other clauses are not exempt: a cleartext login stays a FAIL in the factory state
    cleartext = f(Status.FAIL, "cleartext_authentication", port=23)
    assert verdict(AUTH_CRYPTO, [cleartext], state=DeviceState.FACTORY).verdict is Status.FAIL


def test_factory_state_does_not_excuse_a_fail_from_a_rule_that_is_not_exempt() -> None:
    exempt = EvidenceRule("login", "default_credentials", (), Effect.DECIDES, "w", factory_default_exempt=True)
    other = EvidenceRule("bf", "brute_force_protection", (), Effect.DECIDES, "w")
    clause = dataclasses.replace(PART, rules=(exempt, other))
    v = verdict(clause, [f(Status.FAIL, "default_credentials"), f(Status.FAIL)], state=DeviceState.FACTORY)
    assert v.verdict is Status.FAIL and "brute_force_protection" in v.reason


# -- role assignment -------------------------------------------------------------------------------

def test_roles_come_from_protocols_and_observations() -> None:
    svcs = [Service("h", 22, "tcp", "ssh", "test", banner_artefact="a-1", confidence="banner"),
            Service("h", 21, "tcp", "ftp", "test", confidence="banner"),
            Service("h", 1883, "tcp", "mqtt", "test", confidence="handshake"),
            Service("h", 80, "tcp", "http", "test", confidence="handshake"),
            Service("h", 8443, "tcp", "https", "test", tls=True, confidence="handshake"),
            Service("h", 5000, "tcp", "upnp", "test", confidence="handshake"),
            Service("h", 9000, "tcp", "http", "test", confidence="handshake")]
    fs = [
        f(Status.PASS, "unauthenticated_access", port=8443, details={"protected_paths": ["/admin/"], "open": []}),
        f(Status.FAIL, "update_channel", details={"update_url": "http://h/api/update-check", "found_in": "x",
                                                 "update_pages": []}),
        f(Status.PASS, "upnp_exposure", details={"locations": ["http://h:5000/rootDesc.xml"],
                                                "igd": [{"control_url": "http://h:5000/ctl/IPConn",
                                                         "service_type": "urn:x:WANIPConnection:1"}]}),
        f(Status.PASS, "update_mechanism", details={"update_pages": [], "update_urls": [], "pages_visited": [
            {"value": "200 Index of /share", "source": "http://h:9000/share/", "artefact": "a-9"}]}),
    ]
    roles = assign_roles("h", svcs, fs)
    names = {k: [r.role for r in v] for k, v in roles.items()}
    assert names == {"h:22/tcp": ["management"], "h:21/tcp": ["data"], "h:1883/tcp": ["device-api"],
                     "h:80/tcp": ["update"], "h:8443/tcp": ["management"], "h:5000/tcp": ["device-api"],
                     "h:9000/tcp": ["data"]}
    ssh = roles["h:22/tcp"][0]
    assert ssh.evidence == ("a-1",) and "SSH" in ssh.why
    assert roles["h:80/tcp"][0].evidence == (fs[1].id,)
    assert "/admin/" in roles["h:8443/tcp"][0].why


def test_no_role_from_a_port_number_guess() -> None:
    """7547 (TR-069's port) and 8883 (MQTT over TLS) named only by their port numbers: no role. The
    same ports answering as what they are get theirs."""
    guessed = [Service("h", 7547, "tcp", "http", "syn-scan", confidence="port"),
               Service("h", 8883, "tcp", "mqtts", "syn-scan", confidence="port")]
    assert assign_roles("h", guessed, []) == {"h:7547/tcp": (), "h:8883/tcp": ()}
    seen = [Service("h", 7547, "tcp", "http", "syn-scan", confidence="handshake"),
            Service("h", 8883, "tcp", "mqtts", "syn-scan", confidence="handshake")]
    assert {k: [r.role for r in v] for k, v in assign_roles("h", seen, []).items()} == {
        "h:7547/tcp": ["device-api"], "h:8883/tcp": ["device-api"]}


def test_a_default_login_on_any_protocol_gives_management() -> None:
    """FTP is a file share (data); a known credential that logs in to an account on it also makes it
    a way to administer the device. A FAIL of another check gives no such role."""
    svcs = [Service("h", 21, "tcp", "ftp", "syn-scan", confidence="banner"),
            Service("h", 1883, "tcp", "mqtt", "syn-scan", confidence="handshake")]
    fs = [f(Status.FAIL, "default_credentials", port=21, details={"login": "FTP USER/PASS"}),
          f(Status.FAIL, "unauthenticated_access", port=1883, details={})]
    roles = assign_roles("h", svcs, fs)
    assert [r.role for r in roles["h:21/tcp"]] == ["management", "data"]
    assert fs[0].id in roles["h:21/tcp"][0].evidence and "ftp login" in roles["h:21/tcp"][0].why
    assert [r.role for r in roles["h:1883/tcp"]] == ["device-api"]


def test_an_update_url_on_another_host_gives_no_role() -> None:
    svcs = [Service("h", 443, "tcp", "https", "test", tls=True)]
    fs = [f(Status.NOT_APPLICABLE, "update_channel", details={"update_url": "https://vendor.example/fw",
                                                            "update_pages": []})]
    assert assign_roles("h", svcs, fs) == {"h:443/tcp": ()}
