"""The evidence document: one JSON shape in every mode, validated against a versioned schema.

Top-level keys `clauses` and `findings` are the stable integration surface (see
docs/evidence.md); `schema_version` changes only with the schema file, major on breaking changes.
Serialisation is canonical (sorted keys, UTF-8, no insignificant whitespace variation) so the
same content always hashes the same.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import os
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from probe import TOOL_NAME, __version__
from probe.errors import UserError

if TYPE_CHECKING:  # types only: `probe report`/`diff`/`schema` read evidence without the engine
    from probe.compliance.catalog import Catalog
    from probe.engine import ScanState

# 1.1: clauses[].declaration; 1.2: run.timings; 1.3: run.options by group; 1.4: run.options.crypto.hostname,
#      ssh_policy may name a preset;
# 2.0: findings[].clauses means "selected by a clause's evidence rules" (check and service role);
#      services[].roles, clauses[].rules/supporting/reason_code, run.device_state, catalog.overlays;
#      recognition: the path's basis, in-force status and the held label (as declared)
# 2.1: services[].details (what identification learned, e.g. the SNMP engine), services[].probes
#      (what identification tried), clauses[].documents (what needs the manufacturer's documents),
#      clauses[].title_ja_source and catalog.<scheme>.title_ja_source (who wrote the Japanese title)
SCHEMA_VERSION = "2.2.0"
SCHEMA_ID = "https://probe.invalid/schema/evidence-2.json"


def load_schema() -> dict[str, Any]:
    text = (importlib.resources.files("probe") / "schema" / "evidence.schema.json").read_text("utf-8")
    return json.loads(text)


def build(state: ScanState, catalog: Catalog, *, run_id: str | None = None) -> dict[str, Any]:
    services, findings, artefacts = state.store.snapshot()
    clause_index = {c.id: c for c in state.scope.clauses}
    clauses_json = []
    for v in state.verdicts:
        c = clause_index[v.clause_id]
        clauses_json.append({
            "id": v.clause_id,
            "scheme": c.scheme,
            "number": c.number,
            "title": c.title,
            "title_ja": c.title_ja,
            "title_ja_source": c.title_ja_source,
            "text_confirmed": c.text_confirmed,
            "assessment": str(c.assessment),
            "target": v.target,
            "verdict": str(v.verdict),
            "basis": v.basis,
            "reason": v.reason,
            "network_result": str(v.network_result) if v.network_result else None,
            "reason_code": str(v.reason_code) if v.reason_code else None,
            "checks": list(v.checks),
            "rules": [r.to_json() for r in v.rules],
            "findings": list(v.findings),
            "supporting": list(v.supporting),
            "declaration": v.declaration,
            "documents": c.documents,
        })
    counts = Counter(v["verdict"] for v in clauses_json)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "run": {
            "id": run_id or str(uuid.uuid4()),
            "started": state.started.isoformat(timespec="seconds"),
            "finished": state.finished.isoformat(timespec="seconds") if state.finished else None,
            "complete": state.complete,
            "incomplete_reasons": list(state.incomplete_reasons),
            "options": state.options.to_json(),
            "device_state": str(state.device_state),
            "device_state_source": state.device_state_source,
            "timings": sorted(state.timings, key=lambda t: -t["seconds"]),
        },
        "targets": list(state.targets),
        "profile": state.profile.to_json(),
        "recognition": state.scope.to_json(),
        "scope": [c.id for c in state.scope.clauses],
        "catalog": {**{sid: {"name": s.name, "version": s.version, "source": s.source,
                             "title_ja_source": s.title_ja_source}
                       for sid, s in catalog.schemes.items()},
                    "overlays": [o.to_json() for o in catalog.overlays]},
        "discovery": {h: d.to_json() for h, d in state.discovery.items()},
        "services": [{**s.to_json(), "roles": [r.to_json() for r in state.roles.get(s.host, {}).get(s.key(), ())]}
                     for s in services],
        "clauses": clauses_json,
        "findings": [f.to_json() for f in findings],
        "artefacts": [a.to_json() for a in artefacts.values()],
        "notes": list(state.store.notes),
        "summary": {k: counts.get(k, 0) for k in ("PASS", "FAIL", "INCONCLUSIVE", "NOT_APPLICABLE", "MANUAL")},
    }


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def check_writable(path: Path) -> None:
    """Fail before scanning, not after, when the evidence could not be saved."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(f"--out {path}: is a directory; give a file name")
    if not parent.is_dir():
        raise UserError(f"--out {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"--out {path}: not writable")
    # os.access says yes to root everywhere and knows nothing of read-only or special file
    # systems: create (and remove) the temp file write_atomic will need, before any scanning.
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UserError(f"--out {path}: cannot create a file in {parent} ({exc.strerror or exc})") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file + rename so an interrupted write never leaves half a document."""
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def validate(doc: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if the document does not match the schema.

    The same result as `jsonschema.validate(doc, load_schema())` (the best-matching error), but the
    schema is read and checked once per process: `pack verify` validates every evidence copy it
    meets, and checking the 1,500-line schema itself each time cost more than the document.
    """
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        raise error


@functools.cache
def _validator() -> Any:
    from jsonschema.validators import validator_for

    schema = load_schema()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)
