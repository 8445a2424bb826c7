"""The purpose-built hostile servers (probe.hostile), shared by the hostile-device tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probe.hostile import HostileServer, start_all


@pytest.fixture(scope="package")
def hostile() -> Iterator[dict[str, HostileServer]]:
    """Every purpose-built hostile server, on 127.0.0.1, any free ports; always stopped."""
    servers = start_all("127.0.0.1")
    try:
        yield {s.name: s for s in servers}
    finally:
        for s in servers:
            s.stop()
