#!/usr/bin/env bash
# The test command (README and .ci/run): the whole suite, real daemons included. -rs lists every
# skipped test with its reason; .ci/run sets PROBE_TEST_NO_SKIPS=1 so that a skip fails there.
# Most of the suite waits on daemons and timeouts, not on the CPU: PROBE_TEST_WORKERS (default 4)
# processes share it, a whole module each, every test of the shared lab in one, the longest first (tests/conftest.py); 1 runs serially.
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${PROBE_TEST_WORKERS:-4}"
if [ "$workers" -gt 1 ]; then
  exec python3 -m pytest -q -p no:cacheprovider -p no:benchmark -rs -n "$workers" "$@"
fi
exec python3 -m pytest -q -p no:cacheprovider -p no:benchmark -rs "$@"
