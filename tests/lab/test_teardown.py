"""`down` leaves nothing of an instance behind: after a clean run, and after a 'crash'.

These use an instance of their own (reserved like the session lab's) so they never disturb the
shared lab fixture or a parallel session.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from probe.lab import manager, netns, state
from probe.lab.identity import NETNS_ETC
from probe.lab.variants import load_variant
from tests.helpers.netns import reserve_lab_instance

pytestmark = pytest.mark.lab


@pytest.fixture()
def own_instance() -> Iterator[int]:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
    reservation = reserve_lab_instance()
    try:
        yield reservation.octet
    finally:
        manager.down(reservation.octet)
        reservation.release()


def _leftovers(inst: int, pids: list[int]) -> list[str]:
    prefix = netns.ns_prefix(inst)
    found = [f"netns {n}" for n in netns.list_namespaces() if n.startswith(prefix)]
    found += [f"link {n}" for n in netns.list_links() if n.startswith(prefix)]
    found += [f"pid {p}" for p in pids if netns.alive(p)]
    found += [f"/etc/netns/{p.name}" for p in NETNS_ETC.glob(f"{prefix}*")] if NETNS_ETC.is_dir() else []
    found += [str(p) for p in (state.state_path(inst), state.run_dir(inst)) if p.exists()]
    routes = subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True, text=True,
                            timeout=10).stdout
    found += [f"route {line}" for line in routes.splitlines() if f"10.231.{inst}." in line]
    return found


def _pids(inst: int) -> list[int]:
    record = json.loads(state.state_path(inst).read_text())
    return [p["pid"] for d in record["devices"] for p in d["pids"]]


def test_down_removes_namespaces_links_processes_routes_and_files(own_instance: int) -> None:
    variants = ["camera", "weak-gateway", "consumer-router"]  # the two with a WAN link among them
    devices = manager.up(variants, own_instance)
    pids = _pids(own_instance)
    expected = sum(len(load_variant(v).services) for v in variants)  # one process per service
    assert len(pids) == expected and all(netns.alive(p) for p in pids)
    assert [d.address for d in devices] == [f"10.231.{own_instance}.{n}" for n in (2, 6, 10)]
    assert netns.safety_route_present()
    manager.down(own_instance)
    assert _leftovers(own_instance, pids) == []


def test_down_after_a_crash_with_lost_state_file(own_instance: int) -> None:
    manager.up(["camera"], own_instance)
    pids = _pids(own_instance)
    state.state_path(own_instance).unlink()  # the crash lost the record: only the sweep is left
    manager.down(own_instance)
    assert _leftovers(own_instance, pids) == []


def test_down_with_stale_state_file_of_dead_processes(own_instance: int) -> None:
    manager.up(["camera"], own_instance)
    pids = _pids(own_instance)
    record = json.loads(state.state_path(own_instance).read_text())
    for dev in record["devices"]:  # PIDs that no longer mean our daemons (start time mismatch)
        dev["pids"] = [{"pid": 1, "start": 1, "service": "x", "daemon": "x"}]
    state.save(own_instance, record)
    manager.down(own_instance)  # must not touch PID 1, must still kill the namespace's processes
    assert _leftovers(own_instance, pids) == []
    assert netns.alive(1)


def test_up_refuses_an_instance_that_is_already_up(own_instance: int) -> None:
    manager.up(["camera"], own_instance)
    with pytest.raises(manager.UserError, match="already up"):
        manager.up(["camera"], own_instance)


def _ssh_login(address: str, port: int, user: str, password: str) -> bool:
    import paramiko

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # the lab's own device
    try:
        client.connect(address, port=port, username=user, password=password, timeout=10, banner_timeout=10,
                       auth_timeout=10, allow_agent=False, look_for_keys=False)
        return True
    except paramiko.AuthenticationException:
        return False
    finally:
        client.close()


def test_status_names_daemons_that_lost_the_device_accounts(own_instance: int) -> None:
    """A host package install that replaces /etc/shadow detaches the devices' account files.

    The test cannot replace the host's /etc/shadow (every other lab on the machine would lose its
    accounts), so it detaches the mount in the SSH daemon's own mount namespace, which is what the
    kernel does there when the host's file is renamed over.
    """
    (dev,) = manager.up(["weak-gateway"], own_instance)
    user, password = next((c.user, c.password) for c in dev.credentials if c.service == "system")
    (row,) = manager.status(own_instance)
    assert row.healthy and not row.accounts_detached
    assert _ssh_login(dev.address, dev.port("ssh"), user, password)
    record = json.loads(state.state_path(own_instance).read_text())
    (sshd,) = [p["pid"] for d in record["devices"] for p in d["pids"] if p["service"] == "ssh"]
    subprocess.run(["nsenter", "-t", str(sshd), "-m", "umount", "/etc/shadow"], check=True, timeout=10)
    (row,) = manager.status(own_instance)
    assert row.accounts_detached and not row.healthy
    assert not _ssh_login(dev.address, dev.port("ssh"), user, password)  # what the status warns of
