#!/usr/bin/env bash
# The main job: the drivers tutorial (sets up .venv on first use).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/ensure_venv.sh"
exec "$root/.venv/bin/python" "$root/examples/drivers_tutorial.py" "$@"
