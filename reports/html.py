"""Self-contained HTML report (inline CSS, no script, no external resources).

Rendered with Jinja2 with autoescaping on for every expression, so a device string can never
become markup: the banner `<script>` is shown as text. A Content-Security-Policy meta tag that
forbids scripts and remote loads is a second line of defence should anything slip through.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
from typing import Any

import jinja2

from .i18n import labels
from .model import VERDICTS, baseline_view, clause_title, context, location, role_text, rule_rows, visible
from .path_view import recognition_view


def _anchor(value: Any, prefix: str) -> str:
    """An HTML id derived from an evidence id: only [A-Za-z0-9_-], unique by a short digest."""
    s = str(value)
    digest = hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9_-]', '_', s)[:40]}-{digest}"


def _env(lang: str) -> jinja2.Environment:
    templates = importlib.resources.files("probe.reports") / "templates"
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (templates / name).read_text("utf-8")),
        autoescape=True, undefined=jinja2.ChainableUndefined, extensions=["jinja2.ext.do"],
        keep_trailing_newline=True)
    env.filters["v"] = visible
    env.filters["anchor"] = _anchor
    env.filters["where"] = location
    env.filters["vclass"] = lambda v: v if v in VERDICTS else "INCONCLUSIVE"
    env.filters["title_for"] = lambda c: clause_title(c, lang)
    env.filters["roles"] = role_text
    env.filters["rules"] = lambda c: rule_rows(c, labels(lang))
    env.filters["tojson_visible"] = lambda o: visible(json.dumps(o, indent=1, sort_keys=True, ensure_ascii=False))
    return env


def render(doc: dict[str, Any], *, lang: str = "en", verification: Any = None, source: Any = None,
           baseline: dict[str, Any] | None = None) -> str:
    return _env(lang).get_template("report.html.j2").render(**context(doc, lang, verification),
                                                           rec=recognition_view(doc, lang),
                                                           base=baseline_view(baseline, lang))
