"""YAML parsing for probe's data files, with libyaml's C parser when PyYAML was built with it.

Why: every `probe run` reads ~25 YAML files (catalogs, check metadata, profiles, policies); the
pure-Python SafeLoader spends ~0.4 s on them, the C one ~0.04 s, and start-up counts in every
per-service comparison with other tools. Both are *safe* loaders (no arbitrary objects).
"""

from __future__ import annotations

from typing import Any

from probe.errors import UserError


def safe_load(text: str | bytes) -> Any:
    """yaml.safe_load, faster; raises yaml.YAMLError exactly like it. PyYAML (~10 ms) is imported
    by the first call, not by importing this module: `probe --help` reads no YAML."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_data(text: str | bytes, where: str) -> Any:
    """A human-edited data file (catalog, profile, policy, MoC table, check metadata) parsed, or a
    one-line UserError naming the file and the line: a typo in a data file is a usage error, never
    a traceback."""
    import yaml

    try:
        return safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise UserError(f"{where}:{line} not valid YAML ({problem})") from None
