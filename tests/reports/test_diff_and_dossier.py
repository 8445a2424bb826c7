"""`probe diff` and the dossier, on evidence from a real run (busybox telnetd on loopback) and on the
hostile hand-made document: the transition rules, keys that do not depend on run order, refused
inputs and exit codes, the dossier's escaping in headless Chromium, and the Japanese formatting.

The real-lab re-test (a fix made in a lab device between two runs) is tests/lab/test_after_scan.py.
"""

from __future__ import annotations

import copy
import json
import random
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from probe.output.diff import BETTER, CHANGED, UNCHANGED, UNTESTED, WORSE, banner_text, classify, finding_keys
from probe.output.lang import count_text, date_text, datetime_text, moc_term
from tests.helpers.cli import InProcessCli
from tests.helpers.daemons import LocalDaemons
from tests.helpers.reports import IMG, SCRIPT, chromium, hostile_doc, real_run

VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE", "NOT_APPLICABLE", "MANUAL")


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize(("before", "after", "cls"), [
    ("PASS", "FAIL", WORSE), ("MANUAL", "FAIL", WORSE), ("INCONCLUSIVE", "FAIL", WORSE), (None, "FAIL", WORSE),
    ("NOT_APPLICABLE", "FAIL", WORSE), ("PASS", "INCONCLUSIVE", WORSE), ("PASS", "MANUAL", WORSE),
    ("FAIL", "PASS", BETTER), ("FAIL", "MANUAL", BETTER), ("FAIL", "NOT_APPLICABLE", BETTER), ("FAIL", None, BETTER),
    ("INCONCLUSIVE", "PASS", BETTER), ("INCONCLUSIVE", "NOT_APPLICABLE", BETTER),
    ("FAIL", "INCONCLUSIVE", UNTESTED), ("MANUAL", "INCONCLUSIVE", UNTESTED), (None, "INCONCLUSIVE", UNTESTED),
    ("NOT_APPLICABLE", "INCONCLUSIVE", UNTESTED),
    ("PASS", "NOT_APPLICABLE", CHANGED), ("MANUAL", "NOT_APPLICABLE", CHANGED), ("INCONCLUSIVE", "MANUAL", CHANGED),
    ("PASS", None, CHANGED), (None, "PASS", CHANGED),
    ("FAIL", "FAIL", UNCHANGED), ("MANUAL", "MANUAL", UNCHANGED),
])
def test_every_transition_is_classed_as_docs_diff_says(before: str | None, after: str | None, cls: str) -> None:
    assert classify(before, after)[0] == cls


def test_every_pair_of_verdicts_is_classed() -> None:
    for b in (None, *VERDICTS):
        for a in (None, *VERDICTS):
            got, why = classify(b, a)
            assert got in (WORSE, BETTER, UNTESTED, CHANGED, UNCHANGED) and why
            assert (got == WORSE) == ((a == "FAIL" and b != "FAIL") or (b == "PASS" and a in ("FAIL", "INCONCLUSIVE",
                                                                                                "MANUAL")))


def test_banner_text_keeps_what_is_stable() -> None:
    assert banner_text(b"SSH-2.0-dropbear_2022.83\r\n\x00\x00\x02\x14random-cookie") == "SSH-2.0-dropbear_2022.83"
    http = b"HTTP/1.0 200 OK\r\nDate: Mon\r\nServer: lighttpd/1.4.69\r\n\r\nbody"
    assert banner_text(http) == "Server: lighttpd/1.4.69"
    assert banner_text(b"\xff\xfb\x01\xff\xfb\x03\r\nACME WR-1000\r\nwr1000 login: ") == "ACME WR-1000 / wr1000 login:"
    assert banner_text(b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03" + bytes(range(32))) is None


@pytest.fixture
def run_doc(daemons: LocalDaemons, cli: InProcessCli, tmp_path: Path) -> Path:
    ev, _ = real_run(daemons, cli, tmp_path)
    return ev


def _write(tmp_path: Path, name: str, doc: dict[str, Any]) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc), "utf-8")
    return p


def test_keys_do_not_depend_on_run_order(run_doc: Path) -> None:
    doc = json.loads(run_doc.read_text())
    keys = finding_keys(doc, lambda _c: ())
    shuffled = copy.deepcopy(doc)
    random.Random(7).shuffle(shuffled["findings"])
    renumber = {f["id"]: f"f-{9000 + i}" for i, f in enumerate(shuffled["findings"])}
    for f in shuffled["findings"]:
        f["id"] = renumber[f["id"]]
    again = finding_keys(shuffled, lambda _c: ())
    assert sorted(keys.values()) == sorted(again.values())
    assert all(keys[old] == again[new] for old, new in renumber.items())


def test_same_run_twice_is_unchanged_and_exit_0(cli: InProcessCli, run_doc: Path) -> None:
    r = cli("diff", str(run_doc), str(run_doc), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["clauses"] == [] and d["findings"] == [] and d["services"] == [] and d["outcome"]["worse"] == []


def test_a_new_fail_is_worse_and_a_pass_lost_too(cli: InProcessCli, run_doc: Path, tmp_path: Path) -> None:
    doc = json.loads(run_doc.read_text())
    new = copy.deepcopy(doc)
    passing = next(c for c in new["clauses"] if c["verdict"] in ("MANUAL", "PASS", "NOT_APPLICABLE"))
    before = passing["verdict"]
    passing["verdict"] = "FAIL"
    r = cli("diff", str(run_doc), str(_write(tmp_path, "new.json", new)), "--json")
    assert r.returncode == 1
    d = json.loads(r.stdout)
    assert [(c["id"], c["before"], c["after"], c["class"]) for c in d["clauses"]] == [
        (passing["id"], before, "FAIL", "worse")]
    # the other way round the FAIL is resolved: nothing got worse
    back = cli("diff", str(_write(tmp_path, "new.json", new)), str(run_doc))
    assert back.returncode == 0 and "better" in back.stdout


def test_fail_to_inconclusive_is_not_better_and_an_incomplete_run_is_exit_4(cli: InProcessCli, run_doc: Path,
                                                                             tmp_path: Path) -> None:
    doc = json.loads(run_doc.read_text())
    failing = [c for c in doc["clauses"] if c["verdict"] == "FAIL"]
    assert failing, "the telnet run has FAIL clauses"
    new = copy.deepcopy(doc)
    for c in new["clauses"]:
        if c["verdict"] == "FAIL":
            c["verdict"], c["reason_code"] = "INCONCLUSIVE", "connectivity"
    new["run"]["complete"] = False
    new["run"]["incomplete_reasons"] = ["127.0.0.1: unreachable"]
    r = cli("diff", str(run_doc), str(_write(tmp_path, "new.json", new)), "--json")
    d = json.loads(r.stdout)
    assert r.returncode == 4, d["outcome"]
    assert {c["class"] for c in d["clauses"] if c["before"] == "FAIL"} == {"untested"}
    assert d["outcome"]["untested"][0].startswith("the new run did not complete")


def test_an_edited_evidence_json_is_refused(cli: InProcessCli, run_doc: Path, tmp_path: Path) -> None:
    doc = json.loads(run_doc.read_text())
    doc["artefacts"][0]["content"] = doc["artefacts"][0]["content"] + "x"
    r = cli("diff", str(run_doc), str(_write(tmp_path, "edited.json", doc)))
    assert r.returncode == 3 and "does not match its sha256" in r.stderr and r.stdout == ""


def test_usage_errors_are_one_line_exit_2(cli: InProcessCli, run_doc: Path, tmp_path: Path) -> None:
    r = cli("diff", str(run_doc), str(tmp_path / "missing.json"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    pub = tmp_path / "k.pub"
    pub.write_text("x")
    r = cli("diff", str(run_doc), str(run_doc), "--key", str(pub))
    assert r.returncode == 2 and "evidence JSON" in r.stderr


def test_findings_reported_several_per_service_keep_their_own_key() -> None:
    doc = hostile_doc()
    twin = dict(doc["findings"][0], id="f-0009", details={"update_url": "http://b", "found_in": "x"},
                check_id="update_channel")
    first = dict(doc["findings"][0], details={"update_url": "http://a", "found_in": "x"}, check_id="update_channel")
    doc["findings"] = [first, twin]
    keys = finding_keys(doc, lambda c: ("update_url", "found_in") if c == "update_channel" else ())
    assert keys["f-0001"].about == ("http://a", "x") and keys["f-0009"].about == ("http://b", "x")
    same = finding_keys(doc, lambda _c: ())  # without the check's finding_key: told apart by content
    assert {k.nth for k in same.values()} == {1, 2}


# ------------------------------------------------------------------------------------ dossier


def test_dossier_escapes_every_device_and_declared_string_in_chromium(cli: InProcessCli, tmp_path: Path) -> None:
    src = _write(tmp_path, "hostile.json", hostile_doc())
    out = tmp_path / "d.html"
    r = cli("report", str(src), "--format", "dossier-html", "--out", str(out))
    assert r.returncode == 0, r.stderr
    _png, dom = chromium(out, tmp_path)
    parsed = _Dom()
    parsed.feed(dom)  # the document as the browser built it: no element and no handler from a device string
    assert {t for t, _ in parsed.tags} <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "table",
                                           "tbody", "tr", "th", "td", "span", "p", "br", "b", "div", "ul", "li", "sup",
                                           "pre"}
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k, _v in attrs)
    assert SCRIPT in "".join(parsed.text)
    html = out.read_text("utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
    assert IMG not in html
    assert 'data-clause="cls:5.3-7"' in html and "Partial Compliance with CLS is required to be assessed." in html
    md = cli("report", str(src), "--format", "dossier", "--out", str(tmp_path / "d.md"))
    assert md.returncode == 0
    text = (tmp_path / "d.md").read_text("utf-8")
    assert "<script" not in text and "<img" not in text and text.startswith("# Evidence dossier")


def test_dossier_needs_a_recognition_path(cli: InProcessCli, tmp_path: Path) -> None:
    doc = hostile_doc()
    doc["recognition"]["chosen_path"] = None
    r = cli("report", str(_write(tmp_path, "e.json", doc)), "--format", "dossier")
    assert r.returncode == 2 and "--holding" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_japanese_dossier_uses_the_mocs_terms_and_japans_dates(cli: InProcessCli, tmp_path: Path) -> None:
    out = tmp_path / "d.md"
    r = cli("report", str(_write(tmp_path, "e.json", hostile_doc())), "--format", "dossier", "--lang", "ja",
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    md = out.read_text("utf-8")
    assert "簡易申請のためのエビデンス書類" in md and "仮訳" in md
    assert "**MoC 上の扱い**: 一部適合" in md and "**MoC 上の扱い**: 該当なし" in md
    assert "2025年4月1日" in md and "2028年3月31日" in md  # the held label's validity
    assert "2026年1月2日 12:04:05 JST" in md  # 03:04:05 UTC, as Japan reads it


def test_language_helpers() -> None:
    assert date_text("2026-06-01", "ja") == "2026年6月1日" and date_text("2026-06-01", "en") == "2026-06-01"
    assert datetime_text("2026-01-01T20:00:00+00:00", "ja") == "2026年1月2日 05:00:00 JST"
    assert datetime_text("not a date", "ja") == "not a date"
    assert count_text(1234, "ja") == "1,234件" and count_text(3, "en", "clause(s)") == "3 clause(s)"
    assert [moc_term(s, "ja") for s in ("full", "partial", "none")] == ["完全適合", "一部適合", "該当なし"]
