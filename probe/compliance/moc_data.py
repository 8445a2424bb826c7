"""The recognition arrangements as data: each file in `probe/data/moc/` is one instrument (an MoC
or a law) and its status tables.

An assessor asks of every simplified application "on what basis, since when, on which condition?",
so the data carries that, not only the clause statuses: the instrument (kind, in-force date and the
paragraph that sets it, what it says about labels obtained through a third arrangement, which label
levels it recognises) and, per table, the paragraph and condition the recognition rests on, the
MoC's own words for each status, notes, and the MANUAL items the application must show. Every
malformed file is a one-line error naming it; nothing here decides a path (recognition.py does).
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe import yamlfile
from probe.compliance.catalog import DEVICE_CLASSES, SCHEMES, Catalog
from probe.errors import UserError

STATUSES = ("full", "partial", "none")
KINDS = ("moc", "law")
THIRD_PARTY = ("excluded", "not-stated", "accepted")
DECLARED_BY = ("held_label", "held_label.public_url")


@dataclass(frozen=True)
class Instrument:
    """One MoC or law, as a whole: when it applies and what it says about chains and levels."""

    id: str
    kind: str  # moc | law
    name: str  # short, for one-line output: "Japan–UK MoC"
    title: str
    signed: dt.date | None
    in_force: dt.date
    in_force_ref: str
    source: str
    third_party_labels: str  # excluded | not-stated | accepted
    third_party_ref: str
    levels: dict[str, tuple[int, ...] | None]  # scheme held -> recognised label levels; None = any level
    levels_ref: str
    name_ja: str = ""  # the short name in Japanese (probe's wording), for Japanese output

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "name": self.name, "title": self.title,
            "signed": self.signed.isoformat() if self.signed else None,
            "in_force": self.in_force.isoformat(), "in_force_ref": self.in_force_ref, "source": self.source,
            "third_party_labels": self.third_party_labels, "third_party_ref": self.third_party_ref,
        }


@dataclass(frozen=True)
class ManualItem:
    """Something the application must show that no scan can (e.g. the public self-declaration)."""

    id: str
    what: str
    ref: str
    declared_by: str  # the declaration field that answers it
    what_ja: str = ""  # probe's Japanese wording of `what`, for Japanese output


@dataclass(frozen=True)
class MocTable:
    id: str
    instrument: Instrument
    annex: str
    heading: str
    holding: str
    apply_for: str
    device_classes: tuple[str, ...]
    default: str | None  # status of clauses the table does not list; None = the table is exhaustive
    status: dict[str, str]  # clause id (qualified) -> full | partial | none
    paragraph: str
    condition: str
    gap_source: str
    wording: dict[str, str]  # status -> the MoC's own words for it (empty: the instrument has none)
    wording_ja: dict[str, str]
    notes: tuple[str, ...]
    manual_items: tuple[ManualItem, ...]
    # probe's Japanese wording of the paraphrased texts above (the MoC's own words are wording_ja)
    condition_ja: str = ""
    gap_source_ja: str = ""
    notes_ja: tuple[str, ...] = ()

    @property
    def arrangement(self) -> str:
        return self.instrument.id

    @property
    def source(self) -> str:
        return self.instrument.source

    @property
    def in_force(self) -> dt.date:
        return self.instrument.in_force


@dataclass
class MocData:
    tables: list[MocTable] = field(default_factory=list)

    def for_pair(self, holding: str, apply_for: str, device_class: str) -> list[MocTable]:
        return [t for t in self.tables
                if t.holding == holding and t.apply_for == apply_for and device_class in t.device_classes]


def _date(value: Any, where: str, key: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UserError(f"{where}: '{key}' must be a date (YYYY-MM-DD), not {str(value)[:40]!r}") from None


def _text(doc: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{where}: '{key}' must be a non-empty text")
    return value


def _levels(doc: dict[str, Any], where: str) -> dict[str, tuple[int, ...] | None]:
    raw = doc.get("levels") or {}
    if not isinstance(raw, dict):
        raise UserError(f"{where}: 'levels' must map a scheme to 'any' or a list of levels")
    out: dict[str, tuple[int, ...] | None] = {}
    for scheme, levels in raw.items():
        if scheme not in SCHEMES:
            raise UserError(f"{where}: levels: unknown scheme {str(scheme)[:40]!r}")
        if levels == "any":
            out[scheme] = None
        elif isinstance(levels, list) and levels and all(isinstance(n, int) and not isinstance(n, bool)
                                                          for n in levels):
            out[scheme] = tuple(levels)
        else:
            raise UserError(f"{where}: levels: {scheme} must be 'any' or a list of whole numbers")
    return out


def _instrument(doc: dict[str, Any], where: str) -> Instrument:
    for key in ("arrangement", "source"):
        if key not in doc:
            raise UserError(f"{where}: missing '{key}'")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise UserError(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
    if "in_force" not in doc:
        raise UserError(f"{where}: missing 'in_force' (the date recognition under it starts)")
    third = doc.get("third_party_labels")
    if third not in THIRD_PARTY:
        raise UserError(f"{where}: 'third_party_labels' must be one of {', '.join(THIRD_PARTY)}")
    return Instrument(
        id=_text(doc, "arrangement", where), kind=kind, name=_text(doc, "name", where),
        title=_text(doc, "title", where),
        signed=_date(doc["signed"], where, "signed") if doc.get("signed") is not None else None,
        in_force=_date(doc["in_force"], where, "in_force"), in_force_ref=_text(doc, "in_force_ref", where),
        source=_text(doc, "source", where), third_party_labels=third,
        third_party_ref=_text(doc, "third_party_ref", where), levels=_levels(doc, where),
        levels_ref=_text(doc, "levels_ref", where, required=False),
        name_ja=_text(doc, "name_ja", where, required=False))


def _wording(t: dict[str, Any], key: str, where: str) -> dict[str, str]:
    raw = t.get(key) or {}
    if not isinstance(raw, dict) or any(k not in STATUSES or not isinstance(v, str) for k, v in raw.items()):
        raise UserError(f"{where}: '{key}' must map full/partial/none to the MoC's words")
    return dict(raw)


def _items(t: dict[str, Any], where: str) -> tuple[ManualItem, ...]:
    raw = t.get("manual_items") or []
    if not isinstance(raw, list):
        raise UserError(f"{where}: 'manual_items' must be a list")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise UserError(f"{where}: each manual item must be a mapping with id, what, ref, declared_by")
        if item.get("declared_by") not in DECLARED_BY:
            raise UserError(f"{where}: manual item: 'declared_by' must be one of {', '.join(DECLARED_BY)}")
        out.append(ManualItem(_text(item, "id", where), _text(item, "what", where), _text(item, "ref", where),
                              item["declared_by"], _text(item, "what_ja", where, required=False)))
    return tuple(out)


def _table(t: Any, inst: Instrument, catalog: Catalog, where: str) -> MocTable:
    if not isinstance(t, dict) or any(k not in t for k in ("id", "holding", "apply_for")):
        raise UserError(f"{where}: each table must be a mapping with 'id', 'holding' and 'apply_for'")
    where = f"{where}: table {str(t['id'])[:40]}"
    if not isinstance(t.get("status") or {}, dict):
        raise UserError(f"{where}: 'status' must be a mapping of clause number to status")
    classes = t.get("device_classes") or DEVICE_CLASSES
    if not isinstance(classes, (list, tuple)) or any(c not in DEVICE_CLASSES for c in classes):
        raise UserError(f"{where}: device_classes must be a list from {', '.join(DEVICE_CLASSES)}")
    holding, apply_for = t["holding"], t["apply_for"]
    if holding not in SCHEMES or apply_for not in SCHEMES:
        raise UserError(f"{where}: unknown scheme")
    status: dict[str, str] = {}
    for number, st in (t.get("status") or {}).items():
        cid = f"{apply_for}:{number}"
        if cid not in catalog.by_id:
            raise UserError(f"{where}: {cid} is not in the catalog")
        if st not in STATUSES:
            raise UserError(f"{where}: {cid}: status {str(st)[:40]!r}")
        status[cid] = st
    default = t.get("default")
    if default is not None and default not in STATUSES:
        raise UserError(f"{where}: default {str(default)[:40]!r}")
    notes = t.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise UserError(f"{where}: 'notes' must be a list of texts")
    notes_ja = t.get("notes_ja") or []
    if not isinstance(notes_ja, list) or not all(isinstance(n, str) for n in notes_ja) or \
            (notes_ja and len(notes_ja) != len(notes)):
        raise UserError(f"{where}: 'notes_ja' must be a list of texts, one per note")
    return MocTable(
        id=str(t["id"]), instrument=inst, annex=str(t.get("annex", "")), heading=str(t.get("heading", "")),
        holding=holding, apply_for=apply_for, device_classes=tuple(classes), default=default, status=status,
        paragraph=_text(t, "paragraph", where), condition=_text(t, "condition", where),
        gap_source=(_text(t, "gap_source", where, required=False)
                    or f"the status table of {inst.name}, {t.get('annex')}"),
        wording=_wording(t, "wording", where), wording_ja=_wording(t, "wording_ja", where),
        notes=tuple(notes), manual_items=_items(t, where),
        condition_ja=_text(t, "condition_ja", where, required=False),
        gap_source_ja=(_text(t, "gap_source_ja", where, required=False)
                       or (f"{inst.name_ja}、{t.get('annex')} の表" if inst.name_ja and not t.get("gap_source")
                           else "")),
        notes_ja=tuple(notes_ja))


def load_moc(catalog: Catalog, moc_dir: Path | None = None) -> MocData:
    """The recognition data shipped with probe, or that in `moc_dir` (for updated arrangements)."""
    base: Any = moc_dir if moc_dir is not None else importlib.resources.files("probe") / "data" / "moc"
    data = MocData()
    seen: set[str] = set()
    for entry in sorted(base.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        where = f"probe/data/moc/{entry.name}" if moc_dir is None else str(entry)
        try:
            text = entry.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{where}: cannot read ({exc.__class__.__name__})") from None
        doc = yamlfile.load_data(text, where)
        if not isinstance(doc, dict) or not isinstance(doc.get("tables"), list):
            raise UserError(f"{where}: must be a mapping with a 'tables' list")
        inst = _instrument(doc, where)
        for t in doc["tables"]:
            table = _table(t, inst, catalog, where)
            if table.id in seen:
                raise UserError(f"{where}: table id {table.id[:40]!r} is used twice")
            seen.add(table.id)
            data.tables.append(table)
    return data
