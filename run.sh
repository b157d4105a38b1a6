#!/usr/bin/env bash
# The main job: train REINFORCE on CartPole-v0 (`agentax train reinforce`), then
# evaluate, plot and render it into runs/. Extra arguments go to the command,
# e.g. ./run.sh --preset tutorial. Sets up .venv on first use.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/ensure_venv.sh"
cd "$root"
exec "$root/.venv/bin/agentax" train reinforce "$@"
