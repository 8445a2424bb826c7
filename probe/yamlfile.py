"""YAML parsing for probe's data files, with libyaml's C parser when PyYAML was built with it.

Why: every `probe run` reads ~25 YAML files (catalogs, check metadata, profiles, policies); the
pure-Python SafeLoader spends ~0.4 s on them, the C one ~0.04 s, and start-up counts in every
per-service comparison with other tools. Both are *safe* loaders (no arbitrary objects).
What a text parses to is also kept in probe.datacache (addressed by the text itself), so a start
whose data files are unchanged does not import PyYAML at all.
"""

from __future__ import annotations

from typing import Any

from probe.datacache import cached_parse
from probe.errors import UserError


def _parse(text: str | bytes) -> Any:
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def safe_load(text: str | bytes) -> Any:
    """yaml.safe_load, faster; raises yaml.YAMLError exactly like it. PyYAML (~10 ms) is imported
    by the first parse, not by importing this module, and not at all when the cache has the text."""
    return cached_parse(text, _parse)


def load_data(text: str | bytes, where: str) -> Any:
    """A human-edited data file (catalog, profile, policy, MoC table, check metadata) parsed, or a
    one-line UserError naming the file and the line: a typo in a data file is a usage error, never
    a traceback."""
    try:
        return safe_load(text)
    except Exception as exc:
        import yaml  # loaded by the parse that raised

        if not isinstance(exc, yaml.YAMLError):
            raise
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise UserError(f"{where}:{line} not valid YAML ({problem})") from None
