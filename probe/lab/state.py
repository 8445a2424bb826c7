"""The lab's crash-safe record of what it created, one JSON file per instance.

It is written BEFORE each namespace, link or process is created and rewritten after each one, so
that `down` can undo a run that crashed half way. It is never the only source of truth: `down`
also sweeps by the instance's name prefix, so a lost or stale file still leaves nothing behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATE_ROOT = Path(os.environ.get("PROBE_LAB_STATE_DIR", "/run/probe-lab"))


def state_path(instance: int) -> Path:
    return STATE_ROOT / f"{instance}.json"


def run_dir(instance: int) -> Path:
    """Per-instance directory for rendered configs, keys, logs and web roots."""
    return STATE_ROOT / str(instance)


def load(instance: int) -> dict[str, Any] | None:
    path = state_path(instance)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"instance": instance, "devices": [], "corrupt": True}
    return data if isinstance(data, dict) else {"instance": instance, "devices": [], "corrupt": True}


def save(instance: int, data: dict[str, Any]) -> None:
    """Atomic write (temp file + rename), mode 0600: the file holds the lab's random passwords."""
    STATE_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = state_path(instance)
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def remove(instance: int) -> None:
    for p in (state_path(instance), state_path(instance).with_suffix(".json.tmp")):
        p.unlink(missing_ok=True)


def other_instances(instance: int) -> list[int]:
    """Instances other than this one that still have a state file (they may need the route)."""
    out = []
    if STATE_ROOT.is_dir():
        for p in STATE_ROOT.glob("*.json"):
            if p.stem.isdigit() and int(p.stem) != instance:
                out.append(int(p.stem))
    return sorted(out)
