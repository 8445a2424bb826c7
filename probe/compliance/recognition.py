"""The recognition planner: which clauses a simplified application still has to evidence, and on
what basis.

Everything is computed from the data in `probe/data/moc/*.yaml` (read by moc_data.py); there is no
list of answers in the code. For one (holding, apply_for, device class), judged on a date `on`
(injectable; the command line's default is today in UTC):

- a table applies when its instrument is in force on that date and accepts the held label as
  declared (valid on the date, a recognised level, not itself obtained through another
  recognition arrangement: MoC para 3.4 Japan–Singapore, para 3.3 Japan–UK);
- tables of one instrument complement each other (Annex A + Annex B); different instruments are
  alternative bases (JC-STAR → UK PSTI rests on the Japan–UK MoC and on UK law): an application
  rests on one of them, so the gap set is that of the instrument leaving the least to assess, and
  every instrument giving that same set is shown as a basis;
- within an instrument a clause needs evidence when a table gives it "partial" or "none", or no
  table lists it (not recognised); if two tables disagree the weakest status wins;
- a pair whose tables are all not yet in force is a full assessment that says from when, and with
  which gap set, the simplified application becomes possible; a held label that no in-force basis
  accepts (expired, wrong level, chained recognition) refuses the path with a one-line reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from probe.compliance.catalog import SCHEMES, Catalog, Clause
from probe.compliance.held_label import HeldLabel, level_name
from probe.compliance.moc_data import STATUSES, MocData, MocTable, load_moc
from probe.errors import UserError

__all__ = ["HOLDINGS", "STATUSES", "Basis", "GapEntry", "MocData", "MocTable", "PathItem", "Question",
           "RecognitionPath", "all_paths", "load_moc", "plan_path", "today"]

HOLDINGS = ("none", *SCHEMES)
PATH_STATUSES = ("in-force", "not-in-force", "no-arrangement", "no-label")


def today() -> dt.date:
    """The date a path is judged on when none is given: today, in UTC."""
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class GapEntry:
    clause_id: str
    status: str  # partial | none | unlisted
    tables: tuple[str, ...]  # table ids that gave the status
    wording: str | None = None  # the MoC's own words for the status (None: the instrument has no table)
    wording_ja: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.clause_id, "status": self.status, "tables": list(self.tables),
                "wording": self.wording, "wording_ja": self.wording_ja}


@dataclass(frozen=True)
class Basis:
    """One table the path could rest on, and whether it does (and why not)."""

    table: MocTable
    applies: bool
    why_not: str | None = None

    def to_json(self) -> dict[str, Any]:
        t, inst = self.table, self.table.instrument
        return {
            "table": t.id, "instrument": inst.id, "kind": inst.kind, "name": inst.name, "title": inst.title,
            "annex": t.annex, "paragraph": t.paragraph, "condition": t.condition, "gap_source": t.gap_source,
            "signed": inst.signed.isoformat() if inst.signed else None, "in_force": t.in_force.isoformat(),
            "in_force_ref": inst.in_force_ref, "source": inst.source, "applies": self.applies,
            "why_not": self.why_not,
            # probe's Japanese wording of the paraphrased texts, for Japanese output (empty when the data has none)
            "name_ja": inst.name_ja, "condition_ja": t.condition_ja, "gap_source_ja": t.gap_source_ja,
        }


@dataclass(frozen=True)
class PathItem:
    """A MANUAL item of the path: shown with the application, never tested (e.g. the public
    self-declaration of Japan–UK para 3.2(a)); basis `declared` when the declaration states it."""

    id: str
    what: str
    refs: tuple[str, ...]
    declared_by: str
    declared: dict[str, Any] | None
    what_ja: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "what": self.what, "refs": list(self.refs), "verdict": "MANUAL",
                "basis": "declared" if self.declared else "manual", "declared_by": self.declared_by,
                "declared": self.declared, "what_ja": self.what_ja}


@dataclass(frozen=True)
class Question:
    """A question the plan asks and the declaration answers (e.g. is the held label chained?)."""

    id: str
    text: str
    refs: tuple[str, ...]
    answer: str | None  # None: not answered
    line: int | None  # where the declaration answers it
    text_ja: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "refs": list(self.refs), "answer": self.answer,
                "answered": self.answer is not None, "line": self.line, "text_ja": self.text_ja}


@dataclass(frozen=True)
class RecognitionPath:
    holding: str
    apply_for: str
    device_class: str
    tables: tuple[str, ...]  # the tables the gap set comes from
    gap: tuple[GapEntry, ...]
    recognised: tuple[str, ...]  # clause ids recognised in full
    explanation: str
    full_assessment: bool = False
    status: str = "in-force"  # one of PATH_STATUSES
    as_of: dt.date | None = None
    bases: tuple[Basis, ...] = ()
    notes: tuple[str, ...] = ()
    notes_ja: tuple[str, ...] = ()  # probe's Japanese wording of each note, when the data has one
    items: tuple[PathItem, ...] = ()
    questions: tuple[Question, ...] = ()
    in_force_from: dt.date | None = None  # not yet in force: the date the simplified path starts
    pending_gap: tuple[GapEntry, ...] = ()  # ... and the gap set it will have then
    pending_refusal: str | None = None  # ... or why the held label will not carry it then either

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
            "gap_set": [g.to_json() for g in self.gap],
            "recognised": list(self.recognised),
            "status": self.status,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "bases": [b.to_json() for b in self.bases],
            "notes": list(self.notes),
            "notes_ja": list(self.notes_ja),
            "manual_items": [i.to_json() for i in self.items],
            "questions": [q.to_json() for q in self.questions],
            "in_force_from": self.in_force_from.isoformat() if self.in_force_from else None,
            "pending_gap_set": [g.to_json() for g in self.pending_gap],
            "pending_refusal": self.pending_refusal,
        }


def _accepts(t: MocTable, on: dt.date, held: HeldLabel | None) -> str | None:
    """Why table `t` cannot carry the path on `on` for this held label, or None when it can."""
    inst = t.instrument
    if on < t.in_force:
        return f"{inst.name} not in force on {on}: it applies from {t.in_force} ({inst.in_force_ref.split(':')[0]})"
    if held is None:
        return None
    problem = held.validity_problem(on)
    if problem:
        return (f"the declared {held.scheme} label {held.identifier} {problem}, and {inst.name} "
                f"{t.paragraph} rests on a valid label")
    levels = inst.levels.get(held.scheme)
    if levels is not None and held.level is not None and held.level not in levels:
        shown = ", ".join(level_name(held.scheme, n) for n in levels)
        return (f"{inst.name} recognises {held.scheme} labels of {shown} only ({inst.levels_ref}); "
                f"the declared label is {held.level_name()}")
    if held.chained and inst.third_party_labels != "accepted":
        how = "excludes" if inst.third_party_labels == "excluded" else "is not known to accept"
        return f"{inst.name} {how} labels obtained through another recognition arrangement ({inst.third_party_ref})"
    return None


def _gap(clauses: list[Clause], tables: list[MocTable]) -> tuple[list[GapEntry], list[str]]:
    gap: list[GapEntry] = []
    recognised: list[str] = []
    for c in clauses:
        given = [(t, st) for t in tables if (st := t.status.get(c.id, t.default)) is not None]
        if not given:
            gap.append(GapEntry(c.id, "unlisted", ()))
            continue
        # The weakest status wins if two tables disagree: recognition must never be assumed.
        worst = max((st for _, st in given), key=STATUSES.index)
        if worst == "full":
            recognised.append(c.id)
            continue
        src = [t for t, st in given if st == worst]
        gap.append(GapEntry(c.id, worst, tuple(t.id for t in src), src[0].wording.get(worst),
                            src[0].wording_ja.get(worst)))
    return gap, recognised


def _weight(gap: list[GapEntry]) -> tuple[int, int]:
    """How much a gap set leaves to assess: clauses with no recognition first, then partial ones."""
    return sum(1 for g in gap if g.status != "partial"), len(gap)


def _check_held(held: HeldLabel, holding: str, apply_for: str) -> None:
    where = f"{held.file}:{held.line}" if held.line else held.file
    if held.scheme != holding:
        raise UserError(f"{where}: held_label.scheme is {held.scheme} but --holding is {holding}")
    if held.obtained_via == apply_for:
        raise UserError(f"{where}: the declared {holding} label was obtained through recognition of {apply_for}: "
                        f"the product already holds (or held) {apply_for}; nothing to apply for")


def _refusal(moc: MocData, held: HeldLabel, holding: str, apply_for: str, device_class: str,
             refused: list[Basis]) -> str:
    if held.chained:
        lead = (f"recognition refused: the {holding} label {held.identifier} was itself obtained through recognition "
                f"of {held.obtained_via} ({held.obtained_via} → {holding} → {apply_for} is chained recognition)")
    else:
        lead = f"recognition {holding} → {apply_for} refused for the declared label {held.identifier}"
    reasons = "; ".join(dict.fromkeys(b.why_not or "" for b in refused))
    alt = ""
    if held.chained and held.obtained_via and moc.for_pair(held.obtained_via, apply_for, device_class):
        alt = f", or --holding {held.obtained_via} if that label is still valid"
    return f"{lead}: {reasons}. Apply with a full assessment (--holding none){alt}"


def _items(tables: list[MocTable], held: HeldLabel | None) -> tuple[PathItem, ...]:
    out: dict[str, PathItem] = {}
    for t in tables:
        for m in t.manual_items:
            ref = f"{t.instrument.name} {m.ref}"
            if m.id in out:
                prev = out[m.id]
                if ref not in prev.refs:
                    out[m.id] = PathItem(prev.id, prev.what, (*prev.refs, ref), prev.declared_by, prev.declared,
                                         prev.what_ja)
                continue
            declared = None
            if held is not None and m.declared_by == "held_label":
                declared = {"field": "held_label", "value": held.describe(), "line": held.line}
            elif held is not None and m.declared_by == "held_label.public_url" and held.public_url:
                declared = {"field": "held_label.public_url", "value": held.public_url,
                            "line": held.lines.get("public_url")}
            out[m.id] = PathItem(m.id, m.what, (ref,), m.declared_by, declared, m.what_ja)
    return tuple(out.values())


def _questions(tables: list[MocTable], held: HeldLabel | None, holding: str) -> tuple[Question, ...]:
    refs = tuple(dict.fromkeys(f"{t.instrument.name} {t.instrument.third_party_ref}" for t in tables
                               if t.instrument.third_party_labels != "accepted"))
    if not refs:
        return ()
    what = "the product's UK PSTI compliance" if holding == "uk-psti" else f"the {holding} label"
    text = (f"Was {what} itself obtained through another mutual-recognition arrangement (a simplified "
            "application that recognised another scheme's label or compliance)? What was obtained that way is not "
            "recognised again; declare held_label.obtained_via (own-assessment, or the scheme recognised).")
    what_ja = "製品の UK PSTI への適合" if holding == "uk-psti" else f"{holding} ラベル"
    text_ja = (f"{what_ja}は、他の相互承認の取決め（他制度のラベルや適合を承認した簡易申請）を通じて"
               "取得したものですか。そのように取得したものは再び承認されません。held_label.obtained_via（own-assessment、または承認された制度）"
               "を申告してください。")
    answer = held.obtained_via if held else None
    return (Question("third-party-label", text, refs, answer, held.lines.get("obtained_via") if held else None,
                     text_ja),)


def _basis_summary(tables: list[MocTable]) -> str:
    by_inst: dict[str, list[MocTable]] = {}
    for t in tables:
        by_inst.setdefault(t.instrument.id, []).append(t)
    parts = []
    for ts in by_inst.values():
        inst = ts[0].instrument
        paras = ", ".join(dict.fromkeys(t.paragraph for t in ts))
        annexes = " + ".join(dict.fromkeys(t.annex for t in ts if t.annex))
        parts.append(f"{inst.name} {paras}{f' ({annexes})' if annexes else ''}, in force since {inst.in_force}")
    return "; ".join(parts)


def _not_yet_in_force(catalog: Catalog, moc: MocData, holding: str, apply_for: str, device_class: str,
                      on: dt.date, held: HeldLabel | None, bases: list[Basis],
                      everything: tuple[GapEntry, ...]) -> RecognitionPath:
    """No basis in force on `on`: a full assessment now, and what the path will be once it is."""
    tables = [b.table for b in bases]
    start = min(t.in_force for t in tables)
    refusal = None
    try:
        pending = plan_path(catalog, moc, holding, apply_for, device_class, on=start, held=held).gap
    except UserError as exc:  # e.g. a chained label: refused then as well, and the plan says so
        pending, refusal = (), str(exc)
    names = ", ".join(dict.fromkeys(f"{t.instrument.name} from {t.in_force}" for t in tables))
    return RecognitionPath(
        holding, apply_for, device_class, (), everything, (),
        f"holding {holding}, applying for {apply_for} ({device_class}), on {on}: recognition is NOT IN FORCE "
        f"yet ({names}): until then every {apply_for} clause is assessed",
        full_assessment=True, status="not-in-force", as_of=on, bases=tuple(bases), in_force_from=start,
        pending_gap=tuple(pending), pending_refusal=refusal)


def plan_path(catalog: Catalog, moc: MocData, holding: str, apply_for: str, device_class: str, *,
              on: dt.date | None = None, held: HeldLabel | None = None) -> RecognitionPath:
    """The gap set and its basis for one (holding, apply_for, device class) on date `on`."""
    on = on or today()
    clauses = catalog.of_scheme(apply_for, device_class)
    everything = tuple(GapEntry(c.id, "none", ()) for c in clauses)
    if holding == "none":
        return RecognitionPath(holding, apply_for, device_class, (), everything, (),
                               "no label held: every clause of the scheme is assessed", full_assessment=True,
                               status="no-label", as_of=on)
    if holding == apply_for:
        raise UserError(f"--holding and --apply-for both name {holding}: nothing to apply for")
    if held is not None:
        _check_held(held, holding, apply_for)
    tables = moc.for_pair(holding, apply_for, device_class)
    if not tables:
        return RecognitionPath(holding, apply_for, device_class, (), everything, (),
                               f"no recognition arrangement from {holding} to {apply_for} in the MoC data: "
                               "full assessment", full_assessment=True, status="no-arrangement", as_of=on)
    bases = []
    for t in tables:
        why = _accepts(t, on, held)
        bases.append(Basis(t, why is None, why))
    applied = [b.table for b in bases if b.applies]
    if not applied:
        refused = [b for b in bases if b.table.in_force <= on]  # in force, but not for this label
        if refused and held is not None:
            raise UserError(_refusal(moc, held, holding, apply_for, device_class, refused))
        return _not_yet_in_force(catalog, moc, holding, apply_for, device_class, on, held, bases, everything)
    groups: dict[str, list[MocTable]] = {}
    for t in applied:
        groups.setdefault(t.instrument.id, []).append(t)
    results = {iid: _gap(clauses, ts) for iid, ts in groups.items()}
    best_gap, best_recognised = min(results.values(), key=lambda r: _weight(r[0]))
    best_key = [(g.clause_id, g.status) for g in best_gap]
    chosen = {iid for iid, (gap, _) in results.items() if [(g.clause_id, g.status) for g in gap] == best_key}
    bases = [b if not b.applies or b.table.instrument.id in chosen else
             Basis(b.table, False, f"{b.table.instrument.name} leaves more to assess than "
                                   f"{', '.join(groups[i][0].instrument.name for i in sorted(chosen))}")
             for b in bases]
    used = [t for t in applied if t.instrument.id in chosen]
    sources: dict[str, list[str]] = {}  # clause id -> every chosen table that gave its status
    for iid in sorted(chosen):
        for e in results[iid][0]:
            sources.setdefault(e.clause_id, []).extend(e.tables)
    gap = [GapEntry(g.clause_id, g.status, tuple(dict.fromkeys(sources[g.clause_id])), g.wording, g.wording_ja)
           for g in best_gap]
    partial = sum(1 for g in gap if g.status == "partial")
    if gap:
        expl = (f"holding {holding}, applying for {apply_for} ({device_class}), on {on}: {len(gap)} clause(s) need "
                f"evidence ({partial} partial, {len(gap) - partial} none or unlisted) per {_basis_summary(used)}")
    else:
        expl = (f"holding {holding}, applying for {apply_for} ({device_class}), on {on}: no clause needs evidence: "
                f"recognised in full by {_basis_summary(used)}")
    notes = tuple(dict.fromkeys(n for t in used for n in t.notes))
    in_ja = {n: j for t in used for n, j in zip(t.notes, t.notes_ja, strict=False)}
    notes_ja = tuple(in_ja.get(n, "") for n in notes) if in_ja else ()
    return RecognitionPath(holding, apply_for, device_class, tuple(t.id for t in used), tuple(gap),
                           tuple(best_recognised), expl, status="in-force", as_of=on, bases=tuple(bases),
                           notes=notes, notes_ja=notes_ja, items=_items(used, held),
                           questions=_questions(used, held, holding))


def all_paths(catalog: Catalog, moc: MocData, device_class: str, *, on: dt.date | None = None) -> list[RecognitionPath]:
    """Every recognition path the data knows for this device class (for the evidence file)."""
    pairs = sorted({(t.holding, t.apply_for) for t in moc.tables if device_class in t.device_classes})
    return [plan_path(catalog, moc, h, a, device_class, on=on) for h, a in pairs]
