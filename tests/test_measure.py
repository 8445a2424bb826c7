"""probe.lab.measure: the memory figure the hostile tests and the bench rest on is the child's own.

Real processes, no mocks: the parent here deliberately grows far beyond the child, which is the
situation that made a wait4()-based figure report pytest's size instead of probe's.
"""

from __future__ import annotations

import sys

from probe.lab.measure import run_measured

BIG = 200 * 1024 * 1024


def _touch(buf: bytearray) -> None:
    for i in range(0, len(buf), 4096):
        buf[i] = 1


def test_a_small_child_of_a_big_parent_reports_its_own_size() -> None:
    ballast = bytearray(BIG)
    _touch(ballast)
    m = run_measured(["true"], 10)
    assert m.returncode == 0 and not m.timed_out
    assert 0 < m.peak_rss_kb < 20 * 1024, m  # `true` is about a megabyte; the parent is 200 MB
    del ballast


def test_a_child_that_grows_is_measured_at_its_peak() -> None:
    grow = f"b = bytearray({80 * 1024 * 1024})\nfor i in range(0, len(b), 4096): b[i] = 1\nraise SystemExit(3)"
    m = run_measured([sys.executable, "-c", grow], 30)
    assert m.returncode == 3
    assert 80 * 1024 < m.peak_rss_kb < 160 * 1024, m
    assert m.cpu > 0


def test_a_command_that_outlives_its_timeout_is_killed_and_says_so() -> None:
    m = run_measured(["sleep", "30"], 0.5)
    assert m.timed_out and m.wall < 10
