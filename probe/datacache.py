"""An on-disk cache of parsed YAML data files, addressed by their content.

Why: every probe start parses YAML (the scheme catalogs, the check metadata, the crypto policy,
profiles...). Importing PyYAML and parsing costs ~20 ms of each start, and start-up counts in every
per-service comparison with other tools (bench/crypto_bench.py). marshal reads the same data back
in well under a millisecond.

Correctness: an entry's name is the SHA-256 of everything its value depends on: the exact text
parsed, the PyYAML installation (path, size and mtime of its `__init__.py`: an upgrade changes
them), the Python version and the marshal format. An edited file, a new PyYAML or Python is a
different name, so nothing is ever invalidated in place and a stale entry is never read.
YAML dates and timestamps, which marshal cannot hold, are stored as tagged tuples and rebuilt on
reading (a YAML safe load never yields a tuple, so the tag cannot be data); anything else marshal
cannot hold is not cached. An unreadable, truncated or foreign entry is ignored and the text is
parsed as if there were no cache. marshal never runs code.

Where: $PROBE_CACHE_DIR, else $XDG_CACHE_HOME/probe, else ~/.cache/probe (a directory only its
user can read); PROBE_CACHE_DIR=off turns the cache off. Failing to write is never an error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.util
import marshal
import os
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

FORMAT = b"probe-yaml-cache 2"
_MISS = object()
_PLAIN, _DATES = b"M", b"D"  # an entry's first byte: marshal as is / with dates to rebuild
_DATE_TAG, _DATETIME_TAG = "\0date", "\0datetime"


def cache_dir() -> Path | None:
    """The directory entries go to, or None when the cache is off."""
    env = os.environ.get("PROBE_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "probe"


@cache
def _parser_identity() -> bytes:
    """What the parse result depends on besides the text: PyYAML's installation, Python, marshal."""
    spec = importlib.util.find_spec("yaml")
    origin = spec.origin if spec is not None and spec.origin else ""
    try:
        st = os.stat(origin)
        stamp = f"{origin}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        stamp = f"{origin}:unknown"
    return b"\0".join([FORMAT, stamp.encode(), sys.version.encode(), str(marshal.version).encode()])


def _key(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(_parser_identity() + b"\0" + raw).hexdigest()


def _freeze(value: Any) -> Any:
    """The value with every date/datetime as a tagged tuple marshal can hold."""
    if isinstance(value, dict):
        return {_freeze(k): _freeze(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_freeze(v) for v in value]
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        return (_DATETIME_TAG, value.isoformat())
    if isinstance(value, dt.date):
        return (_DATE_TAG, value.isoformat())
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, dict):
        return {_thaw(k): _thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_thaw(v) for v in value]
    if isinstance(value, tuple) and len(value) == 2:
        if value[0] == _DATETIME_TAG:
            return dt.datetime.fromisoformat(value[1])
        if value[0] == _DATE_TAG:
            return dt.date.fromisoformat(value[1])
    return value


def _read(path: Path) -> Any:
    try:
        blob = path.read_bytes()
        kind, value = blob[:1], marshal.loads(blob[1:])
        if kind == _PLAIN:
            return value
        if kind == _DATES:
            return _thaw(value)
    except (OSError, ValueError, EOFError, TypeError):
        pass
    return _MISS


def _encode(value: Any) -> bytes | None:
    try:
        return _PLAIN + marshal.dumps(value)
    except ValueError:
        pass
    try:
        return _DATES + marshal.dumps(_freeze(value))
    except ValueError:  # another type marshal cannot hold: this document is not cached
        return None


def _write(path: Path, value: Any) -> None:
    blob = _encode(value)
    if blob is None:
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, path)  # atomic: a concurrent reader sees the old name missing or whole
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return  # read-only home, full disk...: the cache is only an optimisation


def cached_parse(text: str | bytes, parse: Callable[[str | bytes], Any]) -> Any:
    """parse(text), from the cache when an entry for this exact text (and parser) exists. parse's
    exceptions pass through and nothing is cached for them."""
    root = cache_dir()
    if root is None:
        return parse(text)
    path = root / "yaml" / f"{_key(text)}.marshal"
    got = _read(path)
    if got is not _MISS:
        return got
    value = parse(text)
    _write(path, value)
    return value
