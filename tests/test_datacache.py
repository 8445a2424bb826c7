"""The parsed-YAML cache (probe.datacache): a hit returns what the parse returned, and any change
to what the result depends on (the text, the parser) is a miss, never a stale hit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from probe import datacache, yamlfile
from probe.errors import UserError

TEXT = "id: demo\nlimits: {min_bits: 2048, names: [a, b]}\nflag: true\nratio: 0.5\nnothing: null\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROBE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


class Counting:
    """A parse function that counts its calls (the real YAML parse underneath)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: str | bytes) -> Any:
        self.calls += 1
        return yamlfile._parse(text)


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "yaml").glob("*.marshal")) if (cache / "yaml").exists() else []


def test_second_load_comes_from_the_cache_and_equals_the_parse(cache: Path) -> None:
    parse = Counting()
    first = datacache.cached_parse(TEXT, parse)
    second = datacache.cached_parse(TEXT, parse)
    assert parse.calls == 1
    assert first == second == {"id": "demo", "limits": {"min_bits": 2048, "names": ["a", "b"]}, "flag": True,
                               "ratio": 0.5, "nothing": None}
    assert type(second["flag"]) is bool and len(entries(cache)) == 1
    second["limits"]["names"].append("c")  # callers may mutate what they get: the next load is unaffected
    assert datacache.cached_parse(TEXT, parse)["limits"]["names"] == ["a", "b"]


def test_an_edited_text_is_parsed_again(cache: Path) -> None:
    parse = Counting()
    datacache.cached_parse(TEXT, parse)
    edited = TEXT.replace("2048", "3072")
    assert datacache.cached_parse(edited, parse)["limits"]["min_bits"] == 3072
    assert parse.calls == 2 and len(entries(cache)) == 2


def test_another_parser_installation_is_a_miss(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parse = Counting()
    datacache.cached_parse(TEXT, parse)
    monkeypatch.setattr(datacache, "_parser_identity", lambda: b"PyYAML upgraded")
    datacache.cached_parse(TEXT, parse)
    assert parse.calls == 2


def test_a_damaged_entry_is_ignored(cache: Path) -> None:
    parse = Counting()
    datacache.cached_parse(TEXT, parse)
    [entry] = entries(cache)
    entry.write_bytes(entry.read_bytes()[:7])  # truncated
    assert datacache.cached_parse(TEXT, parse)["id"] == "demo"
    entry.write_bytes(b"\xff not marshal")
    assert datacache.cached_parse(TEXT, parse)["id"] == "demo"
    assert parse.calls == 3


def test_dates_and_timestamps_come_back_as_parsed(cache: Path) -> None:
    parse = Counting()
    text = ("in_force: 2025-03-25\nstamp: 2026-12-02 04:05:06.5+09:00\nnaive: 2026-12-02T01:02:03\n"
            "nested: [{until: 2027-01-01}]\nword: '2025-03-25'\n")
    first = datacache.cached_parse(text, parse)
    second = datacache.cached_parse(text, parse)
    assert parse.calls == 1 and len(entries(cache)) == 1
    assert first == second
    assert type(second["in_force"]) is dt.date and second["in_force"] == dt.date(2025, 3, 25)
    assert second["stamp"] == dt.datetime(2026, 12, 2, 4, 5, 6, 500000, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert second["naive"].tzinfo is None and second["nested"][0]["until"] == dt.date(2027, 1, 1)
    assert second["word"] == "2025-03-25"  # a quoted date stays text


def test_every_packaged_data_file_reads_back_identical(cache: Path) -> None:
    """What probe's own YAML files parse to, and what the cache gives back for them, are equal."""
    root = Path(yamlfile.__file__).parent
    files = [*root.glob("data/**/*.yaml"), *root.parent.glob("checks/*.yaml"), *root.parent.glob("profiles/*.yaml"),
             *root.glob("checks/*.yaml"), *root.glob("builtin_profiles/*.yaml")]  # source tree or installed
    assert len(files) > 20
    for f in files:
        text = f.read_text("utf-8")
        direct = yamlfile._parse(text)
        datacache.cached_parse(text, yamlfile._parse)  # writes the entry
        assert datacache.cached_parse(text, lambda _t, f=f: pytest.fail(f"{f}: not cached")) == direct, f


def test_invalid_yaml_is_a_user_error_and_not_cached(cache: Path) -> None:
    with pytest.raises(UserError, match=r"bad.yaml: line 2: not valid YAML"):
        yamlfile.load_data("a: [1, 2\nb: {\n", "bad.yaml")
    assert entries(cache) == []


def test_cache_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    parse = Counting()
    datacache.cached_parse(TEXT, parse)
    datacache.cached_parse(TEXT, parse)
    assert parse.calls == 2 and not any(tmp_path.rglob("*.marshal"))


def test_unwritable_cache_dir_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PROBE_CACHE_DIR", str(blocker / "cache"))
    assert yamlfile.load_data(TEXT, "x.yaml")["id"] == "demo"
