#!/usr/bin/env bash
# The test command (README and .ci/run): the whole suite, real daemons included. -rs lists every
# skipped test with its reason; .ci/run sets PROBE_TEST_NO_SKIPS=1 so that a skip fails there.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 -m pytest -q -p no:cacheprovider -rs "$@"
