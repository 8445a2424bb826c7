"""Helpers for the pack and report tests: a hostile hand-crafted evidence document, a real run
against busybox telnetd on loopback, headless Chromium, and a small PNG reader (no PIL here)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from probe.lab.pki import make_weak_self_signed
from probe.output.evidence import validate
from tests.helpers.cli import REPO, CliResult, InProcessCli
from tests.helpers.daemons import LocalDaemons

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
SVG = "'><svg onload=alert(3)>"
MD = "[click](http://evil.invalid) | *bold* `tick` # _u_"
CTRL = "\x1b[31mred\x00\x07"
HOSTILE = f"{SCRIPT} {IMG} {SVG} {MD} {CTRL}"
SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"


def _art(aid: str, kind: str, name: str, data: bytes, media: str = "application/octet-stream",
         port: int | None = 23) -> dict[str, Any]:
    try:
        content, enc = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        content, enc = base64.b64encode(data).decode("ascii"), "base64"
    return {"id": aid, "kind": kind, "name": name, "media_type": media, "host": "127.0.0.1", "port": port,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "encoding": enc, "content": content}


def self_signed_der(cn: str) -> bytes:
    """A certificate whose subject is device text (probe's lab PKI), as DER like a TLS hello carries it."""
    with tempfile.TemporaryDirectory() as d:
        issued = make_weak_self_signed(Path(d) / "device", cn, None, "probe tests", expired=False)
        cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    return cert.public_bytes(serialization.Encoding.DER)


def _clause(cid: str, verdict: str, basis: str, reason: str, findings: list[str], *, title_ja: str | None = None,
            network: str | None = None, declaration: dict[str, Any] | None = None,
            confirmed: bool = True, supporting: list[str] | None = None, code: str | None = None) -> dict[str, Any]:
    scheme, number = cid.split(":")
    rules = [{"id": f"{cid}#cleartext-login", "check": "cleartext_authentication", "roles": [], "effect": "decides",
              "findings": findings},
             {"id": f"{cid}#tls-on-login-service", "check": "tls_configuration", "roles": ["management"],
              "effect": "supports", "findings": supporting or []}]
    return {"id": cid, "scheme": scheme, "number": number, "title": f"Title of {number}", "title_ja": title_ja,
            "text_confirmed": confirmed, "assessment": "network", "target": "127.0.0.1", "verdict": verdict,
            "basis": basis, "reason": reason, "network_result": network, "checks": ["cleartext_authentication"],
            "findings": findings, "declaration": declaration, "rules": rules, "supporting": supporting or [],
            "reason_code": code if code else ("connectivity" if verdict == "INCONCLUSIVE" else None)}


def hostile_doc() -> dict[str, Any]:
    """A schema-valid evidence document whose every device-derived string is an attack."""
    arts = [
        _art("a-0001", "banner", f"greeting {HOSTILE}", f"220 {HOSTILE}\r\n".encode()),
        _art("a-0002", "transcript", "telnet transcript", b"<<< \xff\xfd\x01" + SCRIPT.encode() + b"\x1b[2J\n>>> x\n"),
        _art("a-0003", "certificate", "leaf certificate", self_signed_der(SCRIPT)),
        _art("../../evil", "declaration", "../../etc/passwd.pdf", b"%PDF-1.4 declared " + IMG.encode()),
        _art("a/0005", "nmap-xml", "nmap", f"<nmaprun><x>{SVG}</x></nmaprun>".encode(), "application/xml"),
        _art("A-0006", "inventory", "inventory", b'{"services": []}', "application/json", None),
    ]
    findings = [
        {"id": "f-0001", "check_id": "cleartext_authentication", "status": "FAIL", "host": "127.0.0.1", "port": 23,
         "transport": "tcp", "protocol": "telnet", "title": "Telnet exposed", "summary": f"banner said {HOSTILE}",
         "reason": None, "reason_code": None, "severity": "high", "clauses": ["jc-star:S1.1-12", "cls:5.1-3"],
         "details": {"banner": HOSTILE}, "evidence": ["a-0001", "a-0002"]},
        {"id": "f-0002", "check_id": "tls_certificate", "status": "INCONCLUSIVE", "host": "127.0.0.1", "port": 443,
         "transport": "tcp", "protocol": "https", "title": "TLS certificate", "summary": "handshake failed",
         "reason": f"device sent {IMG}", "reason_code": "device-misbehaved", "severity": "medium",
         "clauses": ["jc-star:S1.1-04"], "details": {}, "evidence": ["a-0003"]},
        {"id": "f-0003", "check_id": "ssh_algorithms", "status": "NOT_APPLICABLE", "host": "127.0.0.1", "port": None,
         "transport": None, "protocol": None, "title": "SSH", "summary": "no SSH", "reason": "no SSH service",
         "reason_code": None, "severity": "medium", "clauses": ["cls:5.1-5"], "details": {}, "evidence": []},
        {"id": "f-0004", "check_id": "service_inventory", "status": "PASS", "host": "127.0.0.1", "port": None,
         "transport": None, "protocol": None, "title": "Inventory", "summary": f"product {SVG}", "reason": None,
         "reason_code": None, "severity": "low", "clauses": ["uk-psti:1"], "details": {},
         "evidence": ["A-0006", "a/0005"]},
    ]
    clauses = [
        _clause("jc-star:S1.1-12", "FAIL", "tested", f"cleartext on telnet/23: {HOSTILE}", ["f-0001"],
                title_ja="ネットワーク上のデータを盗聴から保護すること", network="FAIL"),
        _clause("jc-star:S1.1-04", "INCONCLUSIVE", "tested", f"device sent {IMG}", ["f-0002"],
                title_ja="総当たり攻撃を困難にすること", network="INCONCLUSIVE", code="device-misbehaved"),
        _clause("jc-star:S1.1-05", "MANUAL", "declared", "needs the manufacturer's documents", [],
                title_ja="脆弱性開示方針を公開すること", declaration={"statement": f"We comply {SCRIPT}",
                                                                 "file": "../../etc/passwd.pdf"}),
        _clause("jc-star:S1.1-16", "MANUAL", "manual", "needs the manufacturer's documents", [], confirmed=False),
        _clause("cls:5.1-3", "FAIL", "tested", f"cleartext: {SVG}", ["f-0001"], network="FAIL"),
        _clause("cls:5.1-5", "NOT_APPLICABLE", "tested", "no SSH service", ["f-0003"], network="NOT_APPLICABLE",
                supporting=["f-0002"]),
        _clause("cls:5.3-7", "INCONCLUSIVE", "tested", "no check that evidences this clause ran", [],
                code="missing-input"),
        _clause("uk-psti:1", "PASS", "tested", "inventory clean", ["f-0004"], network="PASS"),
    ]
    gap = [{"id": "cls:5.3-7", "status": "partial", "tables": ["annex-a-cls"],
            "wording": "Partial Compliance with CLS is required to be assessed.",
            "wording_ja": "一部適合 ※CLS への適合性評価が必要"},
           {"id": "cls:5.1-3", "status": "none", "tables": ["annex-b"], "wording": "None", "wording_ja": "該当なし"}]
    basis = {"table": "annex-a-cls", "instrument": "japan-singapore", "kind": "moc", "name": "Japan–Singapore MoC",
             "title": "Japan–Singapore MoC", "annex": "Annex A, second table", "paragraph": "para 3.2(a)",
             "condition": "the product holds a valid JC-STAR label", "gap_source": "the status table",
             "signed": "2026-03-18", "in_force": "2026-06-01", "in_force_ref": "para 11.2", "source": "x",
             "applies": True, "why_not": None}
    unused = dict(basis, table="other", instrument="japan-uk", name="Japan–UK MoC", paragraph="para 3.2(b)",
                  applies=False, why_not=f"not in force {SVG}")
    path = {"holding": "jc-star", "apply_for": "cls", "device_class": "home-gateway", "tables": ["annex-a-cls"],
            "full_assessment": False, "explanation": "holding jc-star, applying for cls", "gap_set": gap,
            "recognised": [], "status": "in-force", "as_of": "2026-07-01", "bases": [basis, unused],
            "notes": ["For a home gateway, Annex B adds the home-gateway provisions."],
            "manual_items": [{"id": "show-held-label", "what": "the obtained JC-STAR label",
                              "refs": ["Japan–Singapore MoC para 3.2(a)"], "verdict": "MANUAL", "basis": "declared",
                              "declared_by": "held_label",
                              "declared": {"field": "held_label", "value": f"jc-star label {HOSTILE}", "line": 20}}],
            "questions": [{"id": "third-party-label", "text": "Was the jc-star label obtained through another "
                           "arrangement?", "refs": ["Japan–Singapore MoC para 3.4"], "answer": "own-assessment",
                           "answered": True, "line": 26}],
            "in_force_from": None, "pending_gap_set": []}
    held = {"scheme": "jc-star", "identifier": f"JC-{HOSTILE}", "level": 1, "valid_from": "2025-04-01",
            "valid_until": "2028-03-31", "obtained_via": "own-assessment", "public_url": f"https://x.invalid/{IMG}",
            "issued_by": None, "declared_in": {"file": f"../../{SCRIPT}.yaml", "sha256": "a" * 64, "line": 20},
            "valid_on_date": True, "validity_problem": None}
    doc = {
        "schema_version": "2.0.0", "tool": {"name": "probe", "version": "0.1.0"},
        "run": {"id": "hostile-run-1", "started": "2026-01-02T03:04:05+00:00",
                "finished": "2026-01-02T03:05:00+00:00", "complete": True, "incomplete_reasons": [], "options": {},
                "device_state": "factory", "device_state_source": "operator"},
        "targets": ["127.0.0.1"],
        "profile": {"name": "home-gateway", "device_class": "home-gateway", "schemes": ["jc-star", "cls", "uk-psti"],
                    "checks": ["cleartext_authentication"]},
        "recognition": {"holding": "jc-star", "apply_for": "cls", "chosen_path": path, "paths": [path],
                        "as_of": "2026-07-01", "as_of_source": "run date", "held_label": held},
        "scope": [c["id"] for c in clauses],
        "catalog": {"jc-star": {"name": "JC-STAR ★1", "version": "v1.1", "source": "x"},
                    "cls": {"name": "Singapore CLS Level 1", "version": "v2.1.1", "source": "x"},
                    "uk-psti": {"name": "UK PSTI", "version": "2023", "source": "x"},
                    "overlays": [{"path": f"/tmp/{SCRIPT}.yaml", "sha256": "ab" * 32}]},
        "discovery": {"127.0.0.1": {"method": "connect-scan", "complete": True, "reachable": True,
                                    "notes": [f"note {SCRIPT}"]}},
        "services": [{"host": "127.0.0.1", "port": 23, "transport": "tcp", "protocol": "telnet",
                      "method": "connect-scan", "product": SCRIPT, "version": IMG, "tls": False,
                      "banner_artefact": "a-0001", "confidence": "banner",
                      "roles": [{"role": "management", "why": f"telnet login {HOSTILE}", "evidence": ["a-0001"]}]}],
        "clauses": clauses, "findings": findings, "artefacts": arts, "notes": [f"run note {SVG}"],
        "summary": dict(Counter(c["verdict"] for c in clauses)),
    }
    for v in ("PASS", "FAIL", "INCONCLUSIVE", "NOT_APPLICABLE", "MANUAL"):
        doc["summary"].setdefault(v, 0)
    validate(doc)
    return doc


def real_run(daemons: LocalDaemons, cli: InProcessCli, tmp: Path, *extra: str) -> tuple[Path, CliResult]:
    """`probe run` against a real busybox telnetd on loopback (cleartext logins: some clause FAILs)."""
    port = daemons.telnetd()
    out = tmp / "evidence.json"
    r = cli("run", "--target", "127.0.0.1", "--ports", str(port), "--out", str(out), "--no-credentials", *extra)
    assert out.exists(), r.stderr
    return out, r


def chromium(html_file: Path, tmp: Path) -> tuple[Path, str]:
    """Screenshot and rendered DOM of a local HTML file in headless Chromium (no network)."""
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(exe).exists():
        pytest.fail("chromium is not installed: run scripts/setup-system.sh")
    profile = Path(tempfile.mkdtemp(dir=tmp, prefix="chromium-"))
    common = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--user-data-dir={profile}", "--window-size=1280,2000"]
    png = tmp / "shot.png"
    env = dict(os.environ, HOME=str(profile))
    subprocess.run([*common, f"--screenshot={png}", html_file.as_uri()], capture_output=True, timeout=120,
                   env=env, check=False)
    dom = subprocess.run([*common, "--dump-dom", html_file.as_uri()], capture_output=True, text=True,
                         timeout=120, env=env, check=False)
    return png, dom.stdout


def png_pixels(path: Path, max_rows: int = 400) -> tuple[int, int, list[bytes], int]:
    """Width, height, the first max_rows unfiltered RGB(A) rows of an 8-bit PNG, and bytes/pixel."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    h = depth = ctype = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype_b, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if ctype_b == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif ctype_b == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and ctype in (2, 6), (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(min(h, max_rows)):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return w, h, rows, bpp
