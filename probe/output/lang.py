"""Dates, numbers and the MoC's status terms in English or Japanese, for the terminal and reports.

The evidence stores dates and times in ISO 8601 (UTC); a Japanese reader gets them as Japan
writes them (2026年6月1日; times in JST, UTC+9, marked as such), an English reader as stored.
Only the presentation changes: the same instant, the same day, the same count.

The MoC's status terms are its own: the Japanese MoC text (METI's provisional translation, the
signed text is English) calls the statuses 完全適合 / 一部適合 / 該当なし, and a Japanese view uses
exactly those words; the full wording of each status comes from the MoC data (wording_ja).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

LANGS = ("en", "ja")
JST = dt.timezone(dt.timedelta(hours=9), "JST")

# the status words of the Japan–Singapore MoC, in its English (signed) and Japanese (provisional) text
MOC_TERMS = {
    "en": {"full": "Full", "partial": "Partial", "none": "None", "unlisted": "not listed (not recognised)"},
    "ja": {"full": "完全適合", "partial": "一部適合", "none": "該当なし", "unlisted": "記載なし（承認対象外）"},
}

PROVISIONAL_NOTE = {
    "en": "The Japanese text of the Japan–Singapore MoC is METI's provisional translation; the signed text "
          "is English.",
    "ja": "日本・シンガポール協力覚書（MoC）の日本語文は経済産業省による仮訳であり、署名された正文は英語です。"
          "MoC 上の扱い（完全適合・一部適合・該当なし）は仮訳の用語で示します。",
}

TITLE_JA_NOTE = {
    "probe-translation": "※ probe による翻訳（制度所有者は日本語の原文を公表していません）",
    "probe-paraphrase": "※ probe による要約（IPA の原文ではありません）",
}


def moc_term(status: Any, lang: str) -> str:
    terms = MOC_TERMS["ja" if lang == "ja" else "en"]
    return terms.get(str(status), str(status))


def _parse(value: Any) -> dt.datetime | dt.date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        if "T" in value:
            return dt.datetime.fromisoformat(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def date_text(value: Any, lang: str) -> str:
    """A date (or the date of a timestamp) as the language writes it; anything unparsable unchanged."""
    d = _parse(value)
    if d is None:
        return "" if value is None else str(value)
    if lang != "ja":
        return str(value)
    if isinstance(d, dt.datetime):
        d = (d.astimezone(JST) if d.tzinfo else d).date()
    return f"{d.year}年{d.month}月{d.day}日"


def datetime_text(value: Any, lang: str) -> str:
    """A timestamp: ISO 8601 as stored (en); in Japan's time zone and notation, marked JST (ja)."""
    d = _parse(value)
    if d is None or lang != "ja":
        return "" if value is None else str(value)
    if not isinstance(d, dt.datetime):
        return date_text(value, lang)
    if d.tzinfo is None:
        return f"{d.year}年{d.month}月{d.day}日 {d:%H:%M:%S}"
    j = d.astimezone(JST)
    return f"{j.year}年{j.month}月{j.day}日 {j:%H:%M:%S} JST"


def number_text(value: Any, lang: str) -> str:
    """An integer with thousands separators (Japan groups digits by three with commas, too)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "" if value is None else str(value)
    return f"{value:,}"


def count_text(value: int, lang: str, unit_en: str = "", unit_ja: str = "件") -> str:
    """A count with its counter word: '3 clause(s)' / '3件'."""
    n = number_text(value, lang)
    if lang == "ja":
        return f"{n}{unit_ja}"
    return f"{n} {unit_en}".rstrip()
