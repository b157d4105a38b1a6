"""DQN on CartPole-v1: agentax's compiled `default` preset against Stable-Baselines3's DQN with the
rl-baselines3-zoo CartPole-v1 hyperparameters, in one run, seed by seed.

For each: wall time (compilation separate for agentax) and environment steps until the greedy
evaluation over 10 episodes first reaches 475, evaluating every 2,560 environment steps on both
sides (agentax: every 10 iterations of 256 steps; SB3: every 10 rollouts of `train_freq` 256), and
the final evaluation. SB3 runs in its own venv (`.venv-bench`, `pip install -e '.[bench]'`) as a
subprocess. Also `--num-seeds` vmapped against the same seeds one by one. Writes
benchmarks/results/dqn.json. Not yet measured: the Python path (zoo preset) and Breakout-MinAtar.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from agentax.agents.dqn.config import PRESETS
from agentax.train.compiled_trainer import CompiledTrainer
from common import machine, write_results

TARGET = 475.0
EVERY = 10  # iterations between evaluations (2,560 env steps)

SB3_SCRIPT = r"""
import json, sys, time
import gymnasium as gym
import numpy as np
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy

seed, target, every, total = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
eval_env = gym.make("CartPole-v1")

class Until(BaseCallback):
    def __init__(self):
        super().__init__()
        self.start, self.hit, self.evals, self.eval_seconds = time.perf_counter(), None, [], 0.0
    def _on_step(self):
        if self.num_timesteps % every == 0:
            t = time.perf_counter()
            mean, _ = evaluate_policy(self.model, eval_env, n_eval_episodes=10, deterministic=True)
            self.eval_seconds += time.perf_counter() - t
            self.evals.append([self.num_timesteps, float(mean)])
            if self.hit is None and mean >= target:
                self.hit = [self.num_timesteps, time.perf_counter() - self.start - self.eval_seconds]
        return True

model = DQN("MlpPolicy", "CartPole-v1", learning_rate=2.3e-3, batch_size=64, buffer_size=100000,
            learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
            exploration_fraction=0.16, exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]),
            seed=seed, device="cpu")
callback = Until()
start = time.perf_counter()
model.learn(total_timesteps=total, callback=callback)
wall = time.perf_counter() - start - callback.eval_seconds
print(json.dumps({"seed": seed, "steps_to_475": callback.hit and callback.hit[0],
                  "seconds_to_475": callback.hit and round(callback.hit[1], 2), "train_seconds": round(wall, 2),
                  "final_eval": callback.evals[-1][1] if callback.evals else None}))
"""


def agentax_seed(seed: int) -> dict:
    config = dataclasses.replace(PRESETS["default"], seed=seed)
    trainer = CompiledTrainer(config)
    trainer.initialize()
    seconds, hit, curve = 0.0, None, []
    for i in range(config.iterations // EVERY):
        start = time.perf_counter()
        trainer.run(EVERY)
        seconds += time.perf_counter() - start
        value = float(trainer.evaluate_now()[0])
        curve.append(value)
        if hit is None and value >= TARGET:
            hit = (int(trainer.env_steps_now()[0]), round(seconds, 2))
    return {"seed": seed, "compile_seconds": round(trainer.compile_seconds, 2), "train_seconds": round(seconds, 2),
            "steps_to_475": hit and hit[0], "seconds_to_475": hit and hit[1],
            "seconds_to_475_with_compile": hit and round(hit[1] + trainer.compile_seconds, 2),
            "final_eval": curve[-1], "curve_every_2560_steps": curve}


def vmapped(seeds) -> dict:
    config = dataclasses.replace(PRESETS["default"], seed=seeds[0])
    trainer = CompiledTrainer(config, num_seeds=len(seeds))
    trainer.initialize()
    start = time.perf_counter()
    trainer.run(config.iterations)
    seconds = time.perf_counter() - start
    return {"seeds": [seeds[0] + i for i in range(len(seeds))], "compile_seconds": round(trainer.compile_seconds, 2),
            "train_seconds_all_seeds": round(seconds, 2), "final_evals": trainer.evaluate_now().tolist()}


def sb3_seed(seed: int, python: str) -> dict:
    out = subprocess.run([python, "-c", SB3_SCRIPT, str(seed), str(TARGET), "2560", "50000"], capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        return {"seed": seed, "error": out.stderr[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--sb3-python", default=str(Path(__file__).resolve().parents[1] / ".venv-bench/bin/python"))
    args = parser.parse_args()
    results = {"machine": machine(), "target": TARGET, "config": dataclasses.asdict(PRESETS["default"])}
    rows = []
    for seed in args.seeds:  # interleaved, so machine drift hits both
        rows.append({"agentax": agentax_seed(seed), "sb3": sb3_seed(seed, args.sb3_python)})
        print(json.dumps(rows[-1]))
    ours, theirs = [r["agentax"] for r in rows], [r["sb3"] for r in rows]
    results["runs"] = rows
    results["agentax_seeds_reaching_475"] = sum(r["steps_to_475"] is not None for r in ours)
    results["agentax_seeds_finishing_475"] = sum(r["final_eval"] >= TARGET for r in ours)
    results["sb3_seeds_reaching_475"] = sum(r.get("steps_to_475") is not None for r in theirs)
    results["agentax_seconds_to_475_with_compile_median"] = median(ours, "seconds_to_475_with_compile")
    results["agentax_seconds_to_475_median"] = median(ours, "seconds_to_475")
    results["sb3_seconds_to_475_median"] = median(theirs, "seconds_to_475")
    if results["sb3_seconds_to_475_median"] and results["agentax_seconds_to_475_with_compile_median"]:
        results["speedup_vs_sb3_with_compile"] = round(results["sb3_seconds_to_475_median"]
                                                       / results["agentax_seconds_to_475_with_compile_median"], 2)
    results["vmapped"] = vmapped(args.seeds)
    results["sequential_train_seconds"] = round(sum(r["train_seconds"] for r in ours), 2)
    print({k: v for k, v in results.items() if k not in ("runs", "config", "machine")})
    write_results("dqn.json", results)


if __name__ == "__main__":
    sys.exit(main())
