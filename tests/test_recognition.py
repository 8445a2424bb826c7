"""Gap sets come from the MoC tables (data), for every path the issue names."""

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import yaml

from probe.compliance.catalog import load_catalog
from probe.compliance.held_label import HeldLabel
from probe.compliance.recognition import RecognitionPath, all_paths, load_moc, plan_path
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


# --- issue 11 §3: every path's basis, dates, the held label, chained recognition -------------------

SHARED_MOC = Path(__file__).resolve().parents[2] / "shared" / "moc"
JUNE_2026 = dt.date(2026, 6, 1)


def path(holding: str, apply_for: str, device_class: str = "general-iot", *, on: dt.date = dt.date(2026, 12, 1),
         held: HeldLabel | None = None, moc_dir: Path | None = None) -> RecognitionPath:
    cat = load_catalog()
    return plan_path(cat, load_moc(cat, moc_dir), holding, apply_for, device_class, on=on, held=held)


def label(scheme: str = "jc-star", *, level: int | None = 1, valid_until: str | None = "2028-03-31",
          obtained_via: str | None = "own-assessment", public_url: str | None = None) -> HeldLabel:
    return HeldLabel(scheme=scheme, identifier=f"{scheme.upper()}-0042", level=level, valid_from=dt.date(2025, 4, 1),
                     valid_until=dt.date.fromisoformat(valid_until) if valid_until else None,
                     obtained_via=obtained_via, public_url=public_url, issued_by=None, file="decl.yaml",
                     sha256="0" * 64, line=20, lines={"obtained_via": 26, "public_url": 27})


@pytest.mark.parametrize("device_class", ["general-iot", "home-gateway"])
def test_every_path_states_its_basis(device_class: str) -> None:
    """Instrument, paragraph, condition and in-force date for every path the data knows; an empty
    gap set always says what recognises it in full."""
    cat = load_catalog()
    paths = all_paths(cat, load_moc(cat), device_class, on=dt.date(2026, 12, 1))
    assert {(p.holding, p.apply_for) for p in paths} == {
        ("cls", "jc-star"), ("jc-star", "cls"), ("uk-psti", "jc-star"), ("jc-star", "uk-psti"), ("cls", "uk-psti")}
    for p in paths:
        j = p.to_json()
        assert j["status"] == "in-force" and j["as_of"] == "2026-12-01"
        used = [b for b in j["bases"] if b["applies"]]
        assert used, (p.holding, p.apply_for)
        for b in used:
            assert b["instrument"] and b["kind"] in ("moc", "law") and b["paragraph"] and b["condition"]
            assert dt.date.fromisoformat(b["in_force"]) <= dt.date(2026, 12, 1) and b["in_force_ref"]
            assert b["gap_source"]
        if not j["gap_set"]:
            assert "recognised in full by" in j["explanation"]
            assert all(b["paragraph"] in j["explanation"] for b in used)


def test_uk_to_jc_star_gap_rests_on_ipa_exemptions_and_needs_the_public_self_declaration() -> None:
    p = path("uk-psti", "jc-star").to_json()
    (basis,) = [b for b in p["bases"] if b["applies"]]
    assert basis["instrument"] == "japan-uk" and basis["paragraph"] == "para 3.2(a)"
    assert "IPA" in basis["gap_source"] and "no clause table" in basis["gap_source"]
    assert all(g["wording"] is None for g in p["gap_set"])  # the MoC has no status wording to quote
    (item,) = p["manual_items"]
    assert item["id"] == "public-self-declaration" and item["refs"] == ["Japan–UK MoC para 3.2(a)"]
    assert item["verdict"] == "MANUAL" and item["basis"] == "manual" and item["declared"] is None
    held = label("uk-psti", level=None, valid_until=None, public_url="https://acme.invalid/psti-statement")
    (item,) = path("uk-psti", "jc-star", held=held).to_json()["manual_items"]
    assert item["basis"] == "declared"
    assert item["declared"] == {"field": "held_label.public_url", "value": "https://acme.invalid/psti-statement",
                                "line": 27}


def test_jc_star_to_uk_rests_on_uk_law_and_the_moc_and_prints_para_3_2_c() -> None:
    p = path("jc-star", "uk-psti").to_json()
    assert p["gap_set"] == [] and p["status"] == "in-force"
    used = {b["instrument"]: b for b in p["bases"] if b["applies"]}
    assert set(used) == {"japan-uk", "uk-psti-regulations"}
    assert used["uk-psti-regulations"]["kind"] == "law" and used["uk-psti-regulations"]["in_force"] == "2025-12-04"
    assert "SI 2025/1267" in used["uk-psti-regulations"]["paragraph"]
    assert used["japan-uk"]["paragraph"] == "para 3.2(b)" and used["japan-uk"]["in_force"] == "2026-01-01"
    assert any("para 3.2(c)" in n and "product safety" in n for n in p["notes"])
    # before the MoC commences, UK law alone carries the path, and the MoC basis says why it is not used
    early = path("jc-star", "uk-psti", on=dt.date(2025, 12, 10)).to_json()
    assert early["status"] == "in-force" and early["gap_set"] == []
    moc = next(b for b in early["bases"] if b["instrument"] == "japan-uk")
    assert not moc["applies"] and "2026-01-01" in moc["why_not"]
    assert not any("3.2(c)" in n for n in early["notes"])  # an MoC paragraph, printed with the MoC basis


def test_cls_to_uk_is_uk_law_not_an_moc() -> None:
    p = path("cls", "uk-psti", "home-gateway").to_json()
    assert p["gap_set"] == [] and [b["kind"] for b in p["bases"]] == ["law"]
    assert "UK PSTI Regulations" in p["explanation"] and "MoC" not in p["explanation"]


@pytest.mark.parametrize("holding,apply_for,starts", [
    ("jc-star", "cls", JUNE_2026), ("cls", "jc-star", JUNE_2026),
    ("uk-psti", "jc-star", dt.date(2026, 1, 1)), ("cls", "uk-psti", dt.date(2025, 12, 4)),
])
def test_a_path_is_not_in_force_before_its_date(holding: str, apply_for: str, starts: dt.date) -> None:
    before = path(holding, apply_for, on=starts - dt.timedelta(days=1))
    assert before.status == "not-in-force" and before.full_assessment and before.in_force_from == starts
    cat = load_catalog()
    assert before.gap_ids() == [c.id for c in cat.of_scheme(apply_for, "general-iot")]  # a full assessment
    on_the_day = path(holding, apply_for, on=starts)
    assert on_the_day.status == "in-force"
    assert [g.clause_id for g in before.pending_gap] == on_the_day.gap_ids()  # what it will be, said now
    assert str(starts) in before.explanation and "NOT IN FORCE" in before.explanation


def test_moc_dates_match_the_memoranda_texts() -> None:
    """The in-force dates in the data are the commencement dates the MoCs themselves state (para 11.2)."""
    if not SHARED_MOC.is_dir():
        pytest.skip("the MoC texts (../shared/moc) are not beside this checkout")
    cat = load_catalog()
    inst = {t.instrument.id: t.instrument for t in load_moc(cat).tables}
    js = (SHARED_MOC / "japan-singapore-moc.en.txt").read_text("utf-8")
    uk = (SHARED_MOC / "japan-uk-moc.en.txt").read_text("utf-8")
    assert "commence on 01-06-2026" in js and inst["japan-singapore"].in_force == JUNE_2026
    assert "SIGNED in duplicate in Japan on 18/3/2026" in js and inst["japan-singapore"].signed == dt.date(2026, 3, 18)
    assert "commence on 01 01 2026" in uk and inst["japan-uk"].in_force == dt.date(2026, 1, 1)
    assert "on 5/11/2025" in uk and inst["japan-uk"].signed == dt.date(2025, 11, 5)


def test_status_wording_is_the_moc_own_and_comes_from_the_data(tmp_path: Path) -> None:
    js = (SHARED_MOC / "japan-singapore-moc.en.txt").read_text("utf-8") if SHARED_MOC.is_dir() else None
    p = path("jc-star", "cls", "home-gateway")
    by_id = {g.clause_id: g for g in p.gap}
    assert by_id["cls:5.3-7"].status == "partial" and by_id["cls:7.3-4"].status == "none"
    assert by_id["cls:5.3-7"].wording == "Partial Compliance with CLS is required to be assessed."
    assert by_id["cls:5.3-7"].wording_ja == "一部適合 ※CLS への適合性評価が必要"
    if js is not None:
        assert f"Provision 5.3-7\t{by_id['cls:5.3-7'].wording}" in js
    moc = tmp_path / "moc"
    shutil.copytree(MOC_DIR, moc)
    doc = yaml.safe_load((moc / "japan-singapore.yaml").read_text())
    next(t for t in doc["tables"] if t["id"] == "annex-a-cls")["wording"]["partial"] = "edited in the data"
    (moc / "japan-singapore.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    assert path("jc-star", "cls", moc_dir=moc).gap[0].wording == "edited in the data"


def test_held_label_answers_the_third_party_question() -> None:
    open_q = path("jc-star", "cls").to_json()["questions"]
    assert [q["id"] for q in open_q] == ["third-party-label"] and not open_q[0]["answered"]
    assert open_q[0]["refs"] == ["Japan–Singapore MoC para 3.4"]
    (q,) = path("jc-star", "cls", held=label()).to_json()["questions"]
    assert q["answered"] and q["answer"] == "own-assessment" and q["line"] == 26
    uk = path("uk-psti", "jc-star", held=label("uk-psti", level=None, valid_until=None,
                                                public_url="https://x.invalid/s")).to_json()["questions"]
    assert uk[0]["refs"] == ["Japan–UK MoC para 3.3"] and "UK PSTI compliance" in uk[0]["text"]


def test_chained_recognition_is_refused_in_one_line() -> None:
    """UK PSTI → JC-STAR → CLS: a JC-STAR label obtained through the Japan–UK arrangement is not
    recognised by the Japan–Singapore MoC (para 3.4)."""
    with pytest.raises(UserError) as exc:
        path("jc-star", "cls", held=label(obtained_via="uk-psti"))
    msg = str(exc.value)
    assert "\n" not in msg and "chained recognition" in msg and "uk-psti → jc-star → cls" in msg
    assert "para 3.4" in msg and "--holding none" in msg
    # a JC-STAR label obtained from a CLS label, applying for UK PSTI: the MoC excludes it (para 3.3),
    # UK law is not known to accept it; the CLS label itself is accepted directly
    with pytest.raises(UserError) as exc:
        path("jc-star", "uk-psti", held=label(obtained_via="cls"))
    assert "para 3.3" in str(exc.value) and "--holding cls" in str(exc.value)


@pytest.mark.parametrize("held,needle", [
    (label(valid_until="2026-06-30"), "expired on 2026-06-30"),
    (label(obtained_via="cls"), "already holds"),
])
def test_a_label_not_valid_on_the_date_refuses_the_path(held: HeldLabel, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        path("jc-star", "cls", held=held)


def test_label_levels_follow_each_instrument() -> None:
    # Japan–Singapore para 3.3: every JC-STAR level counts as ★1
    assert path("jc-star", "cls", held=label(level=2)).status == "in-force"
    # Japan–UK definition 5 and the UK condition both name the ★1 label: a ★2 label is not assumed to count
    with pytest.raises(UserError) as exc:
        path("jc-star", "uk-psti", held=label(level=2))
    assert "★1 only" in str(exc.value) and "★2" in str(exc.value)
    assert path("cls", "uk-psti", held=label("cls", level=3)).status == "in-force"  # any CLS level


def test_held_label_must_name_the_holding_scheme() -> None:
    with pytest.raises(UserError, match="held_label.scheme is cls but --holding is jc-star"):
        path("jc-star", "cls", held=label("cls"))


HELD_DECL = """\
declaration_version: 1
manufacturer: ACME Networks
model: EX-GW1000
held_label:
  scheme: {scheme}
  identifier: {identifier}
  level: 1
  issued_by: IPA
  valid_from: 2025-04-01
  valid_until: 2028-03-31
  obtained_via: {via}
"""


def _decl(tmp_path: Path, scheme: str = "jc-star", via: str = "own-assessment", identifier: str = "JC-0042") -> Path:
    f = tmp_path / "decl.yaml"
    f.write_text(HELD_DECL.format(scheme=scheme, via=via, identifier=identifier))
    return f


def test_plan_text_shows_basis_partial_vs_none_wording_notes_and_the_question(cli: InProcessCli,
                                                                              tmp_path: Path) -> None:
    r = cli("plan", "--profile", "home-gateway", "--holding", "jc-star", "--apply-for", "cls",
                "--application-date", "2026-07-01")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "judged on 2026-07-01 (--application-date)" in out and "status: IN FORCE" in out
    assert "basis: Japan–Singapore MoC (MoC) para 3.2(a), Annex A, second table + Annex B" in out
    assert "in force since 2026-06-01" in out and "condition: the product holds a valid JC-STAR label" in out
    assert 'recognition: Partial — MoC: "Partial Compliance with CLS is required to be assessed."' in out
    assert 'recognition: None — MoC: "None"' in out
    assert "3 Partial, 3 None" in out
    assert "note: Annex A covers general IoT products; for a home gateway Annex B adds" in out
    assert "question (Japan–Singapore MoC para 3.4)" in out and "NOT ANSWERED" in out
    assert "show-held-label" in out and "held label: not declared" in out
    # with the declaration: the held label is shown and the question answered, citing the file's lines
    decl = _decl(tmp_path)
    r = cli("plan", "--profile", "home-gateway", "--holding", "jc-star", "--apply-for", "cls",
                "--application-date", "2026-07-01", "--declaration", str(decl))
    assert r.returncode == 0, r.stderr
    assert f"held label: jc-star ★1 JC-0042, valid 2025-04-01 to 2028-03-31: valid on that date " \
           f"(declared in {decl} line 4)" in r.stdout
    assert f"answer: own-assessment (declared in {decl} line 11)" in r.stdout
    assert "declared: jc-star ★1 label JC-0042" in r.stdout


def test_plan_json_carries_the_same_basis_and_per_clause_status(cli: InProcessCli, tmp_path: Path) -> None:
    r = cli("plan", "--profile", "general-iot", "--holding", "jc-star", "--apply-for", "uk-psti", "--json",
                "--declaration", str(_decl(tmp_path)))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["clauses"] == [] and data["recognition"]["gap_set"] == []
    assert "recognised in full by" in data["recognition"]["explanation"]  # never an unexplained empty set
    used = {b["instrument"] for b in data["recognition"]["bases"] if b["applies"]}
    assert used == {"japan-uk", "uk-psti-regulations"}
    assert data["held_label"]["identifier"] == "JC-0042" and data["held_label"]["valid_on_date"] is True
    r = cli("plan", "--profile", "general-iot", "--holding", "cls", "--apply-for", "jc-star", "--json")
    c = {c["id"]: c for c in json.loads(r.stdout)["clauses"]}
    assert c["jc-star:S1.1-06"]["recognition"]["status"] == "partial"
    assert c["jc-star:S1.1-01"]["recognition"]["wording"] == "None"
    r = cli("plan", "--profile", "general-iot", "--holding", "uk-psti", "--apply-for", "jc-star")
    assert "gap set from: IPA's published exemptions" in r.stdout and "public-self-declaration" in r.stdout
    r = cli("plan", "--profile", "general-iot", "--holding", "cls", "--apply-for", "uk-psti")
    assert "gap set: empty — every uk-psti clause is recognised in full" in r.stdout
    assert "UK PSTI Regulations (SI 2023/1007) (law) Schedule 2" in r.stdout


def test_plan_before_the_moc_commences_says_so_and_is_a_full_assessment(cli: InProcessCli) -> None:
    r = cli("plan", "--profile", "general-iot", "--holding", "jc-star", "--apply-for", "cls",
                "--application-date", "2026-05-31", "--json")
    data = json.loads(r.stdout)
    assert data["recognition"]["status"] == "not-in-force" and len(data["clauses"]) == 13
    assert [g["id"] for g in data["recognition"]["pending_gap_set"]] == ["cls:5.3-7"]
    r = cli("plan", "--profile", "general-iot", "--holding", "jc-star", "--apply-for", "cls",
                "--application-date", "2026-05-31")
    assert "status: NOT IN FORCE on 2026-05-31: the simplified application is possible from 2026-06-01" in r.stdout
    assert "not used: Japan–Singapore MoC (MoC) para 3.2(a)" in r.stdout
    assert "from 2026-06-01 the gap set will be: cls:5.3-7 (partial)" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["--holding", "jc-star", "--apply-for", "cls", "--application-date", "2026-13-01"], "is not a date"),
    (["--holding", "jc-star", "--apply-for", "cls", "DECL:uk-psti"], "chained recognition"),
    (["--holding", "cls", "--apply-for", "jc-star", "DECL:own-assessment"], "held_label.scheme is jc-star"),
    (["--holding", "jc-star", "--apply-for", "cls", "--application-date", "2028-04-01", "DECL:own-assessment"],
     "expired on 2028-03-31"),
])
def test_refusals_and_bad_dates_are_one_line_exit_2(cli: InProcessCli, tmp_path: Path, args: list[str],
                                                    needle: str) -> None:
    argv = [a for a in args if not a.startswith("DECL:")]
    for a in args:
        if a.startswith("DECL:"):
            argv += ["--declaration", str(_decl(tmp_path, via=a[5:]))]
    for cmd in (["plan"], ["run", "--target", "127.0.0.1", "--out", str(tmp_path / "ev.json")]):
        r = cli(*cmd, "--profile", "home-gateway", *argv)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert needle in r.stderr, r.stderr
        assert not (tmp_path / "ev.json").exists()  # refused before anything is sent


def test_not_yet_in_force_with_a_chained_label_says_it_will_still_be_refused() -> None:
    """Before 2026-06-01 a chained JC-STAR label is a full assessment now and refused later: the plan
    must not present the empty pending gap set as 'recognised in full'."""
    p = path("jc-star", "cls", on=dt.date(2026, 5, 1), held=label(obtained_via="uk-psti"))
    assert p.status == "not-in-force" and p.pending_gap == ()
    assert p.pending_refusal and "chained recognition" in p.pending_refusal
    assert p.to_json()["pending_refusal"] == p.pending_refusal


def test_plan_notes_a_declared_label_when_holding_is_none(cli: InProcessCli, tmp_path: Path) -> None:
    r = cli("plan", "--profile", "general-iot", "--holding", "none", "--apply-for", "cls",
                "--declaration", str(_decl(tmp_path)))
    assert r.returncode == 0, r.stderr
    assert "status: no label held" in r.stdout and "give --holding jc-star for the simplified path" in r.stdout
