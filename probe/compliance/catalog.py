"""The scheme catalogs (JC-STAR, CLS, UK PSTI) and their clause evidence rules, loaded from data.

Clause facts and the rules saying which findings count for a clause live in
`probe/data/catalog/*.yaml`. Each clause lists evidence rules: a check, the service roles whose
findings it selects (none = any), and an effect (`decides`, `fails-only`, `supports`), each with
the reason an assessor checks against the scheme text (docs/verdicts.md). A finding therefore
counts only for the clauses whose rules select it by check *and* by the role of its service.

Users may overlay the built-in catalog with their own YAML files (`--catalog FILE`, repeatable;
`--catalog-dir DIR` applies every file in a folder): an overlay confirms clause texts (official
wording they hold a licence for) and may replace a clause's rules. Every overlay is validated as
strictly as the built-in files and recorded in the evidence with its SHA-256.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from probe import yamlfile
from probe.compliance.roles import ROLES
from probe.errors import UserError
from probe.models import Assessment, Effect

SCHEMES = ("jc-star", "cls", "uk-psti")
DEVICE_CLASSES = ("general-iot", "home-gateway")
# who wrote a built-in Japanese title: probe paraphrased the Japanese scheme text (JC-STAR), or
# translated its own English paraphrase (CLS, UK PSTI: their owners publish no Japanese text)
TITLE_JA_SOURCES = ("probe-paraphrase", "probe-translation")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_RULE_KEYS = {"id", "check", "roles", "effect", "why", "factory_default_exempt"}
_BUILTIN_KEYS = {"number", "title", "title_ja", "text_confirmed", "assessment", "assessment_why", "purpose",
                 "evidence", "documents", "device_classes"}
_OVERLAY_KEYS = {"number", "title", "title_ja", "text_confirmed", "purpose", "evidence", "documents"}


@dataclass(frozen=True)
class EvidenceRule:
    """Which findings count for a clause, from which services, and in which direction."""

    id: str  # unique within the clause; cited as "<clause id>#<rule id>"
    check: str
    roles: tuple[str, ...]  # () = any finding of the check (device-scoped or on any service)
    effect: Effect
    why: str
    factory_default_exempt: bool = False  # with --device-state factory a FAIL here is re-tested after set-up

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "check": self.check, "roles": list(self.roles), "effect": str(self.effect),
                "why": self.why, "factory_default_exempt": self.factory_default_exempt}


@dataclass(frozen=True)
class Clause:
    id: str  # scheme-qualified, e.g. "jc-star:S1.1-09"
    scheme: str
    number: str
    title: str
    title_ja: str | None
    text_confirmed: bool
    assessment: Assessment
    assessment_why: str
    purpose: str
    rules: tuple[EvidenceRule, ...]
    documents: str
    device_classes: tuple[str, ...]
    source: str
    title_source: str  # "builtin" or the path of the user's overlay file
    rules_source: str = "builtin"  # "builtin" or the path of the overlay that set the rules
    # probe-paraphrase | probe-translation (built-in title_ja), or the overlay file that set title_ja
    title_ja_source: str = "probe-paraphrase"

    @property
    def checks(self) -> tuple[str, ...]:
        """Every check some rule of this clause names, in rule order (what a run must schedule)."""
        return tuple(dict.fromkeys(r.check for r in self.rules))

    def rule_id(self, rule: EvidenceRule) -> str:
        return f"{self.id}#{rule.id}"

    def applies_to(self, device_class: str) -> bool:
        return not self.device_classes or device_class in self.device_classes

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scheme": self.scheme,
            "number": self.number,
            "title": self.title,
            "title_ja": self.title_ja,
            "text_confirmed": self.text_confirmed,
            "assessment": str(self.assessment),
            "assessment_why": self.assessment_why,
            "purpose": self.purpose,
            "rules": [{**r.to_json(), "id": self.rule_id(r)} for r in self.rules],
            "documents": self.documents,
            "checks": list(self.checks),
            "device_classes": list(self.device_classes),
            "source": self.source,
            "title_source": self.title_source,
            "title_ja_source": self.title_ja_source,
            "rules_source": self.rules_source,
        }


@dataclass(frozen=True)
class Scheme:
    id: str
    name: str
    version: str
    publisher: str
    source: str
    title_ja_source: str = "probe-paraphrase"  # TITLE_JA_SOURCES: who wrote the built-in Japanese titles


@dataclass(frozen=True)
class Overlay:
    """A user's catalog overlay file, as recorded in the evidence."""

    path: str
    sha256: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}


class Catalog:
    """All clauses of all schemes, in catalog order, and the overlays applied to them."""

    def __init__(self, schemes: dict[str, Scheme], clauses: list[Clause], overlays: Sequence[Overlay] = ()) -> None:
        self.schemes = schemes
        self.clauses = clauses
        self.overlays = tuple(overlays)
        self.by_id = {c.id: c for c in clauses}

    def get(self, clause_id: str) -> Clause:
        try:
            return self.by_id[clause_id]
        except KeyError:
            raise UserError(f"unknown clause {clause_id!r}") from None

    def of_scheme(self, scheme: str, device_class: str | None = None) -> list[Clause]:
        return [c for c in self.clauses
                if c.scheme == scheme and (device_class is None or c.applies_to(device_class))]

    def rules_for_check(self, check_id: str, device_class: str | None = None) -> list[tuple[Clause, EvidenceRule]]:
        """Every (clause, rule) that names the check: what `probe checks` and the finding map show."""
        return [(c, r) for c in self.clauses if device_class is None or c.applies_to(device_class)
                for r in c.rules if r.check == check_id]


def _parse_scheme_file(data: Any, where: str, *, overlay: bool) -> tuple[Scheme | None, list[dict[str, Any]]]:
    if not isinstance(data, dict) or data.get("scheme") not in SCHEMES:
        raise UserError(f"{where}: must be a mapping with 'scheme' set to one of {', '.join(SCHEMES)}")
    entries = data.get("clauses")
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "number" in e for e in entries):
        raise UserError(f"{where}: 'clauses' must be a list of mappings, each with a 'number'")
    if overlay:
        return None, entries
    for key in ("name", "version", "publisher", "source"):
        if key not in data:
            raise UserError(f"{where}: missing '{key}'")
    ja_source = data.get("title_ja_source", "probe-paraphrase")
    if ja_source not in TITLE_JA_SOURCES:
        raise UserError(f"{where}: 'title_ja_source' must be one of {', '.join(TITLE_JA_SOURCES)}")
    sch = Scheme(data["scheme"], str(data["name"]), str(data["version"]), str(data["publisher"]),
                 str(data["source"]), ja_source)
    return sch, entries


def _text(entry: dict[str, Any], key: str, where: str, number: str, *, required: bool = True) -> str:
    value = entry.get(key)
    if value is None:
        if required:
            raise UserError(f"{where}: clause {number}: missing '{key}'")
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or not str(value).strip():
        raise UserError(f"{where}: clause {number}: '{key}' must be a non-empty text")
    return " ".join(str(value).split())


def _flag(entry: dict[str, Any], key: str, where: str, number: str) -> bool:
    if not isinstance(entry.get(key), bool):
        raise UserError(f"{where}: clause {number}: '{key}' must be true or false")
    return bool(entry[key])


def parse_rules(raw: Any, where: str, number: str, known_checks: Collection[str] | None) -> tuple[EvidenceRule, ...]:
    """Validate a clause's `evidence:` list; every problem is one line naming file and clause."""
    if not isinstance(raw, list):
        raise UserError(f"{where}: clause {number}: 'evidence' must be a list of rules (use [] for none)")
    rules: list[EvidenceRule] = []
    seen: set[str] = set()
    for i, r in enumerate(raw, start=1):
        at = f"{where}: clause {number}: evidence rule {i}"
        if not isinstance(r, dict):
            raise UserError(f"{at}: must be a mapping with id, check, roles, effect, why")
        unknown = sorted(set(map(str, r)) - _RULE_KEYS)
        if unknown:
            raise UserError(f"{at}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_RULE_KEYS))})")
        for key in ("id", "check", "roles", "effect", "why"):
            if key not in r:
                raise UserError(f"{at}: missing '{key}'")
        rid = r["id"]
        if not isinstance(rid, str) or not _RULE_ID.match(rid):
            raise UserError(f"{at}: id {rid!r} must be lower-case letters, digits and dashes")
        if rid in seen:
            raise UserError(f"{where}: clause {number}: rule id {rid!r} is used twice")
        seen.add(rid)
        check = r["check"]
        if not isinstance(check, str) or (known_checks is not None and check not in known_checks):
            raise UserError(f"{at} ({rid}): unknown check {check!r} (see `probe checks`)")
        roles = r["roles"]
        if not isinstance(roles, list) or not all(isinstance(x, str) for x in roles):
            raise UserError(f"{at} ({rid}): 'roles' must be a list of roles ([] = any service)")
        bad = [x for x in roles if x not in ROLES]
        if bad:
            raise UserError(f"{at} ({rid}): unknown role {bad[0]!r} (known: {', '.join(ROLES)})")
        try:
            effect = Effect(r["effect"])
        except ValueError:
            raise UserError(f"{at} ({rid}): effect {r['effect']!r} must be one of "
                            f"{', '.join(e.value for e in Effect)}") from None
        why = r["why"]
        if not isinstance(why, str) or not why.strip():
            raise UserError(f"{at} ({rid}): 'why' must say why this finding bears on the clause")
        exempt = r.get("factory_default_exempt", False)
        if not isinstance(exempt, bool):
            raise UserError(f"{at} ({rid}): 'factory_default_exempt' must be true or false")
        if exempt and effect is Effect.SUPPORTS:
            raise UserError(f"{at} ({rid}): 'factory_default_exempt' only makes sense on a rule that can FAIL")
        rules.append(EvidenceRule(rid, check, tuple(dict.fromkeys(roles)), effect, " ".join(why.split()), exempt))
    return tuple(rules)


def _clause_from(entry: dict[str, Any], scheme: Scheme, where: str, known_checks: Collection[str] | None) -> Clause:
    number = str(entry["number"])
    unknown = sorted(set(map(str, entry)) - _BUILTIN_KEYS)
    if unknown:
        raise UserError(f"{where}: clause {number}: unknown key {unknown[0]!r}"
                        + (" ('checks' was replaced by 'evidence' rules, docs/verdicts.md)"
                           if unknown[0] == "checks" else ""))
    try:
        assessment = Assessment(entry["assessment"])
    except (KeyError, ValueError):
        raise UserError(f"{where}: clause {number}: 'assessment' must be one of "
                        f"{', '.join(a.value for a in Assessment)}") from None
    if "evidence" not in entry:
        raise UserError(f"{where}: clause {number}: missing 'evidence'")
    classes = entry.get("device_classes") or ()
    if not isinstance(classes, list | tuple):
        raise UserError(f"{where}: clause {number}: 'device_classes' must be a list")
    bad = [c for c in classes if c not in DEVICE_CLASSES]
    if bad:
        raise UserError(f"{where}: clause {number}: unknown device class {bad[0]!r}")
    return Clause(
        id=f"{scheme.id}:{number}",
        scheme=scheme.id,
        number=number,
        title=_text(entry, "title", where, number),
        title_ja=_text(entry, "title_ja", where, number, required=False) or None,
        text_confirmed=_flag(entry, "text_confirmed", where, number),
        assessment=assessment,
        # a network clause can PASS: the catalog must say why a scan covers all of it
        assessment_why=_text(entry, "assessment_why", where, number, required=assessment is Assessment.NETWORK),
        purpose=_text(entry, "purpose", where, number),
        rules=parse_rules(entry["evidence"], where, number, known_checks),
        documents=_text(entry, "documents", where, number),
        device_classes=tuple(classes),
        source=scheme.source,
        title_source="builtin",
        title_ja_source=scheme.title_ja_source,
    )


def _apply_overlay(clauses: list[Clause], entries: Iterable[dict[str, Any]], scheme: str, where: str,
                   known_checks: Collection[str] | None) -> list[Clause]:
    by_number = {c.number: i for i, c in enumerate(clauses) if c.scheme == scheme}
    out = list(clauses)
    for entry in entries:
        number = str(entry["number"])
        if number not in by_number:
            raise UserError(f"{where}: clause {number} is not a {scheme} clause probe knows")
        unknown = sorted(set(map(str, entry)) - _OVERLAY_KEYS)
        if unknown:
            hint = {"checks": " ('checks' was replaced by 'evidence' rules, docs/catalog.md)",
                    "assessment": " (an overlay cannot change what a network scan can assess)"}.get(unknown[0], "")
            raise UserError(f"{where}: clause {number}: unknown key {unknown[0]!r}{hint}")
        i = by_number[number]
        c = out[i]
        changes: dict[str, Any] = {}
        if "title" in entry:
            changes["title"] = _text(entry, "title", where, number)
            changes["title_source"] = where
        if "title_ja" in entry:
            changes["title_ja"] = _text(entry, "title_ja", where, number, required=False) or None
            changes["title_ja_source"] = where
        if "text_confirmed" in entry:
            changes["text_confirmed"] = _flag(entry, "text_confirmed", where, number)
        for key in ("purpose", "documents"):
            if key in entry:
                changes[key] = _text(entry, key, where, number)
        if "evidence" in entry:
            changes["rules"] = parse_rules(entry["evidence"], where, number, known_checks)
            changes["rules_source"] = where
        out[i] = replace(c, **changes)
    return out


def _overlay_files(overlay_dir: Path | None, overlays: Sequence[Path]) -> list[tuple[Path, str]]:
    files: list[tuple[Path, str]] = []
    if overlay_dir is not None:
        if not overlay_dir.is_dir():
            raise UserError(f"--catalog-dir {overlay_dir}: not a directory")
        found = sorted(p for p in overlay_dir.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        if not found:
            raise UserError(f"--catalog-dir {overlay_dir}: no .yaml/.yml/.json catalog files in it")
        files += [(p, "--catalog-dir") for p in found]
    files += [(Path(p), "--catalog") for p in overlays]
    return files


def load_catalog(overlay_dir: Path | None = None, *, overlays: Sequence[Path] = (),
                 known_checks: Collection[str] | None = None) -> Catalog:
    """Built-in catalogs, then the user's overlays: every file of `overlay_dir`, then `overlays`.

    `known_checks` (the plugin registry's ids) makes a rule naming any other check an error; the
    CLI always passes it. Overlays are applied in order, a later one winning clause by clause.
    """
    schemes: dict[str, Scheme] = {}
    clauses: list[Clause] = []
    base = importlib.resources.files("probe") / "data" / "catalog"
    for scheme_id in SCHEMES:
        where = f"probe/data/catalog/{scheme_id}.yaml"
        data = yamlfile.load_data((base / f"{scheme_id}.yaml").read_text("utf-8"), where)
        sch, entries = _parse_scheme_file(data, where, overlay=False)
        assert sch is not None
        schemes[sch.id] = sch
        clauses.extend(_clause_from(e, sch, where, known_checks) for e in entries)
    ids = [c.id for c in clauses]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise UserError(f"probe/data/catalog: clause {dup} is defined twice")
    recorded: list[Overlay] = []
    for path, flag in _overlay_files(overlay_dir, overlays):
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except IsADirectoryError:
            raise UserError(f"{flag} {path}: is a directory (use --catalog-dir for a folder)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
        data = yamlfile.load_data(text, str(path))
        _, entries = _parse_scheme_file(data, str(path), overlay=True)
        clauses = _apply_overlay(clauses, entries, data["scheme"], str(path), known_checks)
        recorded.append(Overlay(str(path), hashlib.sha256(raw).hexdigest()))
    return Catalog(schemes, clauses, recorded)
