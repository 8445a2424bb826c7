"""`probe plan --explain CLAUSE`: a clause's evidence rules in words a lab engineer checks against the scheme."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import InProcessCli


def test_explain_update_crypto_clause(cli: InProcessCli) -> None:
    r = cli("plan", "--explain", "cls:5.3-7")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    # the test purpose, whether a scan can assess all of it and why
    assert out.startswith("cls:5.3-7  The update mechanism uses best-practice cryptography")
    assert "test purpose:" in out and "update mechanism" in out.split("test purpose:")[1].split("assessment:")[0]
    assert "assessment: partly-network" in out and "never the whole clause" in out
    assert "image signing and the vendor's update servers are not" in out.replace("\n  ", " ")
    # what FAILs it, with the role scope of each rule
    fails = out.split("what can FAIL it (deciding rules):")[1].split("what supports it")[0]
    assert "cls:5.3-7#update-channel" in fails and "check update_channel: any finding of the check" in fails
    assert "cls:5.3-7#tls-on-update-service" in fails and "check tls_configuration: only findings on services " \
                                                          "with role update" in fails
    assert "cls:5.3-7#cert-on-update-service" in fails
    assert "never PASS from the network" in fails.replace("\n    ", " ")
    assert "cleartext" in fails  # why: in words
    # what supports it and what needs documents
    assert "what supports it (attached, never deciding):\n  nothing" in out
    assert "needs the manufacturer's documents:\n  image signing" in out
    assert "text: confirmed" in out


def test_explain_names_supporting_rules_unconfirmed_text_and_the_factory_state(cli: InProcessCli) -> None:
    r = cli("plan", "--explain", "cls:7.3-1")
    assert r.returncode == 0, r.stderr
    assert "text: NOT confirmed" in r.stdout and "--catalog FILE" in r.stdout
    supports = r.stdout.split("what supports it (attached, never deciding):")[1]
    assert "cls:7.3-1#update-channel" in supports and "does not prove" in supports.replace("\n    ", " ")
    assert "nothing: no network finding can decide this clause" in r.stdout
    r = cli("plan", "--explain", "uk-psti:1")
    assert "--device-state factory" in r.stdout and "re-test after initial set-up" in r.stdout.replace("\n    ", " ")


def test_explain_json_and_overlay(cli: InProcessCli, tmp_path: Path) -> None:
    overlay = tmp_path / "official.yaml"
    overlay.write_text("scheme: cls\nclauses:\n  - number: 7.3-7\n    text_confirmed: true\n"
                       "    title: Official 7.3-7 wording\n", encoding="utf-8")
    r = cli("plan", "--explain", "cls:7.3-7", "--catalog", str(overlay), "--json")
    assert r.returncode == 0, r.stderr
    e = json.loads(r.stdout)
    assert e["text_confirmed"] is True and e["title"] == "Official 7.3-7 wording"
    assert e["title_source"] == str(overlay) and e["overlays"][0]["path"] == str(overlay)
    assert [x["id"] for x in e["rules"]] == ["cls:7.3-7#update-channel", "cls:7.3-7#tls-on-update-service",
                                             "cls:7.3-7#cert-on-update-service"]
    assert all(x["why"] and x["effect_meaning"] for x in e["rules"])


def test_explain_unknown_clause_is_a_one_line_error(cli: InProcessCli) -> None:
    r = cli("plan", "--explain", "cls:9.9-9")
    assert r.returncode == 2 and "unknown clause" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_plan_shows_role_scopes_and_checks_shows_rules(cli: InProcessCli) -> None:
    r = cli("plan", "--profile", "general-iot", "--holding", "jc-star", "--apply-for", "cls")
    assert "decided by update_channel, tls_configuration[update], tls_certificate[update]" in r.stdout
    r = cli("checks", "--json")
    rows = {x["id"]: x for x in json.loads(r.stdout)}
    rules = {x["rule"]: x for x in rows["tls_configuration"]["rules"]}
    assert rules["cls:5.3-7#tls-on-update-service"] == {"rule": "cls:5.3-7#tls-on-update-service",
                                                       "roles": ["update"], "effect": "decides"}
    assert "cls:5.3-7" in rows["tls_configuration"]["clauses"]


def test_plan_in_japanese(cli: InProcessCli) -> None:
    """Issue 16 §4: the plan in Japanese, with the catalog's Japanese titles (CLS ones marked as
    probe's own translation), the MoC's Japanese status terms and Japan's way of writing dates."""
    r = cli("plan", "--profile", "home-gateway", "--holding", "jc-star", "--apply-for", "cls", "--lang", "ja",
            "--application-date", "2026-07-01")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "相互承認の経路: jc-star を取得済み → cls に申請" in out and "判定基準日 2026年7月1日" in out
    assert "発効日 2026年6月1日" in out and "状態: 発効済み" in out
    assert "更新機構にベストプラクティスの暗号技術を用いること※" in out  # cls:5.3-7, probe's translation
    assert "probe による翻訳" in out and "仮訳" in out
    assert "相互承認上の扱い: 一部適合" in out and "相互承認上の扱い: 該当なし" in out
    assert "差分: 6件の要求事項に証跡が必要（一部適合 3件、該当なし 3件）" in out
    # the path's basis in Japanese, from the MoC data's *_ja wording
    assert "根拠: 日本・シンガポール協力覚書（MoC）para 3.2(a)" in out
    assert "条件: 日本の適合性評価手続に基づき発行された有効な JC-STAR ラベル" in out
    assert "他の相互承認の取決め" in out and "附属書 A は一般の IoT 製品を対象とし" in out
    en = cli("plan", "--profile", "home-gateway", "--holding", "jc-star", "--apply-for", "cls",
             "--application-date", "2026-07-01")
    assert "一部適合" not in en.stdout and "The update mechanism uses best-practice cryptography" in en.stdout
