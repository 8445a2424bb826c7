"""SIGINT / SIGTERM / --max-time against stalling servers, with the real `probe run` subprocess.

The first interrupt must leave schema-valid evidence marked incomplete and exit 3 promptly, even
when a check is blocked in a read on a device that never answers; the second exits at once.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from probe.engine import STOP_GRACE
from probe.hostile import HostileServer
from probe.output.evidence import validate
from tests.helpers.cli import REPO, probe_cmd
from tests.helpers.probe_run import run_probe

STALLERS = ("stall", "ftp-stall", "ssh-banner-only", "tls-huge-cert", "endless-stream", "telnet-negotiation-flood")


class Running:
    """A `probe run` subprocess whose stderr is read line by line while it runs."""

    def __init__(self, out: Path, *args: str) -> None:
        self.proc = subprocess.Popen(probe_cmd("run", "--out", str(out), "--no-nmap", *args), cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if text in self.lines.get(timeout=0.1):
                    return
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
        self.kill()
        pytest.fail(f"never saw {text!r} on stderr: {''.join(self.stderr)}")

    def wait_exit(self, timeout: float) -> tuple[int, float]:
        start = time.monotonic()
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"probe still running {timeout}s after the signal")
        elapsed = time.monotonic() - start
        self.pump.join(5)  # stderr fully read
        return rc, elapsed

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _ports(hostile: dict[str, HostileServer], names: tuple[str, ...] = STALLERS) -> str:
    return ",".join(str(hostile[n].port) for n in names)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_discovery_writes_incomplete_evidence(hostile: dict[str, HostileServer], tmp_path: Path,
                                                                sig: signal.Signals) -> None:
    out = tmp_path / "ev.json"
    run = Running(out, "--target", "127.0.0.1", "--ports", _ports(hostile))
    run.wait_for("scanning")
    time.sleep(1.0)  # the sweep is done, identification is busy with servers that stall
    run.proc.send_signal(sig)
    rc, after = run.wait_exit(timeout=20)
    assert rc == 3, "".join(run.stderr)
    assert after < STOP_GRACE + 8, f"exited {after:.1f}s after the signal"
    doc = json.loads(out.read_text())
    validate(doc)
    assert doc["run"]["complete"] is False
    assert "interrupted by the operator (SIGINT/SIGTERM)" in doc["run"]["incomplete_reasons"]
    # nothing was silently dropped: every open port is listed, every check that was due is INCONCLUSIVE
    assert {s["port"] for s in doc["services"]} == {hostile[n].port for n in STALLERS}
    assert doc["findings"], "no finding at all"
    for f in doc["findings"]:
        assert f["status"] in ("INCONCLUSIVE", "FAIL"), f
    assert any(f["reason_code"] == "interrupted" for f in doc["findings"])
    for c in doc["clauses"]:
        assert c["verdict"] != "PASS"
    assert "Traceback" not in "".join(run.stderr)


def test_interrupt_while_a_check_is_blocked_in_a_read(hostile: dict[str, HostileServer], tmp_path: Path) -> None:
    """--timeout 30: the FTP check waits up to 30 s for an answer that never comes. The engine must
    give up after its grace period, record the check as interrupted and not wait for the thread."""
    out = tmp_path / "ev.json"
    port = hostile["ftp-stall"].port
    run = Running(out, "--target", "127.0.0.1", "--ports", str(port), "--timeout", "30")
    run.wait_for("service(s):")
    time.sleep(1.0)  # the check has sent USER and is blocked in recv()
    run.proc.send_signal(signal.SIGINT)
    rc, after = run.wait_exit(timeout=25)
    assert rc == 3
    assert after < STOP_GRACE + 5, f"exited {after:.1f}s after SIGINT (the blocked read was 30 s)"
    doc = json.loads(out.read_text())
    validate(doc)
    found = [f for f in doc["findings"] if f["check_id"] == "cleartext_authentication"]
    assert len(found) == 1, found  # the late result of the abandoned thread is not added as well
    assert found[0]["status"] == "INCONCLUSIVE" and found[0]["reason_code"] == "interrupted"
    assert "still running" in found[0]["reason"]
    assert any("shut down" in n for n in doc["notes"])


def test_second_interrupt_exits_at_once(hostile: dict[str, HostileServer], tmp_path: Path) -> None:
    out = tmp_path / "ev.json"
    run = Running(out, "--target", "127.0.0.1", "--ports", _ports(hostile), "--timeout", "30")
    run.wait_for("scanning")
    time.sleep(0.5)
    run.proc.send_signal(signal.SIGINT)
    run.wait_for("interrupted; finishing up")
    run.proc.send_signal(signal.SIGINT)
    rc, after = run.wait_exit(timeout=10)
    assert rc == 3
    assert after < 2.0, f"second SIGINT took {after:.1f}s"
    assert any("second interrupt" in ln for ln in run.stderr)
    assert not out.exists() or json.loads(out.read_text())  # never half a file (written atomically)


def test_max_time_is_honoured_against_stalling_servers(hostile: dict[str, HostileServer], tmp_path: Path) -> None:
    out = tmp_path / "ev.json"
    r = run_probe(out, "--target", "127.0.0.1", "--ports", _ports(hostile), "--no-nmap", "--max-time", "4",
                  "--timeout", "30", timeout=60)
    assert r.returncode == 3, r.stderr
    assert r.elapsed < 4 + STOP_GRACE + 6, f"took {r.elapsed:.1f}s with --max-time 4"
    assert r.doc is not None
    validate(r.doc)
    assert r.doc["run"]["complete"] is False
    assert "--max-time 4s reached" in r.doc["run"]["incomplete_reasons"]
    assert {s["port"] for s in r.doc["services"]} == {hostile[n].port for n in STALLERS}
    assert any(f["reason_code"] == "interrupted" for f in r.doc["findings"])
    assert "INCOMPLETE" in r.stdout
