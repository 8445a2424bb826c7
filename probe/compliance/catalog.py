"""The scheme catalogs (JC-STAR, CLS, UK PSTI) loaded from data files.

Clause facts and the clause-to-check mapping live in `probe/data/catalog/*.yaml`. A user may
point `--catalog-dir` at their own folder: a file there for the same scheme overrides the
built-in titles (e.g. with official wording they hold a licence for) and may add checks to a
clause, clause by clause, without copying the rest.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from probe import yamlfile
from probe.errors import UserError
from probe.models import Assessment

SCHEMES = ("jc-star", "cls", "uk-psti")
DEVICE_CLASSES = ("general-iot", "home-gateway")


@dataclass(frozen=True)
class Clause:
    id: str  # scheme-qualified, e.g. "jc-star:S1.1-09"
    scheme: str
    number: str
    title: str
    title_ja: str | None
    text_confirmed: bool
    assessment: Assessment
    network_can_show: str
    checks: tuple[str, ...]
    device_classes: tuple[str, ...]
    source: str
    title_source: str  # "builtin" or the path of the user's override file

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
            "network_can_show": self.network_can_show,
            "checks": list(self.checks),
            "device_classes": list(self.device_classes),
            "source": self.source,
            "title_source": self.title_source,
        }


@dataclass(frozen=True)
class Scheme:
    id: str
    name: str
    version: str
    publisher: str
    source: str


class Catalog:
    """All clauses of all schemes, in catalog order, plus the inverted check -> clauses map."""

    def __init__(self, schemes: dict[str, Scheme], clauses: list[Clause]) -> None:
        self.schemes = schemes
        self.clauses = clauses
        self.by_id = {c.id: c for c in clauses}
        inverted: dict[str, list[str]] = {}
        for c in clauses:
            for check in c.checks:
                inverted.setdefault(check, []).append(c.id)
        self.clauses_for_check = {k: tuple(v) for k, v in inverted.items()}

    def get(self, clause_id: str) -> Clause:
        try:
            return self.by_id[clause_id]
        except KeyError:
            raise UserError(f"unknown clause {clause_id!r}") from None

    def of_scheme(self, scheme: str, device_class: str | None = None) -> list[Clause]:
        return [c for c in self.clauses
                if c.scheme == scheme and (device_class is None or c.applies_to(device_class))]


def _read_yaml(text: str, where: str) -> Any:
    try:
        return yamlfile.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise UserError(f"{where}:{line} not valid YAML ({problem})") from None


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
    sch = Scheme(data["scheme"], str(data["name"]), str(data["version"]), str(data["publisher"]),
                 str(data["source"]))
    return sch, entries


def _clause_from(entry: dict[str, Any], scheme: Scheme, where: str) -> Clause:
    number = str(entry["number"])
    try:
        assessment = Assessment(entry["assessment"])
    except (KeyError, ValueError):
        raise UserError(f"{where}: clause {number}: 'assessment' must be one of "
                        f"{', '.join(a.value for a in Assessment)}") from None
    for key in ("title", "text_confirmed", "checks"):
        if key not in entry:
            raise UserError(f"{where}: clause {number}: missing '{key}'")
    classes = tuple(entry.get("device_classes") or ())
    bad = [c for c in classes if c not in DEVICE_CLASSES]
    if bad:
        raise UserError(f"{where}: clause {number}: unknown device class {bad[0]!r}")
    return Clause(
        id=f"{scheme.id}:{number}",
        scheme=scheme.id,
        number=number,
        title=str(entry["title"]),
        title_ja=entry.get("title_ja"),
        text_confirmed=bool(entry["text_confirmed"]),
        assessment=assessment,
        network_can_show=str(entry.get("network_can_show", "")),
        checks=tuple(str(c) for c in entry["checks"] or ()),
        device_classes=classes,
        source=scheme.source,
        title_source="builtin",
    )


def _apply_overlay(clauses: list[Clause], entries: Iterable[dict[str, Any]], scheme: str, where: str) -> list[Clause]:
    by_number = {c.number: i for i, c in enumerate(clauses) if c.scheme == scheme}
    out = list(clauses)
    for entry in entries:
        number = str(entry["number"])
        if number not in by_number:
            raise UserError(f"{where}: clause {number} is not a {scheme} clause probe knows")
        i = by_number[number]
        c = out[i]
        changes: dict[str, Any] = {}
        if "title" in entry:
            changes["title"] = str(entry["title"])
            changes["title_source"] = where
        if "title_ja" in entry:
            changes["title_ja"] = None if entry["title_ja"] is None else str(entry["title_ja"])
        if "text_confirmed" in entry:
            changes["text_confirmed"] = bool(entry["text_confirmed"])
        if "checks" in entry:
            if not isinstance(entry["checks"] or [], list):
                raise UserError(f"{where}: clause {number}: 'checks' must be a list of check IDs")
            extra = [str(x) for x in entry["checks"] or () if str(x) not in c.checks]
            changes["checks"] = c.checks + tuple(extra)
        out[i] = replace(c, **changes)
    return out


def load_catalog(overlay_dir: Path | None = None) -> Catalog:
    """Built-in catalogs, then any user overrides from `overlay_dir` (*.yaml / *.yml / *.json)."""
    schemes: dict[str, Scheme] = {}
    clauses: list[Clause] = []
    base = importlib.resources.files("probe") / "data" / "catalog"
    for scheme_id in SCHEMES:
        where = f"probe/data/catalog/{scheme_id}.yaml"
        data = _read_yaml((base / f"{scheme_id}.yaml").read_text("utf-8"), where)
        sch, entries = _parse_scheme_file(data, where, overlay=False)
        assert sch is not None
        schemes[sch.id] = sch
        clauses.extend(_clause_from(e, sch, where) for e in entries)
    if overlay_dir is not None:
        if not overlay_dir.is_dir():
            raise UserError(f"--catalog-dir {overlay_dir}: not a directory")
        files = sorted(p for p in overlay_dir.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        if not files:
            raise UserError(f"--catalog-dir {overlay_dir}: no .yaml/.yml/.json catalog files in it")
        for path in files:
            try:
                text = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UserError(f"{path}: cannot read ({exc})") from None
            data = _read_yaml(text, str(path))
            _, entries = _parse_scheme_file(data, str(path), overlay=True)
            clauses = _apply_overlay(clauses, entries, data["scheme"], str(path))
    return Catalog(schemes, clauses)
