"""REINFORCE on CartPole-v0, 5 seeds, both trainers, in one run:

(a) the tutorial preset on the Python path (PyDriver + PyJaxPolicy + Gymnasium
    CartPole-v0, 250 iterations, 2 episodes each, Adam 1e-3): wall time, time per
    iteration, eval curve, first wall time with eval average >= 195; seed 0 twice
    to check the curve repeats;
(b) the compiled trainer with the CLI's default settings, evaluated every 5
    iterations: seconds to eval >= 195 with and without compilation (cold: every
    seed compiles afresh, no persistent cache), then the final policy evaluated on
    Gymnasium's CartPole-v0;
(c) the same compiled training `vmap`-ed over the 5 seeds at once.
Writes benchmarks/results/reinforce.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np

from agentax.environments import suite_gym
from agentax.policies.py_jax_policy import PyJaxPolicy
from agentax.training.evaluation import compute_avg_return
from agentax.training.reinforce import PRESETS, CompiledTrainer, train_many_seeds, train_python
from common import machine, write_results

SOLVED = 195.0


def first_time_at(rows, threshold: float, key: str = "wall_s"):
    """When evaluation first reached `threshold` after training began (iteration 0 is not learning)."""
    for row in rows:
        if row["iteration"] > 0 and row.get("eval_return", -1) >= threshold:
            return row.get(key), row["iteration"]
    return None, None


def python_path(seeds, iterations: int) -> dict:
    runs = []
    for seed in list(seeds) + [seeds[0]]:  # seed 0 twice: the same curve?
        config = dataclasses.replace(PRESETS["tutorial"], seed=seed, iterations=iterations)
        start = time.perf_counter()
        _, history = train_python(config)
        wall = time.perf_counter() - start
        seconds, iteration = first_time_at(history.rows, SOLVED)
        runs.append({"seed": seed, "wall_s": round(wall, 2), "s_per_iteration": round(wall / iterations, 4),
                     "eval_iterations": history.eval_iterations,
                     "eval_curve": [round(r, 1) for r in history.eval_returns],
                     "seconds_to_195": None if seconds is None else round(seconds, 2), "iteration_to_195": iteration})
        print(f"python seed {seed}: {wall:.1f}s, curve {runs[-1]['eval_curve']}")
    repeat, first = runs.pop(), runs[0]
    finals = [r["eval_curve"][-1] for r in runs]
    return {"runs": runs, "wall_s_median": statistics.median(r["wall_s"] for r in runs),
            "s_per_iteration_median": statistics.median(r["s_per_iteration"] for r in runs),
            "final_eval_median": statistics.median(finals),
            "best_eval_median": statistics.median(max(r["eval_curve"]) for r in runs),
            "seeds_reaching_195": sum(r["iteration_to_195"] is not None for r in runs),
            "same_seed_same_curve": repeat["eval_curve"] == first["eval_curve"],
            "reference_tf_agents_wall_s": "89-198 (from the issue, same class of machine)"}


def compiled(seeds) -> dict:
    runs = []
    gym_env = suite_gym.load("CartPole-v0")
    for seed in seeds:
        config = dataclasses.replace(PRESETS["default"], seed=seed)
        trainer = CompiledTrainer(config)
        start = time.perf_counter()
        agent, history = trainer.train(eval_interval=5)
        wall = time.perf_counter() - start
        seconds, iteration = first_time_at(history.rows, SOLVED)
        gym_env.seed(seed)
        policy = PyJaxPolicy(agent.policy, action_spec=gym_env.action_spec())
        final_gym = compute_avg_return(gym_env, policy, 10)
        runs.append({"seed": seed, "wall_s": round(wall, 2), "compile_s": round(history.compile_seconds, 2),
                     "seconds_to_195": None if seconds is None else round(seconds, 2),
                     "train_seconds_to_195": None if seconds is None else round(seconds - history.compile_seconds, 3),
                     "iteration_to_195": iteration, "final_eval_jax": round(history.eval_returns[-1], 1),
                     "final_eval_gymnasium": round(final_gym, 1),
                     "s_per_iteration": round((wall - history.compile_seconds) / config.iterations, 4)})
        print(f"compiled seed {seed}: {runs[-1]}")
    reached = [r for r in runs if r["seconds_to_195"] is not None]
    return {"config": dataclasses.asdict(PRESETS["default"]), "eval_every_iterations": 5, "runs": runs,
            "seeds_reaching_195": len(reached),
            "seconds_to_195_median": statistics.median(r["seconds_to_195"] for r in reached) if reached else None,
            "train_seconds_to_195_median": (statistics.median(r["train_seconds_to_195"] for r in reached)
                                            if reached else None),
            "compile_s_median": statistics.median(r["compile_s"] for r in runs),
            "final_eval_gymnasium_median": statistics.median(r["final_eval_gymnasium"] for r in runs),
            "seeds_final_gymnasium_at_least_195": sum(r["final_eval_gymnasium"] >= SOLVED for r in runs)}


def vmapped(seeds) -> dict:
    config = dataclasses.replace(PRESETS["default"], eval_interval=5)
    start = time.perf_counter()
    curves = train_many_seeds(config, seeds)
    wall = time.perf_counter() - start
    return {"wall_s_with_compile": round(wall, 2), "seeds": list(seeds),
            "curves_every_5_iterations": np.round(curves, 1).tolist(),
            "seeds_reaching_195": int((curves >= SOLVED).any(axis=1).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--python-iterations", type=int, default=250)
    parser.add_argument("--skip-python", action="store_true")
    args = parser.parse_args()
    results = {"machine": machine(), "targets": {
        "python_path": "wall_s_median <= 30; >= 4 of 5 seeds reach 195 by iteration 250; same seed same curve",
        "compiled": "5 of 5 seeds reach 195; <= 2 s training after compile; <= 8 s wall with it"}}
    results["compiled"] = compiled(args.seeds)
    results["compiled_vmap_over_seeds"] = vmapped(args.seeds)
    if not args.skip_python:
        results["python_path"] = python_path(args.seeds, args.python_iterations)
    for section in ("python_path", "compiled"):
        if section in results:
            summary = {k: v for k, v in results[section].items() if k not in ("runs", "config")}
            print(section, summary)
    write_results("reinforce.json", results)


if __name__ == "__main__":
    main()
