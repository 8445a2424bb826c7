"""Options shared by several subcommands, and loading of catalog, profile and scope."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from probe.compliance.catalog import SCHEMES
from probe.compliance.profile import builtin_profiles
from probe.compliance.recognition import HOLDINGS

if TYPE_CHECKING:
    from probe.compliance.catalog import Catalog
    from probe.compliance.declaration import Declaration
    from probe.compliance.profile import Profile
    from probe.compliance.scope import Scope


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def add_scope_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="home-gateway", metavar="NAME|FILE",
                   help=f"device profile: {', '.join(builtin_profiles())}, or a profile YAML file "
                        "(default: home-gateway)")
    p.add_argument("--holding", choices=HOLDINGS, default=None,
                   help="the scheme of the label the product already holds ('none': a full assessment); "
                        "the label itself (identifier, level, validity, how it was obtained) is declared "
                        "in the declaration file's held_label")
    p.add_argument("--apply-for", choices=SCHEMES, default=None, dest="apply_for",
                   help="the scheme applied for; with --holding, only the MoC gap set is assessed")
    p.add_argument("--application-date", type=_date, default=None, metavar="YYYY-MM-DD", dest="application_date",
                   help="judge the recognition path on this date (MoC and law in-force dates, the held label's "
                        "validity), e.g. a planned application date; default: today (UTC)")
    p.add_argument("--catalog", type=Path, action="append", default=[], metavar="FILE",
                   help="catalog overlay YAML (repeatable, applied in order): confirms clause texts with the official "
                        "wording you hold a licence for and may replace a clause's evidence rules; validated, and "
                        "recorded in the evidence with its SHA-256 (docs/catalog.md)")
    p.add_argument("--catalog-dir", type=Path, default=None, metavar="DIR",
                   help="apply every .yaml/.yml/.json file in DIR as a --catalog overlay (in name order, before "
                        "the --catalog files)")


def load_scope(args: argparse.Namespace, declaration: Declaration | None = None,
               default_source: str = "today") -> tuple[Catalog, Profile, Scope]:
    """Catalog, profile and scope; the held label comes from `declaration` when one is given.
    (Imported here, not at the top: the command parsers import this module for its options.)"""
    from probe.compliance.catalog import load_catalog
    from probe.compliance.held_label import HeldLabel
    from probe.compliance.profile import load_profile
    from probe.compliance.recognition import load_moc
    from probe.compliance.scope import compute_scope
    from probe.plugins import registry

    known = set(registry())
    catalog = load_catalog(args.catalog_dir, overlays=args.catalog, known_checks=known)
    profile = load_profile(args.profile, known)
    moc = load_moc(catalog)
    on = getattr(args, "application_date", None)
    held = HeldLabel.from_declaration(declaration) if declaration is not None else None
    scope = compute_scope(catalog, moc, profile, args.holding, args.apply_for, on=on,
                          on_source="--application-date" if on else default_source, held=held)
    return catalog, profile, scope
