"""Reports from saved evidence: HTML in a real browser with hostile device strings, Markdown
escaping, SARIF against the OASIS schema, JUnit through a JUnit parser, Japanese titles, and the
same counts and outcome as `probe run` printed."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import junitparser
import pytest

from probe.reports import markdown
from probe.reports.model import visible
from tests.helpers.cli import InProcessCli
from tests.helpers.daemons import LocalDaemons
from tests.helpers.reports import SARIF_SCHEMA, chromium, hostile_doc, png_pixels, real_run

SARIF_SCHEMA_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
EXPECTED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "table", "tr", "th", "td",
                 "span", "p", "br", "b", "div", "ul", "li", "details", "summary", "pre", "a", "tbody"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


def _assert_no_injection(html: str) -> None:
    p = _parse(html)
    names = {t for t, _ in p.tags}
    assert names <= EXPECTED_TAGS, names - EXPECTED_TAGS  # no script, img, svg...
    for tag, attrs in p.tags:
        for k, val in attrs:
            assert not k.startswith("on"), (tag, k)
            assert k in {"lang", "charset", "name", "content", "http-equiv", "class", "id", "href", "colspan",
                         "open"} or k.startswith("data-"), (tag, k)
            if k == "href":
                assert re.fullmatch(r"#[afg]-[A-Za-z0-9_-]+", val or ""), val
    text = "".join(p.text)
    assert "<script>alert(1)</script>" in text  # shown, as text
    assert "onerror=alert(2)" in text


@pytest.fixture
def hostile_json(tmp_path: Path) -> Path:
    p = tmp_path / "hostile.json"
    p.write_text(json.dumps(hostile_doc()), "utf-8")
    return p


def _report(cli: InProcessCli, src: Path, fmt: str, out: Path, *extra: str) -> str:
    r = cli("report", str(src), "--format", fmt, "--out", str(out), *extra)
    assert r.returncode == 0, r.stderr
    return out.read_text("utf-8")


def test_html_escapes_every_device_string(cli: InProcessCli, hostile_json: Path, tmp_path: Path) -> None:
    html = _report(cli, hostile_json, "html", tmp_path / "r.html")
    _assert_no_injection(html)
    assert "url(" not in html and "@import" not in html  # no external resource from the CSS either
    assert "\x1b" not in html and "\x00" not in html and "\\x1b[31m" in html  # control chars made visible


@pytest.mark.timeout(300)  # two Chromium starts, each bounded at 120 s
def test_html_in_headless_chromium(cli: InProcessCli, hostile_json: Path, tmp_path: Path) -> None:
    html_file = tmp_path / "r.html"
    _report(cli, hostile_json, "html", html_file)
    png, dom = chromium(html_file, tmp_path)
    w, h, rows, bpp = png_pixels(png)
    assert (w, h) == (1280, 2000)
    pixels = {row[i:i + 3] for row in rows for i in range(0, len(row), bpp)}
    assert len(pixels) > 20  # text, badges, table lines: not a blank page
    non_white = sum(1 for row in rows for i in range(0, len(row), bpp) if row[i:i + 3] != b"\xff\xff\xff")
    assert non_white > 5000
    # the rendered DOM: clause tables are there, and no element came from a device string
    assert dom.count('class="clause"') == 8
    assert 'data-clause="jc-star:S1.1-12"' in dom
    parsed = _parse(dom)
    assert {t for t, _ in parsed.tags} <= EXPECTED_TAGS
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k, _ in attrs)
    assert "<script>alert(1)</script>" in "".join(parsed.text)


def test_html_sections_gap_set_split_and_drill_down(cli: InProcessCli, hostile_json: Path, tmp_path: Path) -> None:
    html = _report(cli, hostile_json, "html", tmp_path / "r.html")
    assert 'id="gap-table"' in html and "cls:5.3-7" in html and "partial" in html
    for b, n in (("tested", 6), ("declared", 1), ("manual", 1)):
        assert re.search(rf'id="basis-{b}"><h3>[^<]+\(<span class="count">{n}</span>\)', html), b
    assert html.count('<details class="box artefact"') == 6 and html.count('<details class="box finding"') == 4
    assert "text unconfirmed" in html  # jc-star:S1.1-16 is marked
    assert "We comply &lt;script&gt;" in html  # the declaration is attached, escaped
    # every in-page link has its target
    ids = set(re.findall(r' id="([^"]+)"', html))
    assert all(h in ids for h in re.findall(r'href="#([^"]+)"', html))


def test_japanese_titles_and_labels(cli: InProcessCli, hostile_json: Path, tmp_path: Path) -> None:
    html = _report(cli, hostile_json, "html", tmp_path / "ja.html", "--lang", "ja")
    assert '<html lang="ja">' in html and "適合性エビデンス報告書" in html and "制度別の概要" in html
    assert "ネットワーク上のデータを盗聴から保護すること" in html
    assert "Title of 5.1-3" in html  # no Japanese title for CLS: the English one is shown
    md = _report(cli, hostile_json, "markdown", tmp_path / "ja.md", "--lang", "ja")
    assert "# 適合性エビデンス報告書" in md and "総当たり攻撃を困難にすること" in md
    en = _report(cli, hostile_json, "html", tmp_path / "en.html")
    assert "ネットワーク上のデータ" not in en and "Title of S1.1-12" in en


def test_markdown_escapes_device_strings(cli: InProcessCli, hostile_json: Path, tmp_path: Path) -> None:
    md = _report(cli, hostile_json, "markdown", tmp_path / "r.md")
    assert "<script" not in md and "<img" not in md and "<svg" not in md
    assert not re.search(r"(?<!\\)\]\(", md)  # no [text](link) from a device string
    assert "\\[click\\]" in md and "\\*bold\\*" in md and "\\`tick\\`" in md and "\\|" in md
    for line in md.splitlines():
        if line.startswith("| jc-star:S1.1-12"):
            # a device "|" cannot add a table column
            assert len(re.findall(r"(?<!\\)\|", line)) == 7, line  # 6 columns
    assert markdown.esc("a\nb|c") == "a b\\|c"


def test_sarif_validates_and_maps_findings(cli: InProcessCli, hostile_json: Path, tmp_path: Path) -> None:
    raw = SARIF_SCHEMA.read_bytes()
    # the copy in tests/data is the OASIS schema, unchanged: the SHA-256 of the file published at
    # https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json
    assert hashlib.sha256(raw).hexdigest() == SARIF_SCHEMA_SHA256
    schema = json.loads(raw)
    assert schema["id"] == SARIF_SCHEMA_ID
    sarif = json.loads(_report(cli, hostile_json, "sarif", tmp_path / "r.sarif"))
    jsonschema.validate(sarif, schema)
    run = sarif["runs"][0]
    rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {"cleartext_authentication", "tls_certificate", "probe.clause-not-assessed"} <= rules
    res = run["results"]
    by_rule = {r["ruleId"]: r for r in res}
    fail = by_rule["cleartext_authentication"]
    assert fail["level"] == "error" and fail["properties"]["clauses"] == ["jc-star:S1.1-12", "cls:5.1-3"]
    assert fail["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "127.0.0.1:23/telnet"
    inc = by_rule["tls_certificate"]
    assert inc["level"] == "warning" and inc["properties"]["reasonCode"] == "device-misbehaved"
    assert by_rule["probe.clause-not-assessed"]["properties"]["clauses"] == ["cls:5.3-7"]
    assert {r["ruleId"] for r in res} == {"cleartext_authentication", "tls_certificate", "probe.clause-not-assessed"}
    for r in res:
        assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
    # fingerprints are stable: a new run (new run id, new finding ids) gives the same ones
    doc = hostile_doc()
    doc["run"]["id"] = "another-run"
    for f in doc["findings"]:
        f["id"] = f["id"] + "x"
    for c in doc["clauses"]:
        c["findings"] = [x + "x" for x in c["findings"]]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    sarif2 = json.loads(_report(cli, other, "sarif", tmp_path / "r2.sarif"))
    assert [r["partialFingerprints"] for r in sarif2["runs"][0]["results"]] == [r["partialFingerprints"] for r in res]


def test_junit_parses_one_suite_per_scheme(cli: InProcessCli, hostile_json: Path, tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    _report(cli, hostile_json, "junit", path)
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = {s.name: s for s in xml}
    assert set(suites) == {"JC-STAR ★1 (jc-star)", "Singapore CLS Level 1 (cls)", "UK PSTI (uk-psti)"}
    cases = {c.name.split()[0]: c for s in xml for c in s}
    assert len(cases) == 8

    def outcome(case: junitparser.TestCase) -> tuple[str, str | None]:
        if not case.result:
            return "pass", None
        r = case.result[0]
        return type(r).__name__, r.message

    assert outcome(cases["jc-star:S1.1-12"])[0] == "Failure"
    assert outcome(cases["jc-star:S1.1-04"])[0] == "Error"
    assert outcome(cases["cls:5.3-7"])[0] == "Error"
    assert outcome(cases["jc-star:S1.1-16"]) == ("Skipped", "needs manufacturer documents")
    assert outcome(cases["jc-star:S1.1-05"]) == ("Skipped", "needs manufacturer documents")
    assert outcome(cases["cls:5.1-5"])[0] == "Skipped"
    assert outcome(cases["uk-psti:1"]) == ("pass", None)
    s = suites["JC-STAR ★1 (jc-star)"]
    assert (s.tests, s.failures, s.errors, s.skipped) == (4, 1, 1, 2)
    text = path.read_text("utf-8")
    assert "\x1b" not in text and "\x00" not in text  # XML 1.0 would be invalid with them
    assert ET.fromstring(text.encode()).tag == "testsuites"


def test_renderers_survive_lone_surrogates_and_controls() -> None:
    doc = hostile_doc()
    doc["findings"][0]["summary"] = "bad \ud800 \x0c end"
    doc["clauses"][0]["reason"] = "\udfff"
    from probe.reports import render

    for fmt in ("html", "markdown", "sarif", "junit"):
        out = render(fmt, doc)
        out.encode("utf-8")  # no surrogate survived
        assert "\x0c" not in out
    assert visible("\ud800") == "\\ud800"


def test_report_from_tampered_pack_is_refused(cli: InProcessCli, hostile_json: Path, tmp_path: Path) -> None:
    p = tmp_path / "p"
    assert cli("pack", str(hostile_json), "--out", str(p)).returncode == 0
    art = next((p / "artefacts").iterdir())
    art.write_bytes(art.read_bytes() + b"!")
    r = cli("report", str(p), "--format", "html")
    assert r.returncode == 1 and f"changed: artefacts/{art.name}" in r.stderr and r.stdout == ""
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "2.0.0"}')
    r = cli("report", str(bad), "--format", "html")
    assert r.returncode == 2 and "not a probe evidence document" in r.stderr
    bad.write_text('{"schema_version": "1.0.0"}')  # an older major version: said so, not "invalid"
    r = cli("report", str(bad), "--format", "html")
    assert r.returncode == 2 and "evidence schema 1.0.0; this probe reads schema 2.x" in r.stderr


def _counts_from_stdout(stdout: str) -> dict[str, int]:
    m = re.search(r"PASS (\d+)  FAIL (\d+)  INCONCLUSIVE (\d+)  NOT_APPLICABLE (\d+)  MANUAL (\d+)", stdout)
    assert m, stdout
    return dict(zip(("PASS", "FAIL", "INCONCLUSIVE", "NOT_APPLICABLE", "MANUAL"), map(int, m.groups()), strict=True))


@pytest.mark.parametrize("gap,expected_rc", [
    (False, 1),  # full assessment: telnet is a cleartext login, its clauses FAIL
    (True, 0),  # JC-STAR -> CLS gap set: telnet bears on none of its clauses, which all need documents (MANUAL)
])
def test_reports_match_the_terminal_summary_and_exit_code_of_a_real_run(cli: InProcessCli, daemons: LocalDaemons,
                                                                        tmp_path: Path, gap: bool,
                                                                        expected_rc: int) -> None:
    """probe run against busybox telnetd, then every report from its pack: same counts, same outcome."""
    pk = tmp_path / "pack"
    extra = ["--holding", "jc-star", "--apply-for", "cls"] if gap else []
    ev, r = real_run(daemons, cli, tmp_path, "--pack", str(pk), *extra)
    term = _counts_from_stdout(r.stdout)
    total = sum(term.values())
    rc = r.returncode
    assert rc == expected_rc, (term, r.stderr)

    html = _report(cli, pk, "html", tmp_path / "r.html")
    for v, n in term.items():
        assert f'data-verdict="{v}" data-count="{n}"' in html
    assert re.search(rf'id="outcome" data-exit-code="{rc}"', html)
    assert html.count('class="clause"') == total
    assert "file(s) verified against manifest.json" in html and "unsigned pack" in html
    assert ('id="gap-table"' in html) is gap  # the gap table only for a simplified application

    md = _report(cli, pk, "markdown", tmp_path / "r.md")
    assert "| **Total** | " + " | ".join(f"**{term[v]}**" for v in term) + " |" in md
    assert f"(exit code {rc})" in md

    sarif = json.loads(_report(cli, pk, "sarif", tmp_path / "r.sarif"))
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    run = sarif["runs"][0]
    assert run["properties"]["summary"] == term
    doc = json.loads(ev.read_text())
    failing = [f for f in doc["findings"] if f["status"] in ("FAIL", "INCONCLUSIVE")]
    unassessed = [c for c in doc["clauses"] if c["verdict"] == "INCONCLUSIVE" and not c["findings"]]
    assert len(run["results"]) == len(failing) + len(unassessed)
    fail_clauses = {c["id"] for c in doc["clauses"] if c["verdict"] == "FAIL"}
    sarif_fail_clauses = {cid for res in run["results"] if res["properties"]["status"] == "FAIL"
                          for cid in res["properties"]["clauses"]}
    assert fail_clauses <= sarif_fail_clauses

    junit = junitparser.JUnitXml.fromfile(_junit(cli, pk, tmp_path))
    assert (junit.tests, junit.failures, junit.errors, junit.skipped) == (
        total, term["FAIL"], term["INCONCLUSIVE"], term["MANUAL"] + term["NOT_APPLICABLE"])
    # the JUnit outcome says what the exit code says: failures exactly when exit 1, nothing red when exit 0
    assert (junit.failures > 0) is (rc == 1)
    assert (junit.failures + junit.errors == 0) is (rc == 0)


def _junit(cli: InProcessCli, pk: Path, tmp_path: Path) -> str:
    out = tmp_path / "r.xml"
    _report(cli, pk, "junit", out)
    return str(out)


def test_every_format_shows_the_path_basis_and_the_held_label(cli: InProcessCli, hostile_json: Path,
                                                              tmp_path: Path) -> None:
    """Issue 11 §3: the chosen path's basis (instrument, paragraph, condition, in-force date), its
    status on the date judged, the held label as declared, the question and the path's MANUAL items,
    in every report, with the declared strings escaped like any device string."""
    html = _report(cli, hostile_json, "html", tmp_path / "r.html")
    _assert_no_injection(html)
    basis = html[html.index('id="path-basis"'):html.index('id="gap-table"')]
    assert 'data-status="in-force"' in basis and "2026-07-01" in basis
    assert "<b>Japan–Singapore MoC</b> para 3.2(a), Annex A, second table" in basis
    assert "the product holds a valid JC-STAR label" in basis and "2026-06-01" in basis
    assert 'data-applies="no"' in basis and "not in force &#39;&gt;&lt;svg" in basis  # an unused basis says why
    assert "JC-&lt;script&gt;alert(1)&lt;/script&gt;" in basis  # the declared identifier, escaped
    assert "../../&lt;script&gt;alert(1)&lt;/script&gt;.yaml:20" in basis  # where it was declared
    assert "Japan–Singapore MoC para 3.4" in basis and "own-assessment" in basis
    assert 'data-item="show-held-label"' in basis
    assert "MoC wording: “Partial Compliance with CLS is required to be assessed.”" in html
    ja = _report(cli, hostile_json, "html", tmp_path / "ja.html", "--lang", "ja")
    assert "経路の根拠" in ja and "一部適合 ※CLS への適合性評価が必要" in ja

    md = _report(cli, hostile_json, "markdown", tmp_path / "r.md")
    assert "<script" not in md and "<img" not in md and "<svg" not in md
    assert "**What the path rests on**: Japan–Singapore MoC para 3.2(a), Annex A, second table (moc)" in md
    assert "In force from: 2026-06-01" in md and "(not used: not in force" in md
    assert "**Held label (as declared; not verified by probe)**: jc-star ★1 JC-&lt;script&gt;" in md
    assert "**Question** (Japan–Singapore MoC para 3.4)" in md and "Answer: own-assessment" in md
    assert "**MANUAL** (MANUAL items of the path" in md

    sarif = json.loads(_report(cli, hostile_json, "sarif", tmp_path / "r.sarif"))
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    rec = sarif["runs"][0]["properties"]["recognition"]
    assert rec["status"] == "in-force" and rec["asOf"] == "2026-07-01" and rec["gapSet"] == ["cls:5.3-7", "cls:5.1-3"]
    assert [(b["instrument"], b["paragraph"], b["applies"]) for b in rec["bases"]] == [
        ("Japan–Singapore MoC", "para 3.2(a)", True), ("Japan–UK MoC", "para 3.2(b)", False)]
    assert rec["heldLabel"]["label"].startswith("jc-star ★1 JC-<script>")  # JSON: escaped by its encoder

    path = tmp_path / "r.xml"
    _report(cli, hostile_json, "junit", path)
    for suite in junitparser.JUnitXml.fromfile(str(path)):
        props = {p.name: p.value for p in suite.properties()}
        assert props["recognition_path"] == "jc-star -> cls (home-gateway)"
        assert props["recognition_status"] == "in-force on 2026-07-01"
        assert props["recognition_basis"] == "Japan–Singapore MoC para 3.2(a) (in force 2026-06-01)"
        assert props["held_label"].startswith("jc-star ★1 JC-<script>alert(1)</script>")


def test_evidence_without_the_path_fields_still_renders(cli: InProcessCli, tmp_path: Path) -> None:
    """Evidence written before the basis fields existed (schema 1.3) renders with what it has."""
    doc = hostile_doc()
    for key in ("as_of", "as_of_source", "held_label"):
        del doc["recognition"][key]
    for p in [doc["recognition"]["chosen_path"], *doc["recognition"]["paths"]]:
        for key in ("status", "as_of", "bases", "notes", "manual_items", "questions", "in_force_from",
                    "pending_gap_set"):
            p.pop(key, None)
        for g in p["gap_set"]:
            g.pop("wording", None)
            g.pop("wording_ja", None)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    for fmt in ("html", "markdown", "sarif", "junit"):
        out = _report(cli, old, fmt, tmp_path / f"old.{fmt}")
        assert "cls:5.3-7" in out
    doc["recognition"]["chosen_path"] = None  # no path chosen: the paths table, each with its basis
    old.write_text(json.dumps(doc))
    assert 'id="paths-table"' in _report(cli, old, "html", tmp_path / "none.html")


def test_reports_show_roles_rules_device_state_and_overlays(cli: InProcessCli, hostile_json: Path,
                                                            tmp_path: Path) -> None:
    """Schema 2: every human format shows the service roles (with why), each clause's rules and the
    findings they selected, supporting evidence, the operator's device state and catalog overlays."""
    html = _report(cli, hostile_json, "html", tmp_path / "r.html")
    _assert_no_injection(html)
    text = "".join(_parse(html).text)
    assert "factory (stated by the operator)" in text
    assert f"/tmp/{'<script>alert(1)</script>'}.yaml" in text and "ab" * 32 in text  # overlay path, escaped
    assert "management (telnet login <script>alert(1)</script>" in text  # role + why, escaped
    assert "cls:5.1-3#cleartext-login [decides, any service]: selected f-0001" in text
    assert "cls:5.1-5#tls-on-login-service [supports, management]: selected f-0002" in text
    assert "(Reason code: missing-input)" in text
    md = _report(cli, hostile_json, "markdown", tmp_path / "r.md")
    assert "**Device state**: factory (stated by the operator)" in md
    assert "Supporting evidence: f-0002" in md and "(missing-input)" in md
    assert "cls:5.1-3#cleartext-login \\[decides, any service\\]: selected f-0001" in md
    assert "management (telnet login &lt;script&gt;" in md
    sarif = json.loads(_report(cli, hostile_json, "sarif", tmp_path / "r.sarif"))
    props = sarif["runs"][0]["properties"]
    assert props["deviceState"] == "factory" and props["catalogOverlays"][0]["sha256"] == "ab" * 32
    junit = _report(cli, hostile_json, "junit", tmp_path / "r.xml")
    assert 'name="device_state" value="factory"' in junit
    assert 'type="INCONCLUSIVE:missing-input"' in junit


def test_report_on_an_older_schema_major_is_a_clear_one_line_error(cli: InProcessCli, hostile_json: Path,
                                                                   tmp_path: Path) -> None:
    doc = json.loads(hostile_json.read_text("utf-8"))
    doc["schema_version"] = "1.3.0"
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc), "utf-8")
    r = cli("report", str(old), "--format", "markdown", "--out", str(tmp_path / "r.md"))
    assert r.returncode == 2 and "evidence schema 1.3.0; this probe reads schema 2.x" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
