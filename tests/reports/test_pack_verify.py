"""Evidence packs: layout, safe names, reproducible archives, and `probe verify` naming every kind
of tampering (changed artefact / evidence / manifest / signature, missing, extra, wrong key)."""

from __future__ import annotations

import io
import json
import re
import shutil
import stat
import tarfile
from pathlib import Path

import pytest
from cryptography import x509

from probe.output import pack
from probe.output.signing import keygen, load_private, load_public
from tests.helpers.cli import InProcessCli
from tests.helpers.daemons import LocalDaemons
from tests.helpers.reports import hostile_doc, real_run

SIGNED_AT = "2026-02-03T04:05:06+00:00"


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    k1, p1, _ = keygen(tmp_path / "lab")
    k2, p2, _ = keygen(tmp_path / "other")
    return {"key": k1, "pub": p1, "other_key": k2, "other_pub": p2}


@pytest.fixture
def evidence_file(tmp_path: Path) -> Path:
    p = tmp_path / "hostile.json"
    p.write_text(json.dumps(hostile_doc()), "utf-8")
    return p


def _verify(cli: InProcessCli, p: Path, *args: str) -> tuple[int, str]:
    r = cli("verify", str(p), *args)
    return r.returncode, r.stdout + r.stderr


def _flip(path: Path, pos: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if pos is None else pos
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def test_keygen_writes_private_key_0600_and_refuses_overwrite(cli: InProcessCli, tmp_path: Path) -> None:
    r = cli("keygen", "--out", str(tmp_path / "k"))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in (tmp_path / "k.key").read_bytes()  # PKCS#8
    assert b"BEGIN PUBLIC KEY" in (tmp_path / "k.pub").read_bytes()
    load_private(tmp_path / "k.key"), load_public(tmp_path / "k.pub")
    again = cli("keygen", "--out", str(tmp_path / "k"))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_pack_layout_names_and_certificate_pem(cli: InProcessCli, evidence_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "pk"
    r = cli("pack", str(evidence_file), "--out", str(out))
    assert r.returncode == 0, r.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "evidence.json" in files and "manifest.json" in files and "signature.json" not in files
    arts = [f for f in files if f.startswith("artefacts/")]
    assert len(arts) == 6
    # names come from artefact ids, sanitised; nothing escaped the pack directory
    assert all(re.fullmatch(r"artefacts/[A-Za-z0-9_-]+\.[a-z]+", f) for f in arts), arts
    assert not any(p.name == "passwd.pdf" for p in tmp_path.rglob("*"))
    manifest = json.loads((out / "manifest.json").read_text())
    by_art = {e.get("artefact"): e for e in manifest["files"]}
    assert by_art["a-0003"]["path"].endswith(".pem")  # DER certificate stored as PEM
    cert = x509.load_pem_x509_certificate((out / by_art["a-0003"]["path"]).read_bytes())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value.startswith("<script>")
    assert by_art["a-0002"]["path"].endswith(".txt") and by_art["a/0005"]["path"].endswith(".xml")
    assert by_art["../../evil"]["path"] == "artefacts/evil.pdf"  # declaration keeps its file type
    assert by_art["A-0006"]["path"].endswith(".json")
    # every byte matches the manifest, and the manifest is canonical
    assert (out / "manifest.json").read_bytes() == pack.canonical_json(manifest)
    for e in manifest["files"]:
        data = (out / e["path"]).read_bytes()
        assert pack.sha256(data) == e["sha256"] and len(data) == e["size"]


def test_untouched_packs_verify_signed_and_unsigned(cli: InProcessCli, evidence_file: Path, tmp_path: Path,
                                                    keys: dict[str, Path]) -> None:
    unsigned, signed = tmp_path / "u", tmp_path / "s.tar.gz"
    assert cli("pack", str(evidence_file), "--out", str(unsigned)).returncode == 0
    assert cli("pack", str(evidence_file), "--out", str(signed), "--sign", str(keys["key"])).returncode == 0
    rc, out = _verify(cli, unsigned)
    assert rc == 0 and "unsigned" in out, out
    rc, out = _verify(cli, signed, "--key", str(keys["pub"]))
    assert rc == 0 and "signed by the given key" in out, out
    rc, out = _verify(cli, signed)
    assert rc == 0 and "not pinned" in out, out
    rc, out = _verify(cli, unsigned, "--key", str(keys["pub"]))
    assert rc == 1 and "unsigned" in out, out


def test_wrong_key_is_unknown_key(cli: InProcessCli, evidence_file: Path, tmp_path: Path,
                                  keys: dict[str, Path]) -> None:
    out = tmp_path / "s"
    assert cli("pack", str(evidence_file), "--out", str(out), "--sign", str(keys["key"])).returncode == 0
    rc, text = _verify(cli, out, "--key", str(keys["other_pub"]))
    assert rc == 1 and "unknown key" in text, text


@pytest.mark.parametrize("signed", [True, False])
def test_one_changed_byte_in_any_artefact_or_the_evidence_is_named(cli: InProcessCli, evidence_file: Path,
                                                                   tmp_path: Path, keys: dict[str, Path],
                                                                   signed: bool) -> None:
    src = tmp_path / "orig"
    args = ["--sign", str(keys["key"])] if signed else []
    assert cli("pack", str(evidence_file), "--out", str(src), *args).returncode == 0
    names = [e["path"] for e in json.loads((src / "manifest.json").read_text())["files"]]
    for name in names:
        work = tmp_path / f"w-{name.replace('/', '_')}"
        shutil.copytree(src, work)
        _flip(work / name)
        rc, text = _verify(cli, work, *(["--key", str(keys["pub"])] if signed else []))
        assert rc == 1, (name, text)
        assert f"changed: {name}" in text, (name, text)


def test_every_byte_of_a_signed_manifest_is_protected(evidence_file: Path, keys: dict[str, Path]) -> None:
    doc = json.loads(evidence_file.read_text())
    files = pack.build_pack(doc, key=load_private(keys["key"]), signed_at=SIGNED_AT)
    pub = load_public(keys["pub"])
    assert pack.verify_files(files, pub).ok
    m = files["manifest.json"]
    for i in range(len(m)):
        bad = dict(files)
        bad["manifest.json"] = m[:i] + bytes([m[i] ^ 0x01]) + m[i + 1:]
        v = pack.verify_files(bad, pub)
        assert not v.ok and any(p.startswith("manifest changed") for p in v.problems), (i, v.problems)


def test_every_byte_of_the_signature_is_protected(evidence_file: Path, keys: dict[str, Path]) -> None:
    doc = json.loads(evidence_file.read_text())
    files = pack.build_pack(doc, key=load_private(keys["key"]), signed_at=SIGNED_AT)
    pub = load_public(keys["pub"])
    s = files["signature.json"]
    for i in range(len(s)):
        bad = dict(files)
        bad["signature.json"] = s[:i] + bytes([s[i] ^ 0x01]) + s[i + 1:]
        v = pack.verify_files(bad, pub)
        assert not v.ok and v.problems[0].startswith("bad signature"), (i, chr(s[i]), v.problems)


@pytest.mark.timeout(180)  # ~1,600 verifications, each validating the evidence against the JSON Schema
def test_unsigned_manifest_edits_are_caught(evidence_file: Path) -> None:
    """Without a signature a forger can rewrite digests, but a one-byte edit never goes unnoticed."""
    files = pack.build_pack(json.loads(evidence_file.read_text()))
    m = files["manifest.json"]
    for i in range(len(m)):
        bad = dict(files)
        bad["manifest.json"] = m[:i] + bytes([m[i] ^ 0x01]) + m[i + 1:]
        assert not pack.verify_files(bad).ok, i


def test_signature_changed_on_disk_via_cli(cli: InProcessCli, evidence_file: Path, tmp_path: Path,
                                           keys: dict[str, Path]) -> None:
    out = tmp_path / "s"
    assert cli("pack", str(evidence_file), "--out", str(out), "--sign", str(keys["key"])).returncode == 0
    sig = json.loads((out / "signature.json").read_text())
    raw = bytearray(__import__("base64").b64decode(sig["signature"]))
    raw[5] ^= 0x01
    sig["signature"] = __import__("base64").b64encode(bytes(raw)).decode()
    (out / "signature.json").write_bytes(pack.canonical_json(sig))
    rc, text = _verify(cli, out, "--key", str(keys["pub"]))
    assert rc == 1 and "bad signature: the signature does not verify" in text, text


def test_manifest_changed_on_disk_via_cli(cli: InProcessCli, evidence_file: Path, tmp_path: Path,
                                          keys: dict[str, Path]) -> None:
    out = tmp_path / "s"
    assert cli("pack", str(evidence_file), "--out", str(out), "--sign", str(keys["key"])).returncode == 0
    _flip(out / "manifest.json", (out / "manifest.json").read_bytes().index(b'"sha256": "') + 12)
    rc, text = _verify(cli, out, "--key", str(keys["pub"]))
    assert rc == 1 and "manifest changed" in text, text


def test_missing_and_extra_files(cli: InProcessCli, evidence_file: Path, tmp_path: Path, keys: dict[str, Path]) -> None:
    out = tmp_path / "s"
    assert cli("pack", str(evidence_file), "--out", str(out), "--sign", str(keys["key"])).returncode == 0
    victim = json.loads((out / "manifest.json").read_text())["files"][0]["path"]
    (out / victim).unlink()
    (out / "artefacts" / "planted.sh").write_text("echo hi\n")
    (out / "notes.txt").write_text("x")
    rc, text = _verify(cli, out, "--key", str(keys["pub"]))
    assert rc == 1
    assert f"missing file: {victim}" in text
    assert "extra file not in manifest: artefacts/planted.sh" in text
    assert "extra file not in manifest: notes.txt" in text
    (out / "signature.json").unlink()
    rc, text = _verify(cli, out)
    assert rc == 1 and "missing file: signature.json" in text, text  # stripping the signature is seen


def test_manifest_cannot_point_outside_the_pack(evidence_file: Path, tmp_path: Path) -> None:
    files = pack.build_pack(json.loads(evidence_file.read_text()))
    m = json.loads(files["manifest.json"])
    m["files"].append({"path": "../outside.txt", "sha256": "0" * 64, "size": 0})
    files["manifest.json"] = pack.canonical_json(m)
    v = pack.verify_files(files)
    assert any("unsafe or reserved path" in p for p in v.problems), v.problems


def test_archives_are_reproducible_and_verifiable(cli: InProcessCli, evidence_file: Path, tmp_path: Path,
                                                  keys: dict[str, Path]) -> None:
    doc = json.loads(evidence_file.read_text())
    key = load_private(keys["key"])
    for suffix in (".tar", ".tar.gz"):
        a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
        pack.write_pack(doc, a, key=key, signed_at=SIGNED_AT)
        pack.write_pack(doc, b, key=key, signed_at=SIGNED_AT)
        assert a.read_bytes() == b.read_bytes(), suffix
        assert pack.verify_pack(a, load_public(keys["pub"])).ok
    u1, u2 = tmp_path / "u1.tar", tmp_path / "u2.tar"
    assert cli("pack", str(evidence_file), "--out", str(u1)).returncode == 0
    assert cli("pack", str(evidence_file), "--out", str(u2)).returncode == 0
    assert u1.read_bytes() == u2.read_bytes()
    with tarfile.open(u1) as t:
        members = t.getmembers()
        assert all(m.uid == 0 and m.gid == 0 and m.uname == "" and m.mtime == members[0].mtime for m in members)
        assert [m.name for m in members if m.isfile()] == sorted(m.name for m in members if m.isfile())
    # the directory form holds byte-identical files
    d = tmp_path / "dir"
    pack.write_pack(doc, d, key=key, signed_at=SIGNED_AT)
    with tarfile.open(tmp_path / "a.tar") as t:
        for m in t.getmembers():
            if m.isfile():
                rel = m.name.split("/", 1)[1]
                assert t.extractfile(m).read() == (d / rel).read_bytes(), rel


def test_tampered_archive_member_is_named(cli: InProcessCli, evidence_file: Path, tmp_path: Path,
                                          keys: dict[str, Path]) -> None:
    src = tmp_path / "s.tar"
    assert cli("pack", str(evidence_file), "--out", str(src), "--sign", str(keys["key"])).returncode == 0
    bad = tmp_path / "bad.tar"
    with tarfile.open(src) as t_in, tarfile.open(bad, "w", format=tarfile.USTAR_FORMAT) as t_out:
        for m in t_in.getmembers():
            data = t_in.extractfile(m).read() if m.isfile() else None
            if m.name.endswith("evidence.json"):
                data = data.replace(b'"complete": true', b'"complete": fals', 1)
            t_out.addfile(m, io.BytesIO(data) if data is not None else None)
        link = tarfile.TarInfo("probe-evidence-pack/artefacts/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t_out.addfile(link)
    rc, text = _verify(cli, bad, "--key", str(keys["pub"]))
    assert rc == 1 and "changed: evidence.json" in text and "unsafe entry" in text, text


def test_verify_usage_errors_exit_2(cli: InProcessCli, tmp_path: Path) -> None:
    assert cli("verify", str(tmp_path / "nope")).returncode == 2
    (tmp_path / "p").mkdir()
    (tmp_path / "junk.pub").write_text("not a key")
    assert cli("verify", str(tmp_path / "p"), "--key", str(tmp_path / "junk.pub")).returncode == 2


def test_run_writes_signed_pack_from_a_real_daemon(cli: InProcessCli, daemons: LocalDaemons, tmp_path: Path,
                                                   keys: dict[str, Path]) -> None:
    """End to end: `probe run --pack --sign` against busybox telnetd; the pack verifies with the key."""
    p = tmp_path / "pack.tar.gz"
    ev, r = real_run(daemons, cli, tmp_path, "--pack", str(p), "--sign", str(keys["key"]))
    assert r.returncode == 1, r.stderr  # telnet is cleartext: clauses FAIL
    assert f"pack: {p} (signed, key" in r.stdout
    rc, text = _verify(cli, p, "--key", str(keys["pub"]))
    assert rc == 0, text
    files, _ = pack.read_pack(p)
    assert files["evidence.json"] == ev.read_bytes()  # the pack holds exactly the evidence written
    assert any(f.startswith("artefacts/") and f.endswith(".txt") for f in files)  # the telnet transcript


def test_run_refuses_sign_without_pack_and_bad_pack_destination(cli: InProcessCli, tmp_path: Path,
                                                                keys: dict[str, Path]) -> None:
    r = cli("run", "--target", "127.0.0.1", "--ports", "1", "--sign", str(keys["key"]))
    assert r.returncode == 2 and "--sign needs --pack" in r.stderr
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    r = cli("run", "--target", "127.0.0.1", "--ports", "1", "--out", str(tmp_path / "e.json"),
                "--pack", str(full))
    assert r.returncode == 2 and "not an empty directory" in r.stderr
    assert not (tmp_path / "e.json").exists()  # refused before scanning
