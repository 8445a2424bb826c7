"""The scheme catalogs are complete, well-formed data, and user overlays override titles."""

from pathlib import Path

import pytest

from probe.compliance.catalog import load_catalog
from probe.errors import UserError
from probe.models import Assessment
from probe.plugins import registry


def test_every_scheme_has_its_clauses() -> None:
    cat = load_catalog()
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


def test_documents_only_clauses_map_to_no_pass_capable_check() -> None:
    # A documents-only clause can never be PASS; it must still appear in the catalog.
    cat = load_catalog()
    docs = [c for c in cat.clauses if c.assessment is Assessment.DOCUMENTS]
    assert {"jc-star:S1.1-16", "cls:5.3-13", "uk-psti:3"} <= {c.id for c in docs}


def test_mapping_is_inverted_onto_checks() -> None:
    cat = load_catalog()
    assert set(cat.clauses_for_check["cleartext_authentication"]) == {"jc-star:S1.1-12", "cls:5.1-3"}
    for check_id in registry():
        assert check_id in cat.clauses_for_check, f"{check_id} evidences no clause"


def test_overlay_overrides_titles_and_adds_checks(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "scheme: cls\nclauses:\n  - number: 5.1-1\n    title: Official wording the lab licensed\n"
        "    checks: [service_inventory]\n", encoding="utf-8")
    cat = load_catalog(tmp_path)
    c = cat.get("cls:5.1-1")
    assert c.title == "Official wording the lab licensed"
    assert c.title_source.endswith("mine.yaml")
    assert "service_inventory" in c.checks and "default_credentials" in c.checks
    assert "cls:5.1-1" in cat.clauses_for_check["service_inventory"]


@pytest.mark.parametrize("body,message", [
    ("scheme: nope\nclauses: []\n", "scheme"),
    ("scheme: cls\nclauses:\n  - number: 9.9-9\n    title: x\n", "9.9-9"),
    ("scheme: cls\nclauses: [\n", "not valid YAML"),
])
def test_bad_overlay_is_a_one_line_user_error(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(UserError, match=message) as exc:
        load_catalog(tmp_path)
    assert "\n" not in str(exc.value)
