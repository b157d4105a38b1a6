"""The DQN family on CartPole-v1 (and Breakout-MinAtar), section by section, into benchmarks/results/dqn.json.

- `compiled`: agentax's compiled `default` DQN preset against Stable-Baselines3's DQN with the
  rl-baselines3-zoo CartPole-v1 hyperparameters, interleaved seed by seed: wall time (agentax's
  compilation separate and included) and environment steps until the greedy evaluation over 10
  episodes first reaches 475, evaluating every 2,560 environment steps on both sides, and the
  final evaluation. SB3 runs in its own venv (`.venv-bench`, `pip install -e '.[bench]'`).
- `ddqn`, `c51`: the same for Double DQN's and C51's `default` presets (agentax only).
- `vmapped`: `--num-seeds N` seeds in one program against the same seeds one by one.
- `python`: the Python path with the `zoo` preset, steps to 475 within its 50k steps (goal 100k).
- `tutorial`: `examples/dqn_tutorial.py` (TF-Agents' DQN tutorial ported by renames: CartPole-v0, 20k
  iterations of one env step and one gradient step, Reverb table, `PyDriver`) and `examples/c51_tutorial.py`
  (its C51 tutorial: CartPole-v1, 15k iterations, `UniformReplayBuffer`), each run whole in a subprocess:
  wall time and the printed average returns (the notebooks say their training cells take ~5 and ~7 minutes).
- `minatar`: a compiled DQN with a small convolution on gymnax's Breakout-MinAtar (no bar): the return reached.

Sections run (`--sections`) replace their keys in the results file; the others are kept.
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

from agentax.train.compiled_trainer import CompiledTrainer
from agentax.train.python_trainer import PythonTrainer
from agentax.train.run import agent_config_module
from common import machine

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


def preset(agent: str, name: str = "default", **changes):
    return dataclasses.replace(agent_config_module(agent).PRESETS[name], **changes)


def agentax_seed(seed: int, agent: str = "dqn", name: str = "default", trainer_class=CompiledTrainer) -> dict:
    config = preset(agent, name, seed=seed)
    trainer = trainer_class(config)
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
            "env_steps": int(trainer.env_steps_now()[0]), "final_eval": curve[-1],
            "curve_every_10_iterations": curve}


def summary(rows) -> dict:
    return {"seeds_reaching_475": sum(r["steps_to_475"] is not None for r in rows),
            "seeds_finishing_475": sum(r["final_eval"] >= TARGET for r in rows),
            "steps_to_475_median": median(rows, "steps_to_475"),
            "seconds_to_475_median": median(rows, "seconds_to_475"),
            "seconds_to_475_with_compile_median": median(rows, "seconds_to_475_with_compile")}


def vmapped(seeds, sequential: int | None = None) -> dict:
    """All seeds in one program, then the first `sequential` of them (default all) one by one
    (train seconds; compile separate)."""
    config = preset("dqn", seed=seeds[0])
    trainer = CompiledTrainer(config, num_seeds=len(seeds))
    trainer.initialize()
    start = time.perf_counter()
    trainer.run(config.iterations)
    seconds = time.perf_counter() - start
    together = {"compile_seconds": round(trainer.compile_seconds, 2), "train_seconds": round(seconds, 2),
                "final_evals": trainer.evaluate_now().tolist()}
    one_by_one = []
    for seed in seeds[:sequential]:
        single = CompiledTrainer(preset("dqn", seed=seed))
        single.initialize()
        start = time.perf_counter()
        single.run(config.iterations)
        one_by_one.append({"compile_seconds": round(single.compile_seconds, 2),
                           "train_seconds": round(time.perf_counter() - start, 2),
                           "final_eval": float(single.evaluate_now()[0])})
    one_seed = statistics.median(r["train_seconds"] for r in one_by_one)
    return {"seeds": list(seeds), "vmapped": together, "sequential": one_by_one,
            "sequential_train_seconds_total": round(sum(r["train_seconds"] for r in one_by_one), 2),
            "one_seed_train_seconds_median": one_seed,
            "vmapped_train_seconds_over_one_seed": round(seconds / one_seed, 2),
            "vmapped_with_compile_over_one_seed_with_compile": round(
                (seconds + trainer.compile_seconds)
                / statistics.median(r["train_seconds"] + r["compile_seconds"] for r in one_by_one), 2)}


def minatar(seed: int, iterations: int) -> dict:
    """Gymnax's Breakout-MinAtar has no Gymnasium twin, so this is the compiled trainer alone (no CLI run:
    runs are evaluated and rendered on Gymnasium)."""
    config = preset("dqn", seed=seed, env="Breakout-MinAtar", iterations=iterations, num_envs=16,
                    train_steps_per_iteration=64, initial_collect_steps=5000, conv_layer_params=((16, 3, 1),),
                    fc_layer_params=(128,), learning_rate=5e-4, epsilon_greedy=0.05, epsilon_decay_steps=10_000,
                    target_update_period=500, eval_interval=25)
    trainer = CompiledTrainer(config)
    trainer.initialize()
    curve, start = [], time.perf_counter()
    for _ in range(iterations // config.eval_interval):
        trainer.run(config.eval_interval)
        curve.append([int(trainer.env_steps_now()[0]), float(trainer.evaluate_now()[0])])
    seconds = time.perf_counter() - start
    return {"seed": seed, "compile_seconds": round(trainer.compile_seconds, 2), "seconds": round(seconds, 2),
            "env_steps": curve[-1][0], "env_steps_per_second": round(curve[-1][0] / seconds, 1),
            "final_eval": curve[-1][1], "best_eval": max(v for _, v in curve), "curve": curve}


def tutorial_port(name: str, iterations: int, reference: str) -> dict:
    """A ported tutorial (`examples/<name>.py`), whole, in a fresh process (import and compile included),
    in a scratch directory (its plot and videos are left there)."""
    import tempfile

    script = Path(__file__).resolve().parents[1] / "examples" / f"{name}.py"
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=1800, cwd=scratch)
        seconds = time.perf_counter() - start
    if out.returncode != 0:
        return {"error": out.stderr[-1000:]}
    returns = [[int(line.split(":")[0].split("= ")[1]), float(line.split("= ")[-1])]
               for line in out.stdout.splitlines() if line.startswith("step = ") and "Average Return" in line]
    return {"iterations": iterations, "wall_seconds": round(seconds, 1), "returns_every_1000": returns,
            "final_return": returns[-1][1], "reference": reference}


def sb3_seed(seed: int, python: str) -> dict:
    if python == "none":  # e.g. on a GPU machine without the bench venv
        return {"seed": seed, "skipped": "no Stable-Baselines3 python (--sb3-python none)"}
    out = subprocess.run([python, "-c", SB3_SCRIPT, str(seed), str(TARGET), "2560", "50000"], capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        return {"seed": seed, "error": out.stderr[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+",
                        default=["compiled", "ddqn", "c51", "vmapped", "python", "minatar", "tutorial"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--num-seeds", type=int, default=8, help="vmapped section: seeds in one program")
    parser.add_argument("--sequential-seeds", type=int, default=None,
                        help="vmapped section: how many of the seeds also run one by one (default all)")
    parser.add_argument("--minatar-iterations", type=int, default=400)
    parser.add_argument("--merge-runs", action="store_true",
                        help="compiled section: keep the results file's runs of other seeds (same preset), so the "
                             "seeds can run in several shorter invocations")
    parser.add_argument("--sb3-python", default=str(Path(__file__).resolve().parents[1] / ".venv-bench/bin/python"),
                        help="the python of a venv with Stable-Baselines3, or 'none' to run agentax alone")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "dqn.json"),
                        help="results file (sections run replace their keys in it)")
    args = parser.parse_args()
    path = Path(args.out)
    results = json.loads(path.read_text()) if path.exists() else {}
    results.update(machine=machine(), target=TARGET)
    if "compiled" in args.sections:
        rows = []
        for seed in args.seeds:  # interleaved, so machine drift hits both
            rows.append({"agentax": agentax_seed(seed), "sb3": sb3_seed(seed, args.sb3_python)})
            print(json.dumps(rows[-1]))
        if args.merge_runs:  # the seeds of an earlier invocation with the same config, not rerun now
            earlier = results.get("compiled", {})
            if earlier.get("config") == json.loads(json.dumps(dataclasses.asdict(preset("dqn")))):
                done = {r["agentax"]["seed"] for r in rows}
                rows = sorted([r for r in earlier["runs"] if r["agentax"]["seed"] not in done] + rows,
                              key=lambda r: r["agentax"]["seed"])
        ours, theirs = [r["agentax"] for r in rows], [r["sb3"] for r in rows]
        results["compiled"] = {"config": dataclasses.asdict(preset("dqn")), "runs": rows, "agentax": summary(ours),
                               "sb3": {"seeds_reaching_475": sum(r.get("steps_to_475") is not None for r in theirs),
                                       "steps_to_475_median": median(theirs, "steps_to_475"),
                                       "seconds_to_475_median": median(theirs, "seconds_to_475")}}
        sb3_time, ours_time = median(theirs, "seconds_to_475"), median(ours, "seconds_to_475_with_compile")
        if sb3_time and ours_time:
            results["speedup_vs_sb3_with_compile"] = round(sb3_time / ours_time, 2)
            results["speedup_vs_sb3_without_compile"] = round(sb3_time / median(ours, "seconds_to_475"), 2)
    for agent in ("ddqn", "c51"):
        if agent in args.sections:
            rows = [agentax_seed(seed, agent) for seed in args.seeds]
            results[agent] = {"runs": rows, **summary(rows)}
            print(agent, summary(rows))
    if "vmapped" in args.sections:
        results["vmapped"] = vmapped(list(range(args.num_seeds)), args.sequential_seeds)
        print({k: v for k, v in results["vmapped"].items() if k != "sequential"})
    if "python" in args.sections:
        rows = [agentax_seed(seed, "dqn", "zoo", PythonTrainer) for seed in args.seeds]
        results["python"] = {"preset": "zoo", "runs": rows, **summary(rows)}
        print("python", summary(rows))
    if "tutorial" in args.sections:
        results["tutorial_port"] = tutorial_port("dqn_tutorial", 20_000, "the notebook: its training cell takes "
                                                 "~5 minutes")
        results["c51_tutorial_port"] = tutorial_port("c51_tutorial", 15_000, "the notebook: its training cell "
                                                     "takes ~7 minutes")
        for key in ("tutorial_port", "c51_tutorial_port"):
            print(key, {k: v for k, v in results[key].items() if k != "returns_every_1000"})
    if "minatar" in args.sections:
        results["minatar"] = {"config": "see minatar() in this file", **minatar(args.seeds[0], args.minatar_iterations)}
        print({k: v for k, v in results["minatar"].items() if k != "curve"})
    for stale in ("runs", "config", "agentax_seeds_reaching_475", "agentax_seeds_finishing_475",
                  "sb3_seeds_reaching_475", "agentax_seconds_to_475_with_compile_median",
                  "agentax_seconds_to_475_median", "sb3_seconds_to_475_median", "sequential_train_seconds",
                  "speedup_vs_sb3"):
        results.pop(stale, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
