"""The scheme catalogs and their evidence rules are complete, well-formed data; overlays are validated."""

import hashlib
from pathlib import Path

import pytest

from probe.compliance.catalog import load_catalog
from probe.compliance.roles import ROLES
from probe.errors import UserError
from probe.models import Assessment, Effect
from probe.plugins import registry

KNOWN = set(registry())


def test_every_scheme_has_its_clauses() -> None:
    cat = load_catalog(known_checks=KNOWN)
    jc = [c.number for c in cat.of_scheme("jc-star")]
    assert jc == [f"S1.1-{i:02d}" for i in range(1, 17)]
    cls_general = {c.number for c in cat.of_scheme("cls", "general-iot")}
    assert cls_general == {"5.1-1", "5.1-2", "5.1-3", "5.1-4", "5.1-5", "5.2-1", "5.3-2", "5.3-3", "5.3-7",
                           "5.3-8", "5.3-10", "5.3-13", "5.3-16"}
    hg_only = {c.number for c in cat.of_scheme("cls", "home-gateway")} - cls_general
    assert hg_only == {"5.3-1", "5.3-6", "5.3-9", "7.3-1", "7.3-4", "7.3-6", "7.3-7"}
    assert [c.id for c in cat.of_scheme("uk-psti")] == ["uk-psti:1", "uk-psti:2", "uk-psti:3", "uk-psti:SoC"]


def test_uk_psti_statement_of_compliance_is_a_manual_clause() -> None:
    """The duty that a statement of compliance accompanies the product is one of the UK Requirements
    (Japan–UK MoC definition 7): a clause of its own, documents only, so never more than MANUAL."""
    soc = load_catalog().get("uk-psti:SoC")
    assert soc.assessment is Assessment.DOCUMENTS and soc.checks == () and soc.text_confirmed
    assert "statement of compliance" in soc.title and soc.applies_to("general-iot") and soc.applies_to("home-gateway")


def test_unconfirmed_texts_are_marked() -> None:
    cat = load_catalog()
    unconfirmed = {c.id for c in cat.clauses if not c.text_confirmed}
    assert {"jc-star:S1.1-08", "jc-star:S1.1-11", "jc-star:S1.1-14", "cls:7.3-1", "cls:7.3-7"} <= unconfirmed
    assert "jc-star:S1.1-02" not in unconfirmed


def test_documents_only_clauses_are_still_listed() -> None:
    cat = load_catalog()
    docs = [c for c in cat.clauses if c.assessment is Assessment.DOCUMENTS]
    assert {"jc-star:S1.1-16", "cls:5.3-13", "uk-psti:3"} <= {c.id for c in docs}


def test_every_clause_says_its_purpose_and_what_needs_documents() -> None:
    for c in load_catalog().clauses:
        assert c.purpose and c.documents, c.id
        for r in c.rules:
            assert r.why and r.roles is not None and r.effect in Effect, c.rule_id(r)


def test_network_clauses_say_why_a_scan_covers_them() -> None:
    cat = load_catalog()
    network = {c.id: c for c in cat.clauses if c.assessment is Assessment.NETWORK}
    assert set(network) == {"cls:5.1-5", "jc-star:S1.1-04"}
    for c in network.values():
        assert len(c.assessment_why) > 40, c.id
    # the app and cloud paths a scan cannot see: FAIL from a proven weakness, never PASS
    assert cat.get("cls:5.1-3").assessment is Assessment.PARTIAL
    assert cat.get("jc-star:S1.1-12").assessment is Assessment.PARTIAL


def test_rules_select_by_check_and_role() -> None:
    cat = load_catalog(known_checks=KNOWN)
    by_clause = {c.id: {r.id: r for r in c.rules} for c in cat.clauses}
    # the update-crypto clause: the update channel, and TLS only on services that carry updates
    r = by_clause["cls:5.3-7"]
    assert r["update-channel"].check == "update_channel" and r["update-channel"].effect is Effect.DECIDES
    assert r["tls-on-update-service"].roles == ("update",)
    assert r["cert-on-update-service"].roles == ("update",)
    # a cleartext update URL only supports the clauses it cannot prove
    for cid in ("cls:5.3-1", "cls:5.3-2", "cls:5.3-10", "cls:7.3-1", "jc-star:S1.1-09"):
        assert by_clause[cid]["update-channel"].effect is Effect.SUPPORTS, cid
    # TLS on the authentication clause: only login services
    assert set(by_clause["cls:5.1-3"]["tls-on-login-service"].roles) == {"management", "device-api"}
    # the password clauses the factory default state exempts
    exempt = {c.id for c in cat.clauses for rule in c.rules if rule.factory_default_exempt}
    assert exempt == {"cls:5.1-1", "cls:5.1-2", "jc-star:S1.1-02", "uk-psti:1"}


def test_every_check_is_named_by_some_rule_and_rule_ids_are_unique() -> None:
    cat = load_catalog(known_checks=KNOWN)
    assert {c.id for c, _ in cat.rules_for_check("cleartext_authentication")} == {"jc-star:S1.1-12", "cls:5.1-3"}
    for check_id in KNOWN:
        assert cat.rules_for_check(check_id), f"{check_id} evidences no clause"
    ids = [c.rule_id(r) for c in cat.clauses for r in c.rules]
    assert len(ids) == len(set(ids))
    assert all(role in ROLES for c in cat.clauses for r in c.rules for role in r.roles)


def test_device_class_filter_on_rules() -> None:
    cat = load_catalog()
    general = {c.id for c, _ in cat.rules_for_check("update_channel", "general-iot")}
    assert "cls:5.3-1" not in general and "cls:5.3-7" in general


OVERLAY = """scheme: cls
clauses:
  - number: 7.3-7
    title: Official wording the lab licensed
    text_confirmed: true
    evidence:
      - id: channel
        check: update_channel
        roles: []
        effect: decides
        why: the official text asks for cryptography on the update channel
"""


def test_overlay_confirms_text_sets_rules_and_is_recorded(tmp_path: Path) -> None:
    f = tmp_path / "official.yaml"
    f.write_text(OVERLAY, encoding="utf-8")
    cat = load_catalog(overlays=[f], known_checks=KNOWN)
    c = cat.get("cls:7.3-7")
    assert c.text_confirmed and c.title == "Official wording the lab licensed"
    assert c.title_source == str(f) and c.rules_source == str(f)
    assert [r.id for r in c.rules] == ["channel"]
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    assert [o.to_json() for o in cat.overlays] == [{"path": str(f), "sha256": digest}]
    # untouched clauses keep their built-in rules
    assert [r.id for r in cat.get("cls:5.3-7").rules] == ["update-channel", "tls-on-update-service",
                                                           "cert-on-update-service"]


def test_catalog_dir_still_applies_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(OVERLAY, encoding="utf-8")
    (tmp_path / "b.yml").write_text("scheme: jc-star\nclauses:\n  - number: S1.1-14\n    text_confirmed: true\n"
                                    "    title: Official S1.1-14\n", encoding="utf-8")
    cat = load_catalog(tmp_path)
    assert cat.get("cls:7.3-7").text_confirmed and cat.get("jc-star:S1.1-14").text_confirmed
    assert [Path(o.path).name for o in cat.overlays] == ["a.yaml", "b.yml"]


def _rule(**over: object) -> str:
    rule = {"id": "r1", "check": "update_channel", "roles": "[]", "effect": "decides", "why": "because"}
    rule.update({k: str(v) for k, v in over.items()})
    body = "".join(f"        {k}: {v}\n" for k, v in rule.items() if v != "DROP")
    return f"scheme: cls\nclauses:\n  - number: 5.3-7\n    evidence:\n      - {body.lstrip()}"


@pytest.mark.parametrize("body,message", [
    ("scheme: nope\nclauses: []\n", "scheme"),
    ("scheme: cls\nclauses:\n  - number: 9.9-9\n    title: x\n", "9.9-9"),
    ("scheme: cls\nclauses: [\n", "not valid YAML"),
    ("scheme: cls\nclauses:\n  - number: 5.1-1\n    checks: [service_inventory]\n", "'checks' was replaced"),
    ("scheme: cls\nclauses:\n  - number: 5.1-1\n    assessment: network\n", "cannot change what a network scan"),
    ("scheme: cls\nclauses:\n  - number: 5.1-1\n    text_confirmed: yes please\n", "true or false"),
    ("scheme: cls\nclauses:\n  - number: 5.3-7\n    evidence: update_channel\n", "must be a list of rules"),
    (_rule(check="no_such_check"), "unknown check 'no_such_check'"),
    (_rule(roles="[admin]"), "unknown role 'admin'"),
    (_rule(effect="blocks"), "effect 'blocks' must be one of decides, fails-only, supports"),
    (_rule(why="''"), "'why' must say why"),
    (_rule(why="DROP"), "missing 'why'"),
    (_rule(id="Bad Id"), "must be lower-case"),
    (_rule(effect="supports", factory_default_exempt="true"), "only makes sense on a rule that can FAIL"),
    (_rule(colour="red"), "unknown key 'colour'"),
    (_rule() + "      - id: r1\n        check: update_channel\n        roles: []\n        effect: supports\n"
               "        why: twice\n", "rule id 'r1' is used twice"),
])
def test_bad_overlay_is_a_one_line_user_error_naming_file_and_clause(tmp_path: Path, body: str, message: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(body, encoding="utf-8")
    with pytest.raises(UserError, match=message) as exc:
        load_catalog(overlays=[bad], known_checks=KNOWN)
    text = str(exc.value)
    assert "\n" not in text and str(bad) in text
    if "clause" in message or "rule" in body:
        assert "clause" in text


def test_directory_given_as_catalog_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a directory"):
        load_catalog(overlays=[tmp_path])


def test_docs_list_every_rule_as_the_catalog_has_it() -> None:
    """docs/verdicts.md's rule tables are generated from the catalogs and must be in step."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, str(repo / "scripts" / "gen-verdict-rules.py"), "--check"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = (repo / "docs" / "verdicts.md").read_text("utf-8")
    for c in load_catalog().clauses:
        assert f"#### {c.id} " in doc
        for rule in c.rules:
            assert f"| `{rule.id}` | {rule.check} |" in doc, c.rule_id(rule)
