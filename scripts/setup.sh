#!/usr/bin/env bash
# One-time set-up on a fresh Debian 12 machine: the lab's daemons and tools (root), then probe
# itself with its test dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e ".[test]"
echo "setup: ok"
