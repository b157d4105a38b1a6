#!/usr/bin/env bash
# Runs the whole test suite (sets up .venv on first use) in AGENTAX_TEST_WORKERS pytest-xdist workers
# (default 2; 0 runs in this process). Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/ensure_venv.sh"
cd "$root"
# loadgroup: the tests marked xdist_group("ray") share one worker, so one Ray cluster runs at a time
exec "$root/.venv/bin/python" -m pytest -n "${AGENTAX_TEST_WORKERS:-2}" --dist loadgroup "$@"
