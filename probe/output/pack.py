"""Evidence packs: the evidence JSON plus every raw artefact as its own file, a manifest of
SHA-256 digests, and optionally an Ed25519 signature over the manifest.

Why a pack and not just the JSON: an assessor wants to open the certificate in their own tools,
diff a transcript, and check with standard utilities (sha256sum, openssl) that nothing was changed
after the scan. Everything here is deterministic: the same evidence (and key and signing time)
gives the same bytes, in the directory form and in the tar archive form, so a pack can be rebuilt
and compared.

File names inside a pack never come from what a device sent: artefacts are named after their ids
(sanitised), and a pack being verified may not name paths outside itself.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from probe.errors import UserError
from probe.output.evidence import canonical_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "probe-evidence-pack"
FORMAT_VERSION = 1
EVIDENCE_NAME = "evidence.json"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "signature.json"
ARCHIVE_ROOT = "probe-evidence-pack"
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
MAX_MEMBER = 512 * 1024 * 1024  # a pack file larger than this is refused rather than read into memory
_SIGNATURE_KEYS = {"algorithm", "key_fingerprint", "public_key", "signature", "signed_at", "manifest_sha256"}


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, fixed separators, UTF-8 (not \\u escapes), LF, one trailing newline."""
    return (json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=1, separators=(",", ": "))
            + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Building


def artefact_bytes(art: dict[str, Any], errors: str = "strict") -> bytes:
    """The raw bytes of an artefact as stored in the evidence (UTF-8 text or base64)."""
    if art.get("encoding") == "base64":
        return base64.b64decode(art["content"], validate=True)
    return str(art["content"]).encode("utf-8", errors)


def read_artefact(art: dict[str, Any]) -> bytes | None:
    """artefact_bytes of a document read back (`probe diff`, the reports), which may be damaged or
    hand-edited: None for content that does not decode, and text kept even with lone surrogates."""
    try:
        return artefact_bytes(art, "surrogatepass")
    except (ValueError, KeyError):
        return None


def _der_to_pem(der: bytes) -> bytes:
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n").encode("ascii")


def _pem_to_der(pem: bytes) -> bytes | None:
    m = re.fullmatch(rb"-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=\n]+)-----END CERTIFICATE-----\n", pem)
    if not m:
        return None
    try:
        return base64.b64decode(m.group(1).replace(b"\n", b""), validate=True)
    except ValueError:
        return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def file_form(art: dict[str, Any], raw: bytes) -> tuple[str, bytes, str | None]:
    """(extension, file bytes, transform) for one artefact; transform is "pem" when DER was wrapped."""
    kind = art.get("kind", "")
    if kind == "certificate":
        if raw.startswith(b"-----BEGIN"):
            return ".pem", raw, None
        if raw[:1] == b"\x30":  # DER SEQUENCE: store as PEM so openssl/x509 viewers open it directly
            return ".pem", _der_to_pem(raw), "pem"
        return ".bin", raw, None
    if kind == "transcript":
        return ".txt", raw, None
    if kind == "nmap-xml":
        return ".xml", raw, None
    if kind == "declaration":
        m = re.search(r"\.([A-Za-z0-9]{1,10})$", str(art.get("name", "")))
        return (f".{m.group(1).lower()}" if m else ".bin"), raw, None
    if art.get("media_type") == "application/json" and _is_utf8(raw):
        return ".json", raw, None
    return (".txt" if _is_utf8(raw) else ".bin"), raw, None


def _safe_stem(artefact_id: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", artefact_id)[:48].strip("_-")
    return stem or "artefact"


@dataclass(frozen=True)
class PackFile:
    path: str  # POSIX path inside the pack
    data: bytes
    entry: dict[str, Any]  # the manifest entry


def pack_files(doc: dict[str, Any]) -> list[PackFile]:
    """The evidence document and one file per artefact, with their manifest entries."""
    ev = canonical_bytes(doc)
    files = [PackFile(EVIDENCE_NAME, ev, {"path": EVIDENCE_NAME, "role": "evidence",
                                          "sha256": sha256(ev), "size": len(ev)})]
    used: set[str] = set()
    for art in doc.get("artefacts", []):
        try:
            raw = artefact_bytes(art)
        except (ValueError, KeyError) as exc:
            raise UserError(f"evidence: artefact {art.get('id')!r} has undecodable content ({exc})") from None
        if sha256(raw) != art.get("sha256"):
            raise UserError(f"evidence: artefact {art.get('id')!r}: content does not match its sha256 "
                            "(the evidence file was altered)")
        ext, data, transform = file_form(art, raw)
        stem = _safe_stem(str(art.get("id", "")))
        name, n = f"artefacts/{stem}{ext}", 2
        while name.lower() in used:  # unique even on case-insensitive file systems
            name, n = f"artefacts/{stem}-{n}{ext}", n + 1
        used.add(name.lower())
        entry: dict[str, Any] = {"path": name, "role": "artefact", "artefact": art["id"], "kind": art["kind"],
                                 "sha256": sha256(data), "size": len(data)}
        if transform:
            entry["transform"] = transform
        files.append(PackFile(name, data, entry))
    return files


def build_pack(doc: dict[str, Any], *, key: Ed25519PrivateKey | None = None,
               signed_at: str | None = None) -> dict[str, bytes]:
    """Every file of the pack (path -> bytes), manifest and signature included.

    When signing, the signing time goes into the manifest too, so it is covered by the signature
    and a signed pack whose signature.json was removed is recognised as such.
    """
    files = pack_files(doc)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "evidence": EVIDENCE_NAME,
        "run_id": doc["run"]["id"],
        "files": sorted((f.entry for f in files), key=lambda e: e["path"]),
    }
    if key is not None:
        manifest["signed_at"] = signed_at or datetime.now(UTC).isoformat(timespec="seconds")
    mbytes = canonical_json(manifest)
    out = {f.path: f.data for f in files}
    out[MANIFEST_NAME] = mbytes
    if key is not None:
        from probe.output import signing  # cryptography loads when a pack is signed or verified

        pub = key.public_key()
        out[SIGNATURE_NAME] = canonical_json({
            "algorithm": signing.ALGORITHM,
            "key_fingerprint": signing.fingerprint(pub),
            "public_key": base64.b64encode(signing.raw_public(pub)).decode("ascii"),
            "signature": signing.sign(key, mbytes),
            "signed_at": manifest["signed_at"],
            "manifest_sha256": sha256(mbytes),
        })
    return out


def is_archive(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


def _mtime(doc: dict[str, Any]) -> int:
    """Archive timestamps come from the run, not the clock, so the bytes are reproducible."""
    try:
        return max(0, int(datetime.fromisoformat(doc["run"]["started"]).timestamp()))
    except (KeyError, TypeError, ValueError):
        return 0


def archive_bytes(files: dict[str, bytes], mtime: int, *, gz: bool) -> bytes:
    """A tar with fixed order, owner, mode and time: same files -> same bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        dirs = sorted({str(PurePosixPath(p).parent) for p in files} - {"."})
        for d in [""] + dirs:
            ti = tarfile.TarInfo(f"{ARCHIVE_ROOT}/{d}".rstrip("/"))
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            _fix(ti, mtime)
            tar.addfile(ti)
        for path in sorted(files):
            ti = tarfile.TarInfo(f"{ARCHIVE_ROOT}/{path}")
            ti.size, ti.mode = len(files[path]), 0o644
            _fix(ti, mtime)
            tar.addfile(ti, io.BytesIO(files[path]))
    data = buf.getvalue()
    if not gz:
        return data
    zbuf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=zbuf, mtime=0, compresslevel=9) as zf:
        zf.write(data)
    return zbuf.getvalue()


def _fix(ti: tarfile.TarInfo, mtime: int) -> None:
    ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = mtime, 0, 0, "", ""


def check_destination(dest: Path) -> None:
    """Fail before scanning when the pack could not be written."""
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"pack {dest}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UserError(f"pack {dest}: {parent} is not writable")
    try:  # os.access says yes to root even where nothing can be created (read-only or special file systems)
        fd, tmp = tempfile.mkstemp(prefix=".probe-pack-check.", dir=parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UserError(f"pack {dest}: cannot create a file in {parent} ({exc.strerror or exc})") from None
    if is_archive(dest):
        if dest.is_dir():
            raise UserError(f"pack {dest}: is a directory")
    elif dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"pack {dest}: exists and is not an empty directory (a pack directory must "
                        "hold nothing but the pack)")


def write_pack(doc: dict[str, Any], dest: Path, *, key: Ed25519PrivateKey | None = None,
               signed_at: str | None = None) -> Path:
    """Write the pack as a directory, or as a tar (.tar, .tar.gz, .tgz) when dest names one."""
    check_destination(dest)
    files = build_pack(doc, key=key, signed_at=signed_at)
    parent = dest.parent if str(dest.parent) else Path(".")
    if is_archive(dest):
        from probe.output.evidence import write_atomic

        write_atomic(dest, archive_bytes(files, _mtime(doc), gz=not dest.name.endswith(".tar")))
        return dest
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=parent))
    try:
        for rel, data in sorted(files.items()):
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            p.chmod(0o644)
        tmp.chmod(0o755)
        if dest.is_dir():
            dest.rmdir()  # checked empty above
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


# ---------------------------------------------------------------------------------------------
# Reading and verifying


@dataclass
class Verification:
    """What `probe verify` found: problems make it fail; notes are said but do not."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    signed: bool = False
    signer: str | None = None  # fingerprint of the key the signature is valid for
    files_checked: int = 0
    manifest_sha256: str | None = None  # SHA-256 of manifest.json: one digest covering every file of the pack
    evidence_sha256: str | None = None  # SHA-256 of the pack's evidence.json
    signed_at: str | None = None  # when the manifest was signed (signed packs)

    @property
    def ok(self) -> bool:
        return not self.problems


def _safe_rel(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name and str(p) == name


def read_pack(path: Path) -> tuple[dict[str, bytes], list[str]]:
    """All regular files of a pack directory or archive, and problems found while reading."""
    files: dict[str, bytes] = {}
    problems: list[str] = []
    if path.is_dir():
        for root, dirnames, filenames in os.walk(path, followlinks=False):
            rootp = Path(root)
            for d in list(dirnames):
                if (rootp / d).is_symlink():
                    problems.append(f"unsafe entry (symlink): {(rootp / d).relative_to(path).as_posix()}")
                    dirnames.remove(d)
            for f in filenames:
                full = rootp / f
                rel = full.relative_to(path).as_posix()
                if full.is_symlink() or not full.is_file():
                    problems.append(f"unsafe entry (not a regular file): {rel}")
                    continue
                if full.stat().st_size > MAX_MEMBER:
                    problems.append(f"file too large to verify: {rel}")
                    continue
                files[rel] = full.read_bytes()
        return files, problems
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                name = m.name.rstrip("/")
                if name != ARCHIVE_ROOT and not name.startswith(ARCHIVE_ROOT + "/"):
                    problems.append(f"extra file not in manifest: {name} (outside {ARCHIVE_ROOT}/)")
                    continue
                rel = name[len(ARCHIVE_ROOT) + 1:]
                if m.isdir():
                    continue
                if not m.isreg():
                    problems.append(f"unsafe entry (not a regular file): {rel}")
                    continue
                if not _safe_rel(rel):
                    problems.append(f"unsafe path in archive: {rel!r}")
                    continue
                if m.size > MAX_MEMBER:
                    problems.append(f"file too large to verify: {rel}")
                    continue
                if rel in files:
                    problems.append(f"duplicate file in archive: {rel}")
                    continue
                fh = tar.extractfile(m)
                files[rel] = fh.read() if fh else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(f"{path}: not a readable pack archive ({exc})") from None
    return files, problems


def verify_files(files: dict[str, bytes], key: Ed25519PublicKey | None = None,
                 read_problems: list[str] | None = None) -> Verification:
    """Check every digest, the manifest's consistency with the evidence, and the signature."""
    v = Verification(problems=list(read_problems or []))
    mbytes = files.get(MANIFEST_NAME)
    if mbytes is None:
        v.problems.append(f"missing file: {MANIFEST_NAME} (nothing in the pack can be verified)")
        return v
    v.manifest_sha256 = sha256(mbytes)
    if EVIDENCE_NAME in files:
        v.evidence_sha256 = sha256(files[EVIDENCE_NAME])
    manifest = _parse_manifest(mbytes, v)
    if manifest is not None and isinstance(manifest.get("signed_at"), str):
        v.signed_at = manifest["signed_at"]
    _check_signature(files, mbytes, manifest, key, v)
    if manifest is None:
        return v
    listed: set[str] = set()
    for entry in manifest["files"]:
        path = entry.get("path")
        if not isinstance(path, str) or not _safe_rel(path) or path in (MANIFEST_NAME, SIGNATURE_NAME):
            v.problems.append(f"manifest changed: unsafe or reserved path listed: {path!r}")
            continue
        if path in listed:
            v.problems.append(f"manifest changed: {path} listed twice")
            continue
        listed.add(path)
        data = files.get(path)
        what = _describe(entry)
        if data is None:
            v.problems.append(f"missing file: {path}{what}")
            continue
        v.files_checked += 1
        if sha256(data) != entry.get("sha256") or len(data) != entry.get("size"):
            v.problems.append(f"changed: {path}{what}: sha256 {sha256(data)[:16]}… size {len(data)}, "
                              f"manifest says {str(entry.get('sha256'))[:16]}… size {entry.get('size')}")
    for extra in sorted(set(files) - listed - {MANIFEST_NAME, SIGNATURE_NAME}):
        v.problems.append(f"extra file not in manifest: {extra}")
    if not v.problems:
        _check_consistency(files, manifest, v)
    return v


def _describe(entry: dict[str, Any]) -> str:
    if entry.get("role") == "evidence":
        return " (the evidence document)"
    if entry.get("artefact"):
        return f" (artefact {entry['artefact']}, {entry.get('kind')})"
    return ""


def _parse_manifest(mbytes: bytes, v: Verification) -> dict[str, Any] | None:
    try:
        manifest = json.loads(mbytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        v.problems.append(f"manifest changed: {MANIFEST_NAME} is not valid JSON ({exc})")
        return None
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
            or not isinstance(manifest.get("files"), list)
            or not all(isinstance(e, dict) for e in manifest["files"])):
        v.problems.append(f"manifest changed: {MANIFEST_NAME} is not a {FORMAT} manifest")
        return None
    if manifest.get("format_version") != FORMAT_VERSION:
        v.problems.append(f"manifest changed: format_version {manifest.get('format_version')!r}, "
                          f"this probe reads {FORMAT_VERSION}")
        return None
    if canonical_json(manifest) != mbytes:
        v.problems.append(f"manifest changed: {MANIFEST_NAME} is not in canonical form (edited by hand?)")
    return manifest


def _check_signature(files: dict[str, bytes], mbytes: bytes, manifest: dict[str, Any] | None,
                     key: Ed25519PublicKey | None, v: Verification) -> None:
    from probe.output import signing  # cryptography loads when a pack is signed or verified

    sbytes = files.get(SIGNATURE_NAME)
    claims_signed = bool(manifest and manifest.get("signed_at"))
    if sbytes is None:
        if claims_signed:
            v.problems.append(f"missing file: {SIGNATURE_NAME} (the manifest says the pack was signed)")
        elif key is not None:
            v.problems.append("unsigned: the pack has no signature, but --key asks for one")
        else:
            v.notes.append("unsigned: file digests verified, but no signature shows who made the pack")
        return
    v.signed = True
    try:
        sig = json.loads(sbytes.decode("utf-8"))
        if not isinstance(sig, dict):
            raise ValueError("not an object")
    except (UnicodeDecodeError, ValueError) as exc:
        v.problems.append(f"bad signature: {SIGNATURE_NAME} is not valid JSON ({exc})")
        return
    if set(sig) != _SIGNATURE_KEYS or canonical_json(sig) != sbytes:
        v.problems.append(f"bad signature: {SIGNATURE_NAME} was altered (unexpected fields or not canonical)")
        return
    if sig["algorithm"] != signing.ALGORITHM:
        v.problems.append(f"bad signature: unsupported algorithm {str(sig['algorithm'])[:40]!r}")
        return
    if not all(_strict_b64(sig[k]) for k in ("public_key", "signature")):
        v.problems.append(f"bad signature: public_key or signature in {SIGNATURE_NAME} is not strict base64")
        return
    try:
        embedded = signing.public_from_raw(base64.b64decode(sig["public_key"], validate=True))
    except ValueError:
        v.problems.append(f"bad signature: the public key in {SIGNATURE_NAME} is malformed")
        return
    if signing.fingerprint(embedded) != sig["key_fingerprint"]:
        v.problems.append(f"bad signature: key_fingerprint does not match the public key in {SIGNATURE_NAME}")
        return
    valid = signing.signature_valid(embedded, mbytes, str(sig["signature"]))
    if sha256(mbytes) != sig["manifest_sha256"]:
        if valid:  # the manifest is the signed one; the recorded digest was edited
            v.problems.append(f"bad signature: manifest_sha256 in {SIGNATURE_NAME} was altered")
        else:
            v.problems.append(f"manifest changed: {MANIFEST_NAME} is not the manifest that was signed")
        return
    if not valid:
        v.problems.append(f"bad signature: the signature does not verify over {MANIFEST_NAME}")
        return
    if manifest is not None and manifest.get("signed_at") != sig["signed_at"]:
        v.problems.append(f"bad signature: signed_at in {SIGNATURE_NAME} differs from the signed manifest")
        return
    v.signer = sig["key_fingerprint"]
    if key is None:
        v.notes.append(f"signed by key {v.signer} at {sig['signed_at']} (key not pinned: pass --key "
                       "KEY.pub to check it is the expected signer)")
    elif signing.fingerprint(key) != v.signer:
        v.problems.append(f"unknown key: the signature is valid for key {v.signer}, not for the given key "
                          f"{signing.fingerprint(key)}")
    else:
        v.notes.append(f"signed by the given key {v.signer} at {sig['signed_at']}")


def _strict_b64(value: Any) -> bool:
    """Only the one canonical base64 spelling: otherwise unused padding bits could be flipped unseen."""
    if not isinstance(value, str):
        return False
    try:
        return base64.b64encode(base64.b64decode(value, validate=True)).decode("ascii") == value
    except ValueError:
        return False


def _check_consistency(files: dict[str, bytes], manifest: dict[str, Any], v: Verification) -> None:
    """Digests all match; now make sure the manifest and the evidence tell the same story."""
    from probe.output.evidence import validate

    ev_name = manifest.get("evidence")
    if ev_name != EVIDENCE_NAME or EVIDENCE_NAME not in files:
        v.problems.append(f"manifest changed: it does not list {EVIDENCE_NAME} as the evidence")
        return
    try:
        doc = json.loads(files[EVIDENCE_NAME].decode("utf-8"))
        validate(doc)
    except Exception as exc:
        v.problems.append(f"inconsistent: {EVIDENCE_NAME} is not a valid evidence document "
                          f"({str(exc).splitlines()[0][:200]})")
        return
    if manifest.get("run_id") != doc["run"]["id"]:
        v.problems.append("manifest changed: run_id differs from the evidence's run id")
    arts = {a["id"]: a for a in doc["artefacts"]}
    entries = {e.get("artefact"): e for e in manifest["files"] if e.get("role") == "artefact"}
    evidence_entries = [e for e in manifest["files"] if e.get("role") == "evidence"]
    if len(evidence_entries) != 1 or evidence_entries[0].get("path") != EVIDENCE_NAME:
        v.problems.append("manifest changed: the evidence entry is wrong")
    if set(entries) != set(arts) or len(entries) + len(evidence_entries) != len(manifest["files"]):
        v.problems.append("inconsistent: the manifest's artefact files and the evidence's artefacts differ "
                          f"(missing: {sorted(set(arts) - set(entries))}, "
                          f"unknown: {sorted(str(x) for x in set(entries) - set(arts))})")
        return
    for aid, entry in sorted(entries.items()):
        art, data = arts[aid], files[entry["path"]]
        raw = _pem_to_der(data) if entry.get("transform") == "pem" else data
        if entry.get("transform") not in (None, "pem") or raw is None or sha256(raw) != art["sha256"] \
                or entry.get("kind") != art["kind"]:
            v.problems.append(f"inconsistent: {entry['path']} does not hold artefact {aid} as the evidence "
                              "records it")


def verify_pack(path: Path, key: Ed25519PublicKey | None = None) -> Verification:
    files, problems = read_pack(path)
    return verify_files(files, key, problems)


def load_evidence(path: Path, key: Ed25519PublicKey | None = None) -> tuple[dict[str, Any], Verification | None]:
    """An evidence document from a JSON file or from a pack (whose digests, and signature by `key`
    when one is given, must verify)."""
    if path.is_dir() or is_archive(path):
        ver = verify_pack(path, key)
        if not ver.ok:
            raise PackInvalid(path, ver)
        files, _ = read_pack(path)
        return json.loads(files[EVIDENCE_NAME].decode("utf-8")), ver
    from probe.output.evidence import SCHEMA_VERSION, validate

    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable evidence JSON file ({exc})") from None
    major = SCHEMA_VERSION.split(".", 1)[0]
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    if isinstance(version, str) and not version.startswith(f"{major}."):
        raise UserError(f"{path}: evidence schema {version[:20]}; this probe reads schema {major}.x "
                        "(use the probe version that wrote it)")
    try:
        validate(doc)
    except Exception as exc:  # jsonschema.ValidationError; kept generic to avoid importing it here
        raise UserError(f"{path}: not a probe evidence document ({str(exc).splitlines()[0][:200]})") from None
    return doc, None


class PackInvalid(Exception):
    """A pack that fails verification: reports refuse to render from it."""

    def __init__(self, path: Path, verification: Verification) -> None:
        super().__init__(f"{path}: the pack fails verification")
        self.path = path
        self.verification = verification
