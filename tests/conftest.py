"""The suite's shared fixtures live in tests/helpers (registered here), not in conftest modules.

Parallel runs (pytest-xdist, `-n N` in scripts/test.sh) hand out whole modules, so a module's
shared fixture (a namespace gateway, a hostile scan) is built once, and every module under
tests/lab/ that uses the session's lab to one worker, so that lab is brought up once and the
ground-truth scans see it before any other lab test touches it. The lab modules that bring up
instances of their own (OWN_LAB) go to any worker, like every other module. Everything a test
creates is its own: loopback ports from the kernel, namespaces and lab instances on subnets
reserved per process (tests/helpers/netns.py).

With PROBE_TEST_NO_SKIPS=1 (set by .ci/run, which runs as root with the lab installed) a skipped
test fails instead: there, a skip means a missing package or a broken environment, never a reason
to leave a test out. A skip that is expected even there carries `@pytest.mark.may_skip(reason)`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Generator
from typing import Any

import pytest

pytest_plugins = ("tests.helpers.fixtures",)

if "PROBE_CACHE_DIR" not in os.environ:
    # every probe the suite runs (in-process or as a child) keeps its parsed-data cache
    # (probe/datacache.py) in a directory of this run's own, removed at its end, not in the user's
    # ~/.cache/probe; xdist workers inherit it from the controller
    _CACHE = tempfile.mkdtemp(prefix="probe-test-cache-")
    os.environ["PROBE_CACHE_DIR"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

NO_SKIPS = os.environ.get("PROBE_TEST_NO_SKIPS") == "1"
# lab modules that never touch the session's lab (tests/lab/conftest.py): their own instances
OWN_LAB = frozenset({"tests/lab/test_after_scan.py", "tests/lab/test_teardown.py"})
# the units that take longest (seconds of test time on 2 cores, 2026-12-02), started first
LONGEST_FIRST = ("tests/lab",  # ~200 s: the session lab, ground truth and device tests
                 "tests/lab/test_after_scan.py",  # ~140 s
                 "tests/auth/test_auth_checks.py",  # ~115 s
                 "tests/update/test_update_checks.py")  # ~55 s


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class ModulesLabTogether(LoadScopeScheduling):
        """Whole modules per worker, the session-lab modules as one unit, the longest units first.

        xdist orders units by their number of tests; a unit of few but slow tests that starts last
        is the suite's tail. Starting the known-long units first (LONGEST_FIRST, measured with
        `--durations=0`) keeps the wall time near the total divided by the workers.
        """

        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/lab" if path.startswith("tests/lab/") and path not in OWN_LAB else path

        def _assign_work_unit(self, node: Any) -> None:
            if not self._ordered:
                self._ordered = True
                rank = {scope: i for i, scope in enumerate(LONGEST_FIRST)}
                units = sorted(self.workqueue.items(), key=lambda kv: rank.get(kv[0], len(rank)))
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return ModulesLabTogether(config, log)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    if NO_SKIPS and report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker("may_skip") is None:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"unexpected skip (PROBE_TEST_NO_SKIPS=1): {reason}"
