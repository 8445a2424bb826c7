"""An on-disk cache of parsed YAML data files, addressed by their content.

Why: every probe start parses YAML (the scheme catalogs, the check metadata, the crypto policy,
profiles...). Importing PyYAML and parsing costs ~20 ms of each start, and start-up counts in every
per-service comparison with other tools (bench/crypto_bench.py). marshal reads the same data back
in well under a millisecond.

Correctness: an entry's name is the SHA-256 of everything its value depends on: the exact text
parsed, the PyYAML installation (path, size and mtime of its `__init__.py`: an upgrade changes
them), the Python version and the marshal format. An edited file, a new PyYAML or Python is a
different name, so nothing is ever invalidated in place and a stale entry is never read.
A document marshal cannot hold (YAML dates) is not cached; an unreadable, truncated or foreign
entry is ignored and the text is parsed as if there were no cache. marshal never runs code.

Where: $PROBE_CACHE_DIR, else $XDG_CACHE_HOME/probe, else ~/.cache/probe (a directory only its
user can read); PROBE_CACHE_DIR=off turns the cache off. Failing to write is never an error.
"""

from __future__ import annotations

import contextlib
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

FORMAT = b"probe-yaml-cache 1"
_MISS = object()


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


def _read(path: Path) -> Any:
    try:
        blob = path.read_bytes()
        return marshal.loads(blob)
    except (OSError, ValueError, EOFError, TypeError):
        return _MISS


def _write(path: Path, value: Any) -> None:
    try:
        blob = marshal.dumps(value)
    except ValueError:  # a type marshal cannot hold (YAML timestamps): this document is not cached
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
