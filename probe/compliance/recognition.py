"""The recognition planner: which clauses a simplified application still has to evidence.

Everything here is computed from the MoC tables in `probe/data/moc/*.yaml`; there is no list of
answers in the code. A clause of the scheme applied for needs evidence when the tables give it
status "partial" or "none" for the scheme held (or do not list it: not recognised), and no
table applies at all when the data holds no arrangement for that pair (full assessment).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from probe.compliance.catalog import DEVICE_CLASSES, SCHEMES, Catalog
from probe.errors import UserError

STATUSES = ("full", "partial", "none")
HOLDINGS = ("none", *SCHEMES)


@dataclass(frozen=True)
class MocTable:
    id: str
    arrangement: str
    annex: str
    holding: str
    apply_for: str
    device_classes: tuple[str, ...]
    default: str | None  # status of clauses the table does not list; None = the table is exhaustive
    status: dict[str, str]  # clause id (qualified) -> full | partial | none
    note: str
    source: str


@dataclass(frozen=True)
class GapEntry:
    clause_id: str
    status: str  # partial | none | unlisted
    tables: tuple[str, ...]  # table ids that gave the status


@dataclass(frozen=True)
class RecognitionPath:
    holding: str
    apply_for: str
    device_class: str
    tables: tuple[str, ...]
    gap: tuple[GapEntry, ...]
    recognised: tuple[str, ...]  # clause ids recognised in full
    explanation: str
    full_assessment: bool = False

    def gap_ids(self) -> list[str]:
        return [g.clause_id for g in self.gap]

    def to_json(self) -> dict[str, Any]:
        return {
            "holding": self.holding,
            "apply_for": self.apply_for,
            "device_class": self.device_class,
            "tables": list(self.tables),
            "full_assessment": self.full_assessment,
            "explanation": self.explanation,
            "gap_set": [{"id": g.clause_id, "status": g.status, "tables": list(g.tables)} for g in self.gap],
            "recognised": list(self.recognised),
        }


@dataclass
class MocData:
    tables: list[MocTable] = field(default_factory=list)

    def for_pair(self, holding: str, apply_for: str, device_class: str) -> list[MocTable]:
        return [t for t in self.tables
                if t.holding == holding and t.apply_for == apply_for and device_class in t.device_classes]


def load_moc(catalog: Catalog, moc_dir: Path | None = None) -> MocData:
    """The MoC tables shipped with probe, or those in `moc_dir` (for updated arrangements)."""
    base: Any = moc_dir if moc_dir is not None else importlib.resources.files("probe") / "data" / "moc"
    data = MocData()
    for entry in sorted(base.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        where = f"probe/data/moc/{entry.name}" if moc_dir is None else str(entry)
        try:
            doc = yaml.safe_load(entry.read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{where}: cannot read ({exc.__class__.__name__})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}:" if mark else ""
            problem = getattr(exc, "problem", None) or "syntax error"
            raise UserError(f"{where}:{line} not valid YAML ({problem})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("tables"), list):
            raise UserError(f"{where}: must be a mapping with a 'tables' list")
        for key in ("arrangement", "source"):
            if key not in doc:
                raise UserError(f"{where}: missing '{key}'")
        for t in doc["tables"]:
            if not isinstance(t, dict) or any(k not in t for k in ("id", "holding", "apply_for")):
                raise UserError(f"{where}: each table must be a mapping with 'id', 'holding' and 'apply_for'")
            if not isinstance(t.get("status") or {}, dict):
                raise UserError(f"{where}: table {t['id']}: 'status' must be a mapping of clause number to status")
            classes = t.get("device_classes") or DEVICE_CLASSES
            if not isinstance(classes, (list, tuple)) or any(c not in DEVICE_CLASSES for c in classes):
                raise UserError(f"{where}: table {t['id']}: device_classes must be a list from "
                                f"{', '.join(DEVICE_CLASSES)}")
            apply_for = t["apply_for"]
            if t["holding"] not in SCHEMES or apply_for not in SCHEMES:
                raise UserError(f"{where}: table {t['id']}: unknown scheme")
            status: dict[str, str] = {}
            for number, st in (t.get("status") or {}).items():
                cid = f"{apply_for}:{number}"
                if cid not in catalog.by_id:
                    raise UserError(f"{where}: table {t['id']}: {cid} is not in the catalog")
                if st not in STATUSES:
                    raise UserError(f"{where}: table {t['id']}: {cid}: status {st!r}")
                status[cid] = st
            default = t.get("default")
            if default is not None and default not in STATUSES:
                raise UserError(f"{where}: table {t['id']}: default {default!r}")
            data.tables.append(MocTable(
                id=t["id"], arrangement=doc["arrangement"], annex=str(t.get("annex", "")),
                holding=t["holding"], apply_for=apply_for,
                device_classes=tuple(t.get("device_classes") or DEVICE_CLASSES),
                default=default, status=status, note=str(t.get("note", "")), source=doc["source"]))
    return data


def plan_path(catalog: Catalog, moc: MocData, holding: str, apply_for: str, device_class: str) -> RecognitionPath:
    """The gap set for one (holding, apply_for, device class), from the tables alone."""
    clauses = catalog.of_scheme(apply_for, device_class)
    if holding == "none":
        return RecognitionPath(holding, apply_for, device_class, (), tuple(GapEntry(c.id, "none", ()) for c in clauses),
                               (), "no label held: every clause of the scheme is assessed", full_assessment=True)
    if holding == apply_for:
        raise UserError(f"--holding and --apply-for both name {holding}: nothing to apply for")
    tables = moc.for_pair(holding, apply_for, device_class)
    if not tables:
        return RecognitionPath(holding, apply_for, device_class, (), tuple(GapEntry(c.id, "none", ()) for c in clauses),
                               (), f"no recognition arrangement from {holding} to {apply_for} in the MoC data: "
                                   "full assessment", full_assessment=True)
    gap: list[GapEntry] = []
    recognised: list[str] = []
    for c in clauses:
        given = [(t.id, st) for t in tables if (st := t.status.get(c.id, t.default)) is not None]
        if not given:
            gap.append(GapEntry(c.id, "unlisted", ()))
            continue
        # The weakest status wins if two tables disagree: recognition must never be assumed.
        worst = max((st for _, st in given), key=STATUSES.index)
        if worst == "full":
            recognised.append(c.id)
        else:
            gap.append(GapEntry(c.id, worst, tuple(tid for tid, st in given if st == worst)))
    expl = (f"holding {holding}, applying for {apply_for} ({device_class}): "
            f"{len(gap)} clause(s) need evidence per {', '.join(t.id for t in tables)}")
    return RecognitionPath(holding, apply_for, device_class, tuple(t.id for t in tables), tuple(gap),
                           tuple(recognised), expl)


def all_paths(catalog: Catalog, moc: MocData, device_class: str) -> list[RecognitionPath]:
    """Every recognition path the data knows for this device class (for the evidence file)."""
    pairs = sorted({(t.holding, t.apply_for) for t in moc.tables if device_class in t.device_classes})
    return [plan_path(catalog, moc, h, a, device_class) for h, a in pairs]
