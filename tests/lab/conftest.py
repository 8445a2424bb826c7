"""The lab fixture: every lab variant up once per test session, on this session's own instance.

The instance number comes from the PID so parallel sessions (other engineers, CI jobs) use
different 10.231.<N>.0/24 nets and namespace names. Leftovers of the same instance are swept
before starting; teardown always runs (fixture finally + atexit, in case pytest is killed).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator

import pytest

from probe.errors import UserError
from probe.lab import LabDevice, manager
from probe.lab.variants import known_variants


def session_instance() -> int:
    return int(os.environ.get("PROBE_LAB_TEST_INSTANCE", os.getpid() % 200 + 20))


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (network namespaces)")


@pytest.fixture(scope="session")
def lab() -> Iterator[dict[str, LabDevice]]:
    _require_root()
    inst = session_instance()
    manager.down(inst)  # sweep whatever a crashed earlier session of this instance left
    atexit.register(manager.down, inst)
    try:
        try:
            devices = manager.up(known_variants(), inst)
        except UserError as exc:
            pytest.fail(str(exc))
        yield {d.name: d for d in devices}
    finally:
        manager.down(inst)


@pytest.fixture(scope="session")
def weak(lab: dict[str, LabDevice]) -> LabDevice:
    return lab["weak-gateway"]


@pytest.fixture(scope="session")
def hardened(lab: dict[str, LabDevice]) -> LabDevice:
    return lab["hardened-gateway"]


@pytest.fixture(scope="session")
def camera(lab: dict[str, LabDevice]) -> LabDevice:
    return lab["camera"]


@pytest.fixture(scope="session")
def router(lab: dict[str, LabDevice]) -> LabDevice:
    return lab["consumer-router"]
