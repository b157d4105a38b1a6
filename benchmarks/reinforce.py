"""REINFORCE on CartPole-v0 on the agent frame, both trainers, several seeds, in one run:

(a) compiled trainer, CLI defaults, evaluated every 5 iterations: training seconds (no
    compilation, no evaluation) and iterations until the greedy policy averages >= 195,
    per seed, and compile seconds;
(b) the same `vmap`-ed over all seeds in one compiled program;
(c) the whole CLI job (`agentax train reinforce`: run directory, checkpoints, saved
    policies, plot, Gymnasium evaluation of the saved policy; video off): its summary's
    compile / train / wall seconds and final return, i.e. what the frame costs around (a);
(d) the Python path with the tutorial preset (PyDriver + PyJaxPolicy + Reverb table on
    Gymnasium, 2 episodes per iteration, Adam 1e-3), evaluated every 50 iterations as the
    tutorial; TF-Agents' own run of the tutorial took 89-198 s and reached 191.5.
Writes benchmarks/results/reinforce.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time

import numpy as np

from agentax.agents.reinforce.config import PRESETS
from agentax.train.compiled_trainer import CompiledTrainer
from agentax.train.python_trainer import PythonTrainer
from agentax.train.run import train_run
from common import machine, write_results

SOLVED = 195.0


def curve_of(trainer, iterations: int, every: int):
    """Train in chunks of `every` iterations; returns (eval curve [points, seeds], training seconds, the
    training seconds at which each seed first reached SOLVED)."""
    curve, seconds, reached = [trainer.evaluate_now()], 0.0, [None] * trainer.num_seeds
    for _ in range(iterations // every):
        start = time.perf_counter()
        trainer.run(every)
        seconds += time.perf_counter() - start
        curve.append(trainer.evaluate_now())
        for s, value in enumerate(curve[-1]):
            if reached[s] is None and value >= SOLVED:
                reached[s] = (round(seconds, 3), len(curve) - 1)
    return np.asarray(curve), seconds, reached


def compiled(seeds, every: int = 5) -> dict:
    runs = []
    for seed in seeds:
        config = dataclasses.replace(PRESETS["default"], seed=seed)
        trainer = CompiledTrainer(config)
        trainer.initialize()
        curve, seconds, reached = curve_of(trainer, config.iterations, every)
        hit = reached[0]
        runs.append({"seed": seed, "compile_s": round(trainer.compile_seconds, 2), "train_s": round(seconds, 3),
                     "train_seconds_to_195": hit and hit[0], "iteration_to_195": hit and hit[1] * every,
                     "final_eval": float(curve[-1, 0])})
        print(f"compiled seed {seed}: {runs[-1]}")
    reached = [r for r in runs if r["train_seconds_to_195"] is not None]
    return {"config": dataclasses.asdict(PRESETS["default"]), "eval_every_iterations": every, "runs": runs,
            "seeds_reaching_195": len(reached),
            "train_seconds_to_195_median": statistics.median(r["train_seconds_to_195"] for r in reached)
            if reached else None,
            "train_s_100_iterations_median": statistics.median(r["train_s"] for r in runs),
            "compile_s_median": statistics.median(r["compile_s"] for r in runs)}


def vmapped(seeds, every: int = 5) -> dict:
    trainer = CompiledTrainer(PRESETS["default"], num_seeds=len(seeds))
    trainer.initialize()
    curve, seconds, reached = curve_of(trainer, PRESETS["default"].iterations, every)
    return {"seeds": [PRESETS["default"].seed + i for i in range(len(seeds))],
            "compile_s": round(trainer.compile_seconds, 2), "train_s_all_seeds": round(seconds, 3),
            "seeds_reaching_195": sum(r is not None for r in reached),
            "curves_every_5_iterations": np.round(curve.T, 1).tolist()}


def cli_job() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = dataclasses.replace(PRESETS["default"], video_episodes=0)
        summary = train_run(config, f"{tmp}/run", progress=False, echo=lambda *a: None)
    return {key: summary[key] for key in ("compile_seconds", "train_seconds", "wall_seconds", "final_eval_return",
                                          "best_eval_return", "env_steps")}


def python_path(seeds, iterations: int, every: int = 50) -> dict:
    runs = []
    for seed in list(seeds) + [seeds[0]]:  # the first seed twice: the same curve?
        config = dataclasses.replace(PRESETS["tutorial"], seed=seed, iterations=iterations)
        trainer = PythonTrainer(config)
        trainer.initialize()
        start = time.perf_counter()
        curve, _, reached = curve_of(trainer, iterations, every)
        wall = time.perf_counter() - start
        runs.append({"seed": seed, "wall_s": round(wall, 1), "s_per_iteration": round(wall / iterations, 4),
                     "eval_curve": [round(float(c), 1) for c in curve[:, 0]],
                     "iteration_to_195": reached[0] and reached[0][1] * every})
        print(f"python seed {seed}: {runs[-1]}")
    repeat = runs.pop()
    return {"runs": runs, "wall_s_median": statistics.median(r["wall_s"] for r in runs),
            "final_eval_median": statistics.median(r["eval_curve"][-1] for r in runs),
            "seeds_reaching_195": sum(r["iteration_to_195"] is not None for r in runs),
            "same_seed_same_curve": repeat["eval_curve"] == runs[0]["eval_curve"],
            "reference_tf_agents": "89-198 s wall, 191.5 at iteration 250 (the tutorial's printed run)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--python-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--python-iterations", type=int, default=250)
    parser.add_argument("--skip-python", action="store_true")
    args = parser.parse_args()
    results = {"machine": machine()}
    results["compiled"] = compiled(args.seeds)
    results["compiled_vmap_over_seeds"] = vmapped(args.seeds)
    results["cli_job"] = cli_job()
    print("cli", results["cli_job"])
    if not args.skip_python:
        results["python_path"] = python_path(args.python_seeds, args.python_iterations)
    for section in ("compiled", "python_path"):
        if section in results:
            print(section, {k: v for k, v in results[section].items() if k not in ("runs", "config")})
    write_results("reinforce.json", results)


if __name__ == "__main__":
    main()
