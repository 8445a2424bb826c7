"""The label a product already holds, as the manufacturer declares it (`held_label:`).

A simplified application rests on the held label, so the label is evidence like any other: its
identifier, level and validity come from the declaration file (kept verbatim, cited by line), never
from a command-line switch alone. `--holding` names the scheme; the declaration says which label,
whether it was valid on the date the path is judged, and answers the MoCs' third-party question
(Japan–Singapore para 3.4, Japan–UK para 3.3): was the label itself obtained through another
recognition arrangement?
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a type only: importing the declaration reader loads PyYAML
    from probe.compliance.declaration import Declaration

OWN_ASSESSMENT = "own-assessment"
_LEVEL_NAMES = {"jc-star": "★{n}", "cls": "Level {n}"}


def level_name(scheme: str, level: int) -> str:
    """A label level as the scheme writes it: JC-STAR ★1, CLS Level 1."""
    return _LEVEL_NAMES.get(scheme, "level {n}").format(n=level)


@dataclass(frozen=True)
class HeldLabel:
    scheme: str
    identifier: str
    level: int | None
    valid_from: dt.date | None
    valid_until: dt.date | None
    obtained_via: str | None  # own-assessment | the scheme recognised to obtain it | None: not answered
    public_url: str | None
    issued_by: str | None
    file: str
    sha256: str
    line: int | None
    lines: dict[str, int]  # sub-field -> line in the declaration file

    @classmethod
    def from_declaration(cls, decl: Declaration) -> HeldLabel | None:
        """The held label the declaration states, or None (the declaration was validated by its schema)."""
        raw = decl.data.get("held_label")
        if not isinstance(raw, dict):
            return None

        def day(key: str) -> dt.date | None:
            return dt.date.fromisoformat(raw[key]) if raw.get(key) else None

        return cls(scheme=raw["scheme"], identifier=raw["identifier"], level=raw.get("level"),
                   valid_from=day("valid_from"), valid_until=day("valid_until"),
                   obtained_via=raw.get("obtained_via"), public_url=raw.get("public_url"),
                   issued_by=raw.get("issued_by"), file=decl.path, sha256=decl.sha256,
                   line=decl.lines.get("held_label"),
                   lines={k[len("held_label."):]: v for k, v in decl.lines.items() if k.startswith("held_label.")})

    @property
    def chained(self) -> bool:
        """True when the label was itself obtained by recognising another scheme's label or compliance."""
        return self.obtained_via not in (None, OWN_ASSESSMENT)

    def level_name(self) -> str:
        return "" if self.level is None else level_name(self.scheme, self.level)

    def describe(self) -> str:
        """One line: scheme, level, identifier, validity (for the plan and the reports)."""
        parts = [f"{self.scheme}{' ' + self.level_name() if self.level is not None else ''} "
                 f"{'statement' if self.scheme == 'uk-psti' else 'label'} {self.identifier}"]
        if self.valid_from or self.valid_until:
            parts.append(f"valid {self.valid_from or '…'} to {self.valid_until or '…'}")
        return ", ".join(parts)

    def validity_problem(self, on: dt.date) -> str | None:
        """Why the label is not valid on `on`, or None."""
        if self.valid_until is not None and on > self.valid_until:
            return f"expired on {self.valid_until}"
        if self.valid_from is not None and on < self.valid_from:
            return f"not valid before {self.valid_from}"
        return None

    def to_json(self, on: dt.date | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scheme": self.scheme, "identifier": self.identifier, "level": self.level,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "obtained_via": self.obtained_via, "public_url": self.public_url, "issued_by": self.issued_by,
            "declared_in": {"file": self.file, "sha256": self.sha256, "line": self.line},
        }
        if on is not None:  # validity on the date the path is judged; None when no dates were declared
            problem = self.validity_problem(on)
            out["valid_on_date"] = None if not (self.valid_from or self.valid_until) else problem is None
            out["validity_problem"] = problem
        return out
