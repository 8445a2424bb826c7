"""Which clauses a run assesses, from the profile, the catalog and the recognition path."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from probe.compliance.catalog import Catalog, Clause
from probe.compliance.held_label import HeldLabel
from probe.compliance.profile import Profile
from probe.compliance.recognition import MocData, RecognitionPath, all_paths, plan_path, today
from probe.compliance.roles import observers
from probe.errors import UserError


@dataclass(frozen=True)
class Scope:
    clauses: tuple[Clause, ...]
    holding: str | None
    apply_for: str | None
    path: RecognitionPath | None  # the chosen path, when --apply-for was given
    paths: tuple[RecognitionPath, ...]  # every path the data knows for this device class
    checks: tuple[str, ...]  # checks the run schedules: the profile's, restricted to the scope
    as_of: dt.date | None = None  # the date the paths were judged on (MoC in-force dates, label validity)
    as_of_source: str = "today"  # what that date is: "today", "run date" or "--application-date"
    held: HeldLabel | None = None  # the held label as declared

    def clause_ids(self) -> list[str]:
        return [c.id for c in self.clauses]

    def to_json(self) -> dict[str, Any]:
        return {
            "holding": self.holding,
            "apply_for": self.apply_for,
            "chosen_path": self.path.to_json() if self.path else None,
            "paths": [p.to_json() for p in self.paths],
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "as_of_source": self.as_of_source,
            "held_label": self.held.to_json(self.as_of) if self.held else None,
        }


def compute_scope(catalog: Catalog, moc: MocData, profile: Profile, holding: str | None,
                  apply_for: str | None, *, on: dt.date | None = None, on_source: str = "today",
                  held: HeldLabel | None = None) -> Scope:
    """The clauses in scope; `on` is the date recognition is judged on (default today, UTC) and
    `held` the held label from the declaration (it must name the --holding scheme)."""
    on = on or today()
    dc = profile.device_class
    path: RecognitionPath | None = None
    if apply_for is not None:
        if apply_for not in profile.schemes:
            raise UserError(f"profile {profile.name} does not cover {apply_for} "
                            f"(it covers {', '.join(profile.schemes)})")
        path = plan_path(catalog, moc, holding or "none", apply_for, dc, on=on,
                         held=held if holding not in (None, "none") else None)
        clauses = tuple(catalog.get(cid) for cid in path.gap_ids())
    elif holding not in (None, "none"):
        raise UserError(f"--holding {holding} needs --apply-for: which scheme is the simplified application for?")
    else:
        clauses = tuple(c for c in catalog.clauses if c.scheme in profile.schemes and c.applies_to(dc))
    wanted = {chk for c in clauses for chk in c.checks}
    # rules scoped to a service role need the checks that observe that role, or they select nothing
    wanted |= observers({role for c in clauses for r in c.rules for role in r.roles})
    checks = tuple(c for c in (*profile.checks, *profile.declaration_checks) if c in wanted)
    return Scope(clauses, holding, apply_for, path, tuple(all_paths(catalog, moc, dc, on=on)), checks,
                 as_of=on, as_of_source=on_source, held=held)
