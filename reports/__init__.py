"""Report renderers: from a saved evidence file or pack to HTML, Markdown, SARIF or JUnit.

One module per format, each with `render(doc, *, lang, verification) -> str`. Reports read the
evidence as saved and never rescan; see reports/model.py for what they share.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

FORMATS = ("html", "markdown", "sarif", "junit")


def renderer(fmt: str) -> Callable[..., str]:
    if fmt not in FORMATS:
        raise ValueError(fmt)
    return importlib.import_module(f"probe.reports.{fmt}").render  # type: ignore[no-any-return]  # import_module is untyped


def render(fmt: str, doc: dict[str, Any], *, lang: str = "en", verification: Any = None) -> str:
    return renderer(fmt)(doc, lang=lang, verification=verification)
