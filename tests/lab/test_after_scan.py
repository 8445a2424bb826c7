"""After the scan, against the real lab (issue 16): a re-test diff of weak-gateway before and after a
fix made in the device, the simplified-application dossier for every recognition path, and the
manufacturer's declared interfaces compared with what the device shows.

The module brings up a lab instance of its own, a weak-gateway and a camera: the fix changes files
inside the weak-gateway, so no other lab test may see it, and with no share in the session's lab
the module runs on a test worker of its own, beside the ground-truth scans (tests/conftest.py).
Every expectation is computed by this module's own code from the two evidence documents and the
change made in the lab, never from today's verdicts: the lab's verdicts may move when probe's
checks improve, and the diff must still name exactly what moved.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from probe.lab import LabDevice, manager
from probe.output.signing import fingerprint, keygen, load_public
from tests.helpers.cli import REPO, InProcessCli, run_subprocess
from tests.helpers.netns import reserve_lab_instance
from tests.helpers.reports import SARIF_SCHEMA, chromium

from . import truth as T

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]
VENDOR_UPDATE_URL = "https://updates.acme.example/wr1000/check"
NEW_WEB_PASSWORD = "Xk3-per-device-9q"
APPLICATION_DATE = "2026-07-01"  # every path's instruments are in force; the declared labels are valid


# ------------------------------------------------------------------------------ helpers


def _scan(dev: LabDevice, out: Path, *extra: str, profile: str = "home-gateway") -> dict[str, Any]:
    r = run_subprocess("run", "--target", dev.address, "--profile", profile, "--out", str(out), "--quiet", *extra,
                       timeout=600)
    assert out.exists(), f"rc {r.returncode}: {r.stderr[-2000:]}"
    assert r.returncode in (0, 1, 4), r.stderr[-2000:]
    doc = json.loads(out.read_text("utf-8"))
    assert doc["run"]["complete"], doc["run"]["incomplete_reasons"]
    return doc


def _key_fields(check: str) -> tuple[str, ...]:
    path = REPO / "checks" / f"{check}.yaml"
    meta = yaml.safe_load(path.read_text("utf-8")) if path.exists() else {}
    return tuple(meta.get("finding_key") or ())


def _finding_statuses(doc: dict[str, Any]) -> dict[tuple[Any, ...], list[str]]:
    """(check, host, transport, port, what it is about) -> the statuses of the findings there."""
    out: dict[tuple[Any, ...], list[str]] = {}
    for f in doc["findings"]:
        about = tuple(str(f["details"].get(k)) for k in _key_fields(f["check_id"]))
        key = (f["check_id"], f["host"], f["transport"] or ("tcp" if f["port"] is not None else ""), f["port"], about)
        out.setdefault(key, []).append(f["status"])
    return {k: sorted(v) for k, v in out.items()}


def _diff_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    k = entry["key"]
    return (k["check"], k["host"], k["transport"] or "", k["port"], tuple(k["about"]))


def _verdicts(doc: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in doc["clauses"]}


def _worse(before: str | None, after: str | None) -> bool:
    return (after == "FAIL" and before != "FAIL") or (before == "PASS" and after in ("FAIL", "INCONCLUSIVE", "MANUAL"))


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def own_lab() -> Iterator[dict[str, LabDevice]]:
    """This module's devices, on an instance reserved for it: the fix changes the weak-gateway."""
    reservation = reserve_lab_instance()
    inst = reservation.octet
    manager.down(inst)
    try:
        devices = manager.up(["weak-gateway", "camera"], inst)
        yield {d.name: d for d in devices}
    finally:
        manager.down(inst)
        reservation.release()


@pytest.fixture(scope="module")
def own_weak(own_lab: dict[str, LabDevice]) -> LabDevice:
    return own_lab["weak-gateway"]


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("keys")
    key, pub, _ = keygen(d / "lab")
    return key, pub


@pytest.fixture(scope="module")
def retest(own_weak: LabDevice, keypair: tuple[Path, Path],
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two signed runs of the same device: before, then after the manufacturer's fix in the lab."""
    d = tmp_path_factory.mktemp("retest")
    key, _ = keypair
    before = _scan(own_weak, d / "before.json", "--pack", str(d / "before.tar"), "--sign", str(key))
    run_dir = Path(own_weak.run_dir)
    # the fix: the web admin's default password replaced by a per-device one, and the firmware's
    # update check moved from plain HTTP on the device to the vendor's HTTPS server
    (run_dir / "etc" / "webusers").write_text(f"admin:{NEW_WEB_PASSWORD}\n")
    changed_files = []
    for rel in ("www/api/version.json", "www/firmware.json"):
        p = run_dir / rel
        data = json.loads(p.read_text())
        assert data["update_check_url"].startswith("http://"), data
        data["update_check_url"] = VENDOR_UPDATE_URL
        p.write_text(json.dumps(data))
        changed_files.append(rel)
    after = _scan(own_weak, d / "after.json", "--pack", str(d / "after.tar"), "--sign", str(key))
    return {"dir": d, "before": before, "after": after, "host": own_weak.address, "files": changed_files}


# ------------------------------------------------------------------------------ re-test diff


def test_diff_of_a_real_fix_names_exactly_what_changed(cli: InProcessCli, retest: dict[str, Any],
                                                       keypair: tuple[Path, Path]) -> None:
    d, before, after, host = retest["dir"], retest["before"], retest["after"], retest["host"]
    r = cli("diff", str(d / "before.tar"), str(d / "after.tar"), "--key", str(keypair[1]), "--json")
    diff = json.loads(r.stdout)
    # findings: exactly the keys whose statuses differ between the two documents
    fb, fa = _finding_statuses(before), _finding_statuses(after)
    expected = {k for k in set(fb) | set(fa) if fb.get(k) != fa.get(k)}
    got = {_diff_key(f) for f in diff["findings"]}
    assert got == expected, (sorted(got - expected, key=str), sorted(expected - got, key=str))
    for f in diff["findings"]:  # with the statuses the documents give (a key held once on each side)
        k = _diff_key(f)
        if len(fb.get(k, [])) <= 1 and len(fa.get(k, [])) <= 1:
            assert ([f["before"]["status"]] if f["before"] else []) == fb.get(k, [])
            assert ([f["after"]["status"]] if f["after"] else []) == fa.get(k, [])
    # the fix made in the lab is visible: the web logins no longer take admin/admin ...
    for port in (80, 8443):
        entry = next(f for f in diff["findings"] if f["key"]["check"] == "default_credentials"
                     and f["key"]["port"] == port)
        assert (entry["before"]["status"], entry["after"]["status"]) == ("FAIL", "PASS"), entry
        assert entry["class"] == "better"
    # ... and the update URL the device names moved from plain HTTP on itself to the vendor's server
    channel = [f for f in diff["findings"] if f["key"]["check"] == "update_channel"]
    gone = {f["key"]["about"][0] for f in channel if f["change"] == "disappeared"}
    new = {f["key"]["about"][0] for f in channel if f["change"] == "appeared"}
    def named(doc: dict[str, Any]) -> set[str]:  # the update URLs the document's update_channel findings judge
        return {f["details"]["update_url"] for f in doc["findings"] if f["check_id"] == "update_channel"
                and isinstance(f["details"].get("update_url"), str)}

    assert gone == named(before) - named(after) and new == named(after) - named(before), (gone, new)
    assert f"http://{host}/api/update-check" in gone and new == {VENDOR_UPDATE_URL}, (gone, new)
    # clauses: exactly those whose verdict differs, with the verdicts the documents give
    vb, va = _verdicts(before), _verdicts(after)
    moved = {c["id"]: (c["before"], c["after"]) for c in diff["clauses"] if c["class"] != "unchanged"}
    assert moved == {cid: (vb.get(cid), va.get(cid)) for cid in set(vb) | set(va) if vb.get(cid) != va.get(cid)}
    # a clause is listed with the findings it rests on that moved, and only those
    for c in diff["clauses"]:
        ids = {fid for doc in (before, after) for cl in doc["clauses"] if cl["id"] == c["id"]
               for fid in cl["findings"] + cl["supporting"]}
        keys = {_diff_key(f) for f in diff["findings"] if (f["before"] or {}).get("id") in ids
                or (f["after"] or {}).get("id") in ids}
        assert {_diff_key(f) for f in c["findings"]} <= keys
    # the exit code: worse only on a new FAIL or a PASS lost, computed here from the documents
    worse = any(_worse(vb.get(c), va.get(c)) for c in set(vb) | set(va)) or any(
        _worse(fb[k][0] if len(fb.get(k, [])) == 1 else None, fa[k][0] if len(fa.get(k, [])) == 1 else None)
        for k in expected if len(fb.get(k, [])) <= 1 and len(fa.get(k, [])) <= 1)
    assert r.returncode == diff["outcome"]["exit_code"]
    assert (r.returncode == 1) == worse, diff["outcome"]
    assert diff["old"]["integrity"].startswith("pack verified") and "signed by key" in diff["new"]["integrity"]
    # the update-cryptography clause moved only if the documents say so: away from FAIL, "better" when
    # decided or left to documents, "untested" when the vendor's update server leaves it INCONCLUSIVE
    if "cls:5.3-7" in moved:
        was, now = moved["cls:5.3-7"]
        cls_537 = next(c for c in diff["clauses"] if c["id"] == "cls:5.3-7")["class"]
        assert was == "FAIL" and cls_537 == ("untested" if now == "INCONCLUSIVE" else "better"), (now, cls_537)


def test_diff_the_other_way_is_worse_and_says_why(cli: InProcessCli, retest: dict[str, Any]) -> None:
    d = retest["dir"]
    r = cli("diff", str(d / "after.json"), str(d / "before.json"))
    assert r.returncode == 1, r.stdout[-3000:]
    assert "result: WORSE (exit 1)" in r.stdout
    for port in (80, 8443):
        assert f"finding default_credentials @ {retest['host']}:{port}/tcp: new FAIL (was PASS)" in r.stdout
    assert f"update_channel @ {retest['host']} [http://{retest['host']}/api/update-check" in r.stdout


def test_report_baseline_section_matches_the_diff(cli: InProcessCli, retest: dict[str, Any],
                                                  tmp_path: Path) -> None:
    d = retest["dir"]
    diff = json.loads(cli("diff", str(d / "before.tar"), str(d / "after.tar"), "--json").stdout)
    out = tmp_path / "r.html"
    r = cli("report", str(d / "after.tar"), "--format", "html", "--baseline", str(d / "before.tar"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    html = out.read_text("utf-8")
    assert f'id="baseline-result" data-exit-code="{diff["outcome"]["exit_code"]}"' in html
    assert html.count('class="baseline-clause"') == len(diff["clauses"])
    assert html.count('class="baseline-finding"') == len(diff["findings"])
    sarif = tmp_path / "r.sarif"
    cli("report", str(d / "after.tar"), "--format", "sarif", "--baseline", str(d / "before.tar"), "--out", str(sarif))
    log = json.loads(sarif.read_text())
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))  # baselineState is SARIF's own field
    states = {res["properties"]["findingId"]: res["baselineState"] for res in log["runs"][0]["results"]
              if "findingId" in res["properties"]}
    appeared = {f["after"]["id"] for f in diff["findings"] if f["change"] == "appeared"}
    assert {fid for fid, s in states.items() if s == "new"} == appeared & set(states)


def test_a_tampered_pack_is_refused(cli: InProcessCli, retest: dict[str, Any], tmp_path: Path) -> None:
    src = retest["dir"] / "after.tar"
    bad = tmp_path / "tampered.tar"
    with tarfile.open(src) as tin, tarfile.open(bad, "w") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            if m.name.endswith("evidence.json") and data is not None:
                data = data.replace(b'"FAIL"', b'"PASS"', 1)
                m.size = len(data)
            tout.addfile(m, io.BytesIO(data) if data is not None else None)
    r = cli("diff", str(retest["dir"] / "before.tar"), str(bad))
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "FAIL changed: evidence.json" in r.stderr and "not compared" in r.stderr
    assert r.stdout == ""


# ------------------------------------------------------------------------------ the dossier


PATHS = [("jc-star", "cls", "home-gateway"), ("jc-star", "cls", "general-iot"), ("cls", "jc-star", "home-gateway"),
         ("uk-psti", "jc-star", "home-gateway"), ("jc-star", "uk-psti", "home-gateway"),
         ("cls", "uk-psti", "home-gateway")]
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def _declaration(holding: str, where: Path) -> Path:
    held: dict[str, Any] = {"scheme": holding, "identifier": f"LBL-{HOSTILE}", "valid_from": "2025-04-01",
                            "valid_until": "2029-03-31", "obtained_via": "own-assessment", "issued_by": "the owner"}
    if holding in ("jc-star", "cls"):
        held["level"] = 1
    if holding == "uk-psti":
        held["public_url"] = "https://example.invalid/psti/statement"
        del held["valid_until"]
    doc = {"declaration_version": 1, "manufacturer": f"ACME {HOSTILE}", "model": "WR-1000",
           "update_signing": f"Images are signed. {HOSTILE}", "automatic_updates_default": True,
           "data_deletion": "Factory reset erases everything.", "held_label": held}
    where.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return where


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def path_runs(own_lab: dict[str, LabDevice], keypair: tuple[Path, Path],
              tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], Path]:
    d = tmp_path_factory.mktemp("paths")
    dev = own_lab["weak-gateway"]  # before or after the fix: every expectation comes from the evidence
    out = {}
    for holding, apply_for, profile in PATHS:
        name = f"{holding}-{apply_for}-{profile}"
        decl = _declaration(holding, d / f"{name}.yaml")
        _scan(dev, d / f"{name}.json", "--holding", holding, "--apply-for", apply_for, "--declaration", str(decl),
              "--application-date", APPLICATION_DATE, "--ports", "21,22,23,80,1883,8443", "--udp-ports", "161",
              "--pack", str(d / f"{name}.tar"), "--sign", str(keypair[0]), profile=profile)
        out[(holding, apply_for, profile)] = d / f"{name}.tar"
    return out


@pytest.mark.parametrize("path", PATHS, ids=["-".join(p) for p in PATHS])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_dossier_for_every_path_renders_with_the_evidence_numbers(cli: InProcessCli, path_runs: dict[Any, Path],
                                                                  keypair: tuple[Path, Path], path: tuple[str, ...],
                                                                  lang: str, tmp_path: Path) -> None:
    pack = path_runs[path]
    with tarfile.open(pack) as t:
        files = {m.name.split("/", 1)[1]: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}  # type: ignore[union-attr]
    doc = json.loads(files["evidence.json"])
    chosen = doc["recognition"]["chosen_path"]
    assert (chosen["holding"], chosen["apply_for"]) == path[:2]
    html_file = tmp_path / "dossier.html"
    r = cli("report", str(pack), "--format", "dossier", "--lang", lang, "--out", str(html_file))
    assert r.returncode == 0, r.stderr
    html = html_file.read_text("utf-8")
    _png, dom = chromium(html_file, tmp_path)
    parsed = _Dom()
    parsed.feed(dom)
    # every device or declared string is text: no element or handler came from one
    assert {t for t, _ in parsed.tags} <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3",
                                           "table", "tbody", "tr", "th", "td", "span", "p", "br", "b", "div", "ul",
                                           "li", "sup", "pre"}
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    text = "".join(parsed.text)
    assert "LBL-<script>alert(1)</script>" in text
    # the numbers are the evidence's: the gap clauses, their verdicts, the counts, the digests
    gap_ids = [g["id"] for g in chosen["gap_set"]] if not chosen["full_assessment"] else sorted(
        {c["id"] for c in doc["clauses"] if c["scheme"] == chosen["apply_for"]})
    shown = re.findall(r'class="gap" data-clause="([^"]+)"', html)
    assert sorted(shown) == sorted(gap_ids)
    gap_clauses = [c for c in doc["clauses"] if c["id"] in gap_ids]
    for v in ("PASS", "FAIL", "INCONCLUSIVE", "NOT_APPLICABLE", "MANUAL"):
        want = sum(1 for c in gap_clauses if c["verdict"] == v)
        if gap_ids:
            assert f'data-verdict="{v}" data-count="{want}"' in html, v
    for c in gap_clauses:
        assert f'data-target="{c["target"]}" data-verdict="{c["verdict"]}"' in html
    arts = {a["id"]: a for a in doc["artefacts"]}
    findings = {f["id"]: f for f in doc["findings"]}
    for c in gap_clauses:
        for fid in c["findings"]:
            for aid in findings[fid]["evidence"]:
                assert arts[aid]["sha256"] in html
    if not gap_ids:
        assert 'id="empty-gap"' in html
    # the integrity block: the manifest's digest, the archive's, the signer's fingerprint, probe's version
    assert hashlib.sha256(files["manifest.json"]).hexdigest() in html
    assert hashlib.sha256(pack.read_bytes()).hexdigest() in html
    assert fingerprint(load_public(keypair[1])) in html
    assert f'{doc["tool"]["name"]} {doc["tool"]["version"]}' in html
    assert doc["run"]["id"] in html
    if lang == "ja":
        assert "仮訳" in text and "簡易申請のためのエビデンス書類" in text
        for g in chosen["gap_set"]:
            term = {"partial": "一部適合", "none": "該当なし", "full": "完全適合"}.get(g["status"])
            if term and g.get("wording_ja"):
                assert term in text
        assert "2026年7月1日" in text  # the date judged, as Japan writes it
    # the Markdown dossier says the same numbers
    md = cli("report", str(pack), "--format", "dossier", "--lang", lang, "--out", str(tmp_path / "d.md"))
    assert md.returncode == 0
    mdtext = (tmp_path / "d.md").read_text("utf-8")
    if gap_ids:
        counts = ", ".join(f"{v} {sum(1 for c in gap_clauses if c['verdict'] == v)}"
                           for v in ("PASS", "FAIL", "INCONCLUSIVE", "NOT_APPLICABLE", "MANUAL"))
        assert counts in mdtext
    assert "<script" not in mdtext


# ------------------------------------------------------------------------------ declared vs observed


def _interfaces(variant: str, leave_out: str | None = None) -> list[dict[str, Any]]:
    truth = T.load_truth(T.truth_path(variant))
    out = []
    for key, svc in truth.services.items():
        if key == leave_out:
            continue
        transport, port = key.split("/")
        out.append({"protocol": svc.protocol, "port": int(port), "transport": transport,
                    "purpose": f"{svc.protocol} as configured", "enabled_by_default": True})
    return out


def _interfaces_declaration(path: Path, interfaces: list[dict[str, Any]],
                            update: dict[str, Any] | None = None) -> Path:
    doc: dict[str, Any] = {"declaration_version": 1, "manufacturer": "ACME", "model": "CAM-200",
                           "interfaces": interfaces}
    if update:
        doc["update"] = update
    path.write_text(yaml.safe_dump(doc), "utf-8")
    return path


def _authentication_as_the_checks_saw_it(doc: dict[str, Any], interfaces: list[dict[str, Any]]) -> None:
    """declared_authentication says what default_credentials / unauthenticated_access found on the port."""
    for i in interfaces:
        if "authentication" not in i:
            continue
        mine = [f for f in doc["findings"] if f["check_id"] == "declared_authentication" and f["port"] == i["port"]]
        assert len(mine) == 1, mine
        seen = {f["check_id"]: f for f in doc["findings"] if f["port"] == i["port"]
                and f["check_id"] in ("default_credentials", "unauthenticated_access")}
        dc, ua = seen.get("default_credentials"), seen.get("unauthenticated_access")
        if dc and dc["status"] == "FAIL":
            want, cited = "FAIL", dc
        elif ua and ua["status"] == "FAIL":
            want, cited = "FAIL", ua
        elif dc and dc["status"] == "PASS":
            want, cited = "PASS", dc
        else:
            want, cited = "INCONCLUSIVE", None
        assert mine[0]["status"] == want, (mine[0], dc and dc["status"], ua and ua["status"])
        if cited is not None:
            assert set(cited["evidence"]) <= set(mine[0]["evidence"])  # the raw evidence it rests on


def _update_as_the_checks_saw_it(doc: dict[str, Any]) -> None:
    """declared_update: one finding per update URL the device names, the declared URL, and the page."""
    mine = {f["details"]["item"]: f for f in doc["findings"] if f["check_id"] == "declared_update"}
    named = {f["details"]["update_url"] for f in doc["findings"]
             if f["check_id"] == "update_channel" and isinstance(f["details"].get("update_url"), str)}
    for url in named:  # every URL the camera names for itself: not the declared one, so a difference
        assert mine[f"url {url}"]["status"] == "FAIL", mine
    if VENDOR_CAMERA_UPDATE not in named:
        assert mine[f"declared-url {VENDOR_CAMERA_UPDATE}"]["status"] == "NOT_APPLICABLE"
    pages = [p for f in doc["findings"] if f["check_id"] == "update_mechanism" for p in f["details"].get(
        "update_pages") or []]
    assert mine["update page"]["status"] == ("FAIL" if pages else "PASS")  # declared: no update page


VENDOR_CAMERA_UPDATE = "https://updates.example.invalid/cam-200/latest.json"


def test_undeclared_open_port_is_a_finding_for_the_unused_interfaces_clause(own_lab: dict[str, LabDevice],
                                                                            tmp_path: Path) -> None:
    dev = own_lab["camera"]
    rtsp = f"tcp/{dev.port('rtsp')}"
    interfaces = _interfaces("camera", leave_out=rtsp)
    for i in interfaces:  # the manufacturer claims per-device web passwords
        if i["protocol"] == "http":
            i["authentication"] = "unique-per-device"
    decl = _interfaces_declaration(tmp_path / "decl.yaml", interfaces, update={
        "method": "automatic", "protocol": "https", "check_url": VENDOR_CAMERA_UPDATE, "local_update_page": False})
    doc = _scan(dev, tmp_path / "ev.json", "--declaration", str(decl), profile="general-iot")
    _authentication_as_the_checks_saw_it(doc, interfaces)
    _update_as_the_checks_saw_it(doc)
    mine = [f for f in doc["findings"] if f["check_id"] == "declared_interfaces"]
    fails = [f for f in mine if f["status"] == "FAIL"]
    assert [f"{f['transport']}/{f['port']}" for f in fails] == [rtsp], mine
    fail = fails[0]
    kinds = {a["id"]: a["kind"] for a in doc["artefacts"]}
    assert "declaration" in {kinds[a] for a in fail["evidence"]}  # the declaration it contradicts, verbatim
    assert "comparison" in {kinds[a] for a in fail["evidence"]}
    svc = next(s for s in doc["services"] if s["port"] == fail["port"])
    if svc["banner_artefact"]:
        assert svc["banner_artefact"] in fail["evidence"]  # what the device said on that port
    assert "jc-star:S1.1-13" in fail["clauses"]
    clause = next(c for c in doc["clauses"] if c["id"] == "jc-star:S1.1-13")
    assert fail["id"] in clause["findings"]
    assert clause["verdict"] == "MANUAL" and not clause["text_confirmed"]  # the text is unconfirmed: attached
    assert all(f["status"] == "PASS" for f in mine if f is not fail)


def test_declared_interfaces_stay_quiet_when_the_declaration_matches(own_lab: dict[str, LabDevice],
                                                                     tmp_path: Path) -> None:
    dev = own_lab["camera"]
    decl = _interfaces_declaration(tmp_path / "decl.yaml", _interfaces("camera"))
    doc = _scan(dev, tmp_path / "ev.json", "--declaration", str(decl), profile="general-iot")
    mine = [f for f in doc["findings"] if f["check_id"] == "declared_interfaces"]
    assert mine and all(f["status"] == "PASS" for f in mine), [(f["port"], f["status"], f["summary"]) for f in mine]
    assert {f"{f['transport']}/{f['port']}" for f in mine} == {f"{s['transport']}/{s['port']}"
                                                                for s in doc["services"]}
