"""Gap sets come from the MoC tables (data), for every path the issue names."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from probe.compliance.catalog import load_catalog
from probe.compliance.recognition import load_moc, plan_path
from probe.errors import UserError
from tests.helpers.cli import InProcessCli

MOC_DIR = Path(__file__).resolve().parent.parent / "probe" / "data" / "moc"


def gap(holding: str, apply_for: str, device_class: str, moc_dir: Path | None = None) -> list[str]:
    cat = load_catalog()
    return plan_path(cat, load_moc(cat, moc_dir), holding, apply_for, device_class).gap_ids()


def test_jc_star_to_cls_home_gateway() -> None:
    assert sorted(gap("jc-star", "cls", "home-gateway")) == sorted(
        ["cls:5.3-6", "cls:5.3-7", "cls:7.3-1", "cls:7.3-4", "cls:7.3-6", "cls:7.3-7"])


def test_jc_star_to_cls_general_iot() -> None:
    assert gap("jc-star", "cls", "general-iot") == ["cls:5.3-7"]


def test_cls_to_jc_star() -> None:
    want = [f"jc-star:S1.1-{n}" for n in ("01", "06", "09", "11", "12", "13", "14", "15", "16")]
    assert gap("cls", "jc-star", "home-gateway") == want
    assert gap("cls", "jc-star", "general-iot") == want


def test_uk_to_jc_star() -> None:
    want = [f"jc-star:S1.1-{i:02d}" for i in range(1, 17) if i not in (2, 5, 16)]
    assert gap("uk-psti", "jc-star", "general-iot") == want


def test_jc_star_and_cls_to_uk_need_nothing() -> None:
    assert gap("jc-star", "uk-psti", "general-iot") == []
    assert gap("cls", "uk-psti", "home-gateway") == []


def test_no_arrangement_or_no_label_is_full_assessment() -> None:
    cat = load_catalog()
    moc = load_moc(cat)
    p = plan_path(cat, moc, "uk-psti", "cls", "general-iot")
    assert p.full_assessment and len(p.gap) == 13
    assert len(plan_path(cat, moc, "none", "jc-star", "general-iot").gap) == 16
    with pytest.raises(UserError):
        plan_path(cat, moc, "cls", "cls", "general-iot")


def test_gap_sets_follow_the_table_data(tmp_path: Path) -> None:
    """Editing the tables changes the answer: no result is written in code."""
    moc = tmp_path / "moc"
    shutil.copytree(MOC_DIR, moc)
    doc = yaml.safe_load((moc / "japan-singapore.yaml").read_text())
    annex_a = next(t for t in doc["tables"] if t["id"] == "annex-a-cls")
    annex_a["status"]["5.3-7"] = "full"
    annex_a["status"]["5.1-5"] = "none"
    (moc / "japan-singapore.yaml").write_text(yaml.safe_dump(doc))
    assert gap("jc-star", "cls", "general-iot", moc) == ["cls:5.1-5"]
    uk = yaml.safe_load((moc / "japan-uk.yaml").read_text())
    uk["tables"][0]["status"]["S1.1-04"] = "full"
    (moc / "japan-uk.yaml").write_text(yaml.safe_dump(uk))
    assert "jc-star:S1.1-04" not in gap("uk-psti", "jc-star", "general-iot", moc)


@pytest.mark.parametrize("holding,apply_for,expected", [
    ("jc-star", "cls", ["cls:5.3-6", "cls:5.3-7", "cls:7.3-1", "cls:7.3-4", "cls:7.3-6", "cls:7.3-7"]),
    ("cls", "jc-star", [f"jc-star:S1.1-{n}" for n in ("01", "06", "09", "11", "12", "13", "14", "15", "16")]),
    ("uk-psti", "jc-star", [f"jc-star:S1.1-{i:02d}" for i in range(1, 17) if i not in (2, 5, 16)]),
])
def test_plan_cli_names_exactly_the_gap_set(cli: InProcessCli, holding: str, apply_for: str,
                                            expected: list[str]) -> None:
    r = cli("plan", "--profile", "home-gateway", "--holding", holding, "--apply-for", apply_for, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert sorted(c["id"] for c in data["clauses"]) == sorted(expected)
    for c in data["clauses"]:
        assert c["title"] and c["assessment"] in ("network", "partly-network", "documents-only")
        assert isinstance(c["checks"], list)


def test_plan_text_lists_manual_clauses(cli: InProcessCli) -> None:
    r = cli("plan", "--profile", "home-gateway", "--holding", "jc-star", "--apply-for", "cls")
    assert r.returncode == 0
    assert "cls:5.3-6" in r.stdout and "MANUAL" in r.stdout
