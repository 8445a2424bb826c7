"""Report renderers: from a saved evidence file or pack to HTML, Markdown, SARIF, JUnit, or the
dossier for a simplified application (HTML or Markdown).

Each renderer is `render(doc, *, lang, verification, source, baseline) -> str`. Reports read the
evidence as saved and never rescan; see reports/model.py for what they share.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMATS = ("html", "markdown", "sarif", "junit", "dossier", "dossier-html", "dossier-markdown")
_RENDERERS = {"html": ("html", "render"), "markdown": ("markdown", "render"), "sarif": ("sarif", "render"),
              "junit": ("junit", "render"), "dossier-html": ("dossier", "render_html"),
              "dossier-markdown": ("dossier", "render_markdown")}
MARKDOWN_SUFFIXES = (".md", ".markdown")


def resolve(fmt: str, out: Path | None = None) -> str:
    """`dossier` is HTML, or Markdown when the output file ends in .md / .markdown."""
    if fmt == "dossier":
        return "dossier-markdown" if out is not None and out.suffix.lower() in MARKDOWN_SUFFIXES else "dossier-html"
    return fmt


def renderer(fmt: str) -> Callable[..., str]:
    if fmt not in _RENDERERS:
        raise ValueError(fmt)
    module, name = _RENDERERS[fmt]
    return getattr(importlib.import_module(f"probe.reports.{module}"), name)  # type: ignore[no-any-return]


def render(fmt: str, doc: dict[str, Any], *, lang: str = "en", verification: Any = None, source: Any = None,
           baseline: dict[str, Any] | None = None) -> str:
    return renderer(resolve(fmt))(doc, lang=lang, verification=verification, source=source, baseline=baseline)
