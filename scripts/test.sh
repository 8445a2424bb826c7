#!/usr/bin/env bash
# The test command (README and .ci/run): the whole suite, real daemons included.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 -m pytest -q -p no:cacheprovider "$@"
