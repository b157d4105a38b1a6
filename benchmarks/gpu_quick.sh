#!/usr/bin/env bash
# Quick runs of the compiled benchmarks on a GPU machine whose image has JAX, flax, optax and orbax
# but not the rest: agentax runs from src/ (no install) and the missing pure-Python packages come as
# wheels in .whl/ (gymnasium, gymnax, tyro, tensorboardX and their small dependencies). Results go
# to $OUT (default /tmp/agentax-gpu).
set -u
OUT="${OUT:-/tmp/agentax-gpu}"
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src:$PWD/benchmarks:${PYTHONPATH:-}" PYTHONUNBUFFERED=1 AGENTAX_CACHE_DIR=
nvidia-smi -L
python3 -c "import jax; print(jax.__version__, jax.devices())"
timeout "${PPO_LIMIT:-180}" python3 benchmarks/ppo.py --quick --skip default,pendulum --out "$OUT/ppo_gpu.json"
timeout "${DQN_LIMIT:-150}" python3 benchmarks/dqn.py --sections vmapped minatar --num-seeds 8 --sequential-seeds 1 \
  --minatar-iterations 200 --out "$OUT/dqn_gpu.json"
timeout "${SAC_LIMIT:-100}" python3 benchmarks/continuous.py --quick --sections compiled --vmap --out "$OUT/continuous_gpu.json"
ls -la "$OUT"
