"""Manufacturer declaration: template round-trip, malformed files (line numbers), and `probe run`."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from probe.compliance.catalog import load_catalog
from probe.compliance.declaration import load_declaration, load_map
from probe.output.evidence import validate
from tests.helpers.cli import InProcessCli
from tests.helpers.ports import free_port
from tests.helpers.sites import admin_ui

Site = Callable[..., int]


def test_template_round_trip(cli: InProcessCli, tmp_path: Path) -> None:
    r = cli("declaration", "--template")
    assert r.returncode == 0
    f = tmp_path / "decl.yaml"
    f.write_text(r.stdout)
    c = cli("declaration", "--check", str(f))
    assert c.returncode == 0, c.stderr
    assert "valid declaration" in c.stdout and "template example values" in c.stdout
    decl = load_declaration(f)
    assert decl.data["support_period_end"] == "2030-12-31"  # kept as text, validated as a date
    assert decl.data["automatic_updates_default"] is True
    assert decl.lines["model"] == next(i for i, ln in enumerate(r.stdout.splitlines(), 1) if ln.startswith("model:"))
    # the held label (issue 11 §3): shown by --check, its example values flagged like the others
    assert "held label: jc-star ★1 label EXAMPLE-0001, valid 2025-04-01 to 2027-03-31; obtained via: own-assessment" \
        in c.stdout
    assert "held_label.identifier" in c.stdout and "held_label.public_url" in c.stdout
    assert decl.data["held_label"]["valid_until"] == "2027-03-31"
    assert decl.lines["held_label.obtained_via"] == next(
        i for i, ln in enumerate(r.stdout.splitlines(), 1) if ln.strip().startswith("obtained_via:"))
    # the ICS/IXIT part (issue 16 §3): interfaces and the update mechanism, shown and flagged too
    assert "interfaces: 4 declared (tcp/443 https, tcp/80 http, udp/53 dns, tcp/22 ssh)" in c.stdout
    assert "update: automatic-and-user-initiated over https" in c.stdout and "update.check_url" in c.stdout
    assert [i["authentication"] for i in decl.data["interfaces"]] == ["unique-per-device", "none", "none",
                                                                      "user-set-at-first-use"]
    assert decl.lines["interfaces.2"] == next(i for i, ln in enumerate(r.stdout.splitlines(), 1)
                                              if "protocol: dns" in ln)


def test_declaration_map_names_only_known_clauses() -> None:
    fmap = load_map(load_catalog())  # raises on an unknown clause id
    assert "cls:5.3-13" in fmap["support_period_end"] and "jc-star:S1.1-16" in fmap["support_period_url"]
    assert set(fmap["automatic_updates_default"]) == {"cls:5.3-6", "cls:7.3-4", "cls:7.3-6"}


BASE = "declaration_version: 1\nmanufacturer: ACME\nmodel: EX-GW1000\n"


@pytest.mark.parametrize("extra,line,needle", [
    ("support_period_end: 2030-13-45\n", 4, "is not a date"),
    ("automatic_updates_default: sometimes\n", 4, "should be a boolean"),
    ("support_period_url: ftp://x\n", 4, "not an http(s) URL"),
    ("\n\nsuport_period_end: 2030-01-01\n", 6, "unknown field"),
    ("model: again\n", 4, "appears twice"),
    ("clauses:\n  cls:5.3-8:\n    document: only a document\n", 5, "statement"),
    ("clauses:\n  cls:9.9-9:\n    statement: x\n", 5, "unknown clause"),
    ("update_signing: [unclosed\nfoo: 1\n", 5, "not valid YAML"),
    ("held_label:\n  scheme: jc-star\n  identifier: JC-1\n  valid_until: 2027-01-01\n", 4,
     "held_label: 'level' is a required property"),
    ("held_label:\n  scheme: jc-star\n  identifier: JC-1\n  level: 1\n", 4, "'valid_until' is a required"),
    ("held_label:\n  scheme: uk-psti\n  identifier: SoC-1\n", 4, "'public_url' is a required property"),
    ("held_label:\n  scheme: psti\n  identifier: x\n", 5, "held_label.scheme"),
    ("held_label:\n  scheme: cls\n  identifier: C-1\n  level: 5\n  valid_until: 2027-01-01\n", 7,
     "held_label.level"),
    ("held_label:\n  scheme: cls\n  identifier: C-1\n  level: 1\n  valid_from: 2027-02-01\n"
     "  valid_until: 2027-01-01\n", 8, "valid_from 2027-02-01 is after valid_until 2027-01-01"),
    ("held_label:\n  scheme: cls\n  identifier: C-1\n  level: 1\n  valid_until: 2027-01-01\n"
     "  obtained_via: cls\n", 9, "use own-assessment"),
    ("held_label:\n  scheme: cls\n  identifier: C-1\n  level: 1\n  valid_until: 2027-01-01\n"
     "  valid_for: ever\n", 9, "unknown field"),
    # the interfaces and update mechanism a run compares with the device (issue 16 §3)
    ("interfaces:\n  - {protocol: ssh, port: 22, purpose: x, enabled_by_default: true}\n"
     "  - {protocol: telnet, port: 22, purpose: y, enabled_by_default: false}\n", 6, "tcp/22 is declared twice"),
    ("interfaces:\n  - {protocol: ssh, port: 22, purpose: x, enabled_by_default: true, authentication: strong}\n",
     5, "interfaces.0.authentication"),
    ("interfaces:\n  - {protocol: ssh, port: 70000, purpose: x, enabled_by_default: true}\n", 5, "interfaces.0.port"),
    ("interfaces:\n  - {protocol: ssh, port: 22, purpose: x}\n", 5, "'enabled_by_default' is a required property"),
    ("update:\n  method: automatic\n  check_url: ftp://x\n", 6, "not an http(s) URL"),
    ("update:\n  protocol: https\n", 4, "'method' is a required property"),
])
def test_malformed_declaration_is_one_line_with_the_line_number(cli: InProcessCli, tmp_path: Path, extra: str,
                                                                line: int, needle: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(BASE + extra)
    r = cli("declaration", "--check", str(f))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert f"{f}:{line}:" in r.stderr, r.stderr
    assert needle in r.stderr


def test_run_rejects_a_malformed_declaration_before_scanning(cli: InProcessCli, tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(BASE + "automatic_updates_default: 3\n")
    r = cli("run", "--target", "127.0.0.1", "--ports", str(free_port()), "--declaration", str(f),
                "--out", str(tmp_path / "ev.json"))
    assert r.returncode == 2 and f"{f}:4:" in r.stderr and not (tmp_path / "ev.json").exists()
    r = cli("run", "--target", "127.0.0.1", "--fetch-declared-urls")
    assert r.returncode == 2 and "--declaration" in r.stderr


DECL = """\
declaration_version: 1
manufacturer: ACME Networks
model: EX-GW1000
firmware_version: "1.2.3"
vulnerability_disclosure_policy_url: {policy}
security_contact: mailto:security@acme.invalid
support_period_end: 2031-03-31
support_period_url: {support}
update_mechanism: Daily automatic check; manual upload on System > Firmware.
automatic_updates_default: true
update_signing: ECDSA P-256 signed images, verified by the bootloader.
data_deletion: Factory reset erases user data.
"""


def test_gap_set_run_with_declaration_has_every_clause(cli: InProcessCli, site: Site, tmp_path: Path) -> None:
    """Acceptance: holding JC-STAR, applying for CLS, home gateway: nothing in the gap set is missing."""
    port = free_port()
    site(admin_ui(f"http://127.0.0.1:{port}/fw/check.json"), port=port)
    decl = tmp_path / "decl.yaml"
    decl.write_text(DECL.format(policy="https://acme.invalid/vdp", support="https://acme.invalid/support"))
    out = tmp_path / "ev.json"
    r = cli("run", "--target", "127.0.0.1", "--holding", "jc-star", "--apply-for", "cls", "--profile",
                "home-gateway", "--declaration", str(decl), "--ports", str(port), "--out", str(out))
    assert r.returncode == 1, r.stderr  # the cleartext update URL fails 5.3-7
    doc = json.loads(out.read_text())
    validate(doc)
    gap = {g["id"] for g in doc["recognition"]["chosen_path"]["gap_set"]}
    assert gap == {"cls:5.3-7", "cls:7.3-1", "cls:7.3-7", "cls:5.3-6", "cls:7.3-4", "cls:7.3-6"}
    clauses = {c["id"]: c for c in doc["clauses"]}
    assert set(clauses) == gap  # none missing, none extra
    for cid, c in clauses.items():  # the declaration covers every MANUAL clause of the gap set
        assert c["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE", "NOT_APPLICABLE") or \
            (c["verdict"] == "MANUAL" and c["basis"] == "declared"), (cid, c["verdict"], c["basis"])
    for cid in ("cls:5.3-6", "cls:7.3-4", "cls:7.3-6"):  # documents-only: declared, never PASS
        assert clauses[cid]["verdict"] == "MANUAL" and clauses[cid]["basis"] == "declared"
        st = clauses[cid]["declaration"]["statements"]
        assert st == [{"field": "automatic_updates_default", "value": True, "line": 10}]
    # the network proves the cleartext update channel, which fails the update-crypto clause...
    assert clauses["cls:5.3-7"]["verdict"] == "FAIL" and clauses["cls:5.3-7"]["basis"] == "tested"
    # ...but 7.3-7's text is unconfirmed (MANUAL, finding attached) and 7.3-1 it only supports
    assert clauses["cls:7.3-7"]["verdict"] == "MANUAL" and "not confirmed" in clauses["cls:7.3-7"]["reason"]
    assert clauses["cls:7.3-1"]["verdict"] == "MANUAL"
    for cid in ("cls:5.3-7", "cls:7.3-7", "cls:7.3-1"):
        assert clauses[cid]["declaration"] is not None  # the declaration is still cited
    art = next(a for a in doc["artefacts"] if a["kind"] == "declaration")
    assert art["sha256"] == hashlib.sha256(decl.read_bytes()).hexdigest()
    assert art["sha256"] == clauses["cls:5.3-6"]["declaration"]["sha256"]
    assert art["id"] == clauses["cls:5.3-6"]["declaration"]["artefact"]
    fail = next(f for f in doc["findings"] if f["check_id"] == "update_channel")
    assert fail["status"] == "FAIL" and fail["id"] in clauses["cls:5.3-7"]["findings"]


def test_fetch_declared_urls_records_status_and_hash(cli: InProcessCli, site: Site, tmp_path: Path) -> None:
    policy = "<html><title>ACME vulnerability disclosure policy</title></html>"
    site = site({"/vdp.html": policy})  # a loopback stand-in for the manufacturer's web site
    decl = tmp_path / "decl.yaml"
    decl.write_text(DECL.format(policy=f"http://127.0.0.1:{site}/vdp.html",
                                support=f"http://127.0.0.1:{site}/missing.html"))
    out = tmp_path / "ev.json"
    r = cli("run", "--target", "127.0.0.1", "--apply-for", "uk-psti", "--profile", "general-iot",
                "--declaration", str(decl), "--fetch-declared-urls", "--ports", str(free_port()), "--out", str(out))
    # nothing listens on the port: every uk-psti clause is MANUAL (no FAIL, no INCONCLUSIVE)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    validate(doc)
    clauses = {c["id"]: c for c in doc["clauses"]}
    vdp = clauses["uk-psti:2"]
    assert vdp["verdict"] == "MANUAL" and vdp["basis"] == "declared"
    fetched = {u["url"]: u for u in vdp["declaration"]["fetched_urls"]}
    got = fetched[f"http://127.0.0.1:{site}/vdp.html"]
    assert got["status"] == 200 and got["sha256"] == hashlib.sha256(policy.encode()).hexdigest()
    assert any(a["id"] == got["artefact"] and a["kind"] == "declared-url" for a in doc["artefacts"])
    support = clauses["uk-psti:3"]["declaration"]["fetched_urls"][0]
    assert support["status"] == 404  # recorded as seen: a declared URL that does not resolve is evidence too


def test_without_fetch_opt_in_declared_urls_are_not_contacted(cli: InProcessCli, tmp_path: Path) -> None:
    site = socket.socket()
    site.bind(("127.0.0.1", 0))
    site.listen(2)
    site.settimeout(0.3)
    try:
        decl = tmp_path / "decl.yaml"
        url = f"http://127.0.0.1:{site.getsockname()[1]}/vdp"
        decl.write_text(DECL.format(policy=url, support=url))
        out = tmp_path / "ev.json"
        r = cli("run", "--target", "127.0.0.1", "--apply-for", "uk-psti", "--profile", "general-iot",
                "--declaration", str(decl), "--ports", str(free_port()), "--out", str(out))
        assert r.returncode == 0, r.stderr
        doc = json.loads(out.read_text())
        declared = [c for c in doc["clauses"] if c["declaration"]]
        assert {c["id"] for c in declared} >= {"uk-psti:2", "uk-psti:3"}  # the URLs' clauses cite the file...
        assert all(not c["declaration"]["fetched_urls"] for c in declared)  # ...but nothing was fetched
        with pytest.raises((socket.timeout, TimeoutError)):
            site.accept()
    finally:
        site.close()


def test_held_label_is_evidence_of_the_path(cli: InProcessCli, tmp_path: Path) -> None:
    """`--holding` takes the label from the declaration: the evidence records it as declared (file,
    line, sha256 of the kept artefact), its validity on the run date, the answered third-party
    question, the path's basis and its MANUAL items; an empty gap set says what recognises it."""
    decl = tmp_path / "decl.yaml"
    decl.write_text(BASE + "held_label:\n  scheme: jc-star\n  identifier: JC-0042\n  level: 1\n"
                    "  valid_until: 2099-12-31\n  obtained_via: own-assessment\n")
    out = tmp_path / "ev.json"
    r = cli("run", "--target", "127.0.0.1", "--holding", "jc-star", "--apply-for", "uk-psti", "--profile",
            "general-iot", "--declaration", str(decl), "--ports", str(free_port()), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "recognition path: holding jc-star → applying for uk-psti" in r.stdout and "gap set: empty" in r.stdout
    doc = json.loads(out.read_text())
    validate(doc)
    rec = doc["recognition"]
    assert rec["as_of_source"] == "run date" and rec["as_of"] == doc["run"]["started"][:10]
    held = rec["held_label"]
    art = next(a for a in doc["artefacts"] if a["kind"] == "declaration")
    assert held["declared_in"] == {"file": str(decl), "line": 4, "sha256": art["sha256"]}
    assert (held["identifier"], held["level"], held["valid_until"], held["valid_on_date"]) == \
        ("JC-0042", 1, "2099-12-31", True)
    path = rec["chosen_path"]
    assert path["gap_set"] == [] and doc["clauses"] == [] and "recognised in full by" in path["explanation"]
    assert {b["instrument"] for b in path["bases"] if b["applies"]} == {"japan-uk", "uk-psti-regulations"}
    assert path["questions"][0]["answer"] == "own-assessment" and path["questions"][0]["line"] == 9
    (item,) = path["manual_items"]
    assert item["basis"] == "declared" and item["declared"]["line"] == 4 and "JC-0042" in item["declared"]["value"]
