"""Which clauses a run assesses, from the profile, the catalog and the recognition path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from probe.compliance.catalog import Catalog, Clause
from probe.compliance.profile import Profile
from probe.compliance.recognition import MocData, RecognitionPath, all_paths, plan_path
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

    def clause_ids(self) -> list[str]:
        return [c.id for c in self.clauses]

    def to_json(self) -> dict[str, Any]:
        return {
            "holding": self.holding,
            "apply_for": self.apply_for,
            "chosen_path": self.path.to_json() if self.path else None,
            "paths": [p.to_json() for p in self.paths],
        }


def compute_scope(catalog: Catalog, moc: MocData, profile: Profile, holding: str | None,
                  apply_for: str | None) -> Scope:
    dc = profile.device_class
    path: RecognitionPath | None = None
    if apply_for is not None:
        if apply_for not in profile.schemes:
            raise UserError(f"profile {profile.name} does not cover {apply_for} "
                            f"(it covers {', '.join(profile.schemes)})")
        path = plan_path(catalog, moc, holding or "none", apply_for, dc)
        clauses = tuple(catalog.get(cid) for cid in path.gap_ids())
    elif holding not in (None, "none"):
        raise UserError(f"--holding {holding} needs --apply-for: which scheme is the simplified application for?")
    else:
        clauses = tuple(c for c in catalog.clauses if c.scheme in profile.schemes and c.applies_to(dc))
    wanted = {chk for c in clauses for chk in c.checks}
    # rules scoped to a service role need the checks that observe that role, or they select nothing
    wanted |= observers({role for c in clauses for r in c.rules for role in r.roles})
    checks = tuple(c for c in profile.checks if c in wanted)
    return Scope(clauses, holding, apply_for, path, tuple(all_paths(catalog, moc, dc)), checks)
