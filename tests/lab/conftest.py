"""The lab fixture: every lab variant up once per test session, on an instance of its own.

The instance number is reserved (tests/helpers/netns.py) so parallel sessions (other engineers,
CI jobs, test workers) never share a 10.231.<N>.0/24 net or a namespace name, and never sweep each
other's devices. Teardown always runs (fixture finally + atexit, in case pytest is killed).

The ground-truth scans (test_ground_truth.py) must see devices no other test has touched (the
hardened gateway locks a client out after failed logins), so their module runs first.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator

import pytest

from probe.errors import UserError
from probe.lab import LabDevice, manager
from probe.lab.variants import known_variants
from tests.helpers.netns import reserve_lab_instance

FIRST = "test_ground_truth.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = [i for i in items if i.path.name == FIRST]
    if first:
        items[:] = first + [i for i in items if i.path.name != FIRST]


@pytest.fixture(scope="session")
def lab() -> Iterator[dict[str, LabDevice]]:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (network namespaces)")
    reservation = reserve_lab_instance()
    inst = reservation.octet
    manager.down(inst)  # the reservation is ours: only a crashed earlier session of ours can have left anything
    atexit.register(manager.down, inst)
    try:
        try:
            devices = manager.up(known_variants(), inst)
        except UserError as exc:
            pytest.fail(str(exc))
        yield {d.name: d for d in devices}
    finally:
        manager.down(inst)
        reservation.release()


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


@pytest.fixture(scope="session")
def nas(lab: dict[str, LabDevice]) -> LabDevice:
    return lab["media-nas"]


@pytest.fixture(scope="session")
def hub(lab: dict[str, LabDevice]) -> LabDevice:
    return lab["smart-hub"]
