"""ADB consoles (unauthenticated_access, adb) against probe's adbd stand-in on 127.0.0.1.

Debian has no adbd, so the daemon is probe/lab/adb_standin.py; the last tests show it speaks real
ADB by driving it with Debian's own `adb` client. A keyless CNXN with a proven echo FAILs with the
transcript; an AUTH token PASSes; garbage or silence is INCONCLUSIVE with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from probe.discovery import fingerprint as fp
from probe.models import InconclusiveReason, Status
from tests.helpers.checks import artefact_text, one
from tests.helpers.checks import check_service as run_check
from tests.helpers.daemons import LocalDaemons
from tests.helpers.ports import free_port

pytestmark = pytest.mark.usefixtures("lab_tools")


def test_open_adb_on_odd_port_is_identified_and_fails_with_the_echo(daemons: LocalDaemons) -> None:
    port = daemons.adb_standin("open")
    assert port != fp.ADB_PORT and fp.probe_order(fp.ADB_PORT)[0] == "adb"
    found = fp.fingerprint("127.0.0.1", port, timeout=1.0)
    assert (found.protocol, found.confidence, found.banner_kind) == ("adb", "handshake", "adb-probe")
    assert found.product == "Standin TV Box" and found.tried[-1] == "adb"
    f, store = run_check("unauthenticated_access", port, found.protocol)
    f = one(f)
    assert f.status is Status.FAIL and f.severity == "critical" and f.details["outcome"] == "executes"
    token = f.details["token"]
    assert f.details["output"].strip() == token
    text = artefact_text(store, f)
    assert "shell:echo " in text and token in text and "ro.product.model=Standin TV Box" in text
    assert text.count("OPEN") == 1  # one stream, the echo; nothing else was opened


def test_adb_asking_for_a_key_passes(daemons: LocalDaemons) -> None:
    port = daemons.adb_standin("auth")
    found = fp.fingerprint("127.0.0.1", port, timeout=1.0)
    assert found.protocol == "adb"
    f, store = run_check("unauthenticated_access", port, "adb")
    f = one(f)
    assert f.status is Status.PASS and f.details["outcome"] == "auth" and f.details["token"] is None
    assert "shell:" not in artefact_text(store, f)  # no stream is opened on a device that wants a key


@pytest.mark.parametrize("script, why", [
    ("#!/bin/sh\nprintf 'Welcome to the vendor service, version 1.2.3 and more\\n'\nsleep 2\n", "not an ADB message"),
    ("#!/bin/sh\nsleep 3\n", "no ADB answer within"),
])
def test_garbage_or_silence_is_inconclusive(daemons: LocalDaemons, script: str, why: str) -> None:
    port = daemons.console(script)
    f, _ = run_check("unauthenticated_access", port, "adb", timeout=1.0)
    f = one(f)
    assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.DEVICE_MISBEHAVED
    assert why in (f.reason or "")


def test_standin_refuses_every_service_but_echo() -> None:
    from probe.lab.adb_standin import echo_output
    assert echo_output("echo ab''cd") == b"abcd\n"
    assert echo_output("echo 'a b'  c") == b"a b c\n"
    for refused in ("", "ls", "echo a; reboot", "echo $(id)", "echo `id`", "reboot", "echo a | sh", "echo 'x"):
        assert echo_output(refused) is None


@pytest.mark.skipif(not shutil.which("adb"), reason="needs Debian's adb client (scripts/setup-system.sh)")
def test_standin_speaks_real_adb_to_debians_client(daemons: LocalDaemons, tmp_path: Path) -> None:
    """The independent client: `adb connect` + `adb shell echo` work against the open stand-in, the
    auth stand-in never lets the client in (it stays authorizing/unauthorized). The test's own adb
    server gets its own port."""
    open_port, auth_port = daemons.adb_standin("open"), daemons.adb_standin("auth")
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(free_port()), "HOME": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["adb", *args], env=env, capture_output=True, text=True, timeout=15)

    try:
        assert "connected to" in run("connect", f"127.0.0.1:{open_port}").stdout
        echo = run("-s", f"127.0.0.1:{open_port}", "shell", "echo", "hi''there")
        assert echo.returncode == 0 and echo.stdout.strip() == "hithere"
        assert run("-s", f"127.0.0.1:{open_port}", "shell", "ls").returncode != 0  # refused with CLSE
        run("connect", f"127.0.0.1:{auth_port}")
        seen = []
        for _ in range(40):  # bounded (about 10 s): the client goes offline -> authorizing -> unauthorized
            devices = run("devices").stdout
            states = dict(line.split("\t", 1) for line in devices.splitlines() if "\t" in line)
            seen.append(states.get(f"127.0.0.1:{auth_port}"))
            if seen[-1] in ("authorizing", "unauthorized"):
                break
            time.sleep(0.25)
        assert states[f"127.0.0.1:{open_port}"] == "device"
        assert seen[-1] in ("authorizing", "unauthorized") and "device" not in seen, seen
    finally:
        subprocess.run(["adb", "kill-server"], env=env, capture_output=True, timeout=10)
