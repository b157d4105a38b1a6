"""Steps per second on CartPole-v0 with uniformly random actions, side by side:

(a) the raw Gymnasium loop, (b) the `suite_gym` environment stepped directly,
(c) `PyDriver` + `RandomPyPolicy` with observers `[list.append, AverageReturnMetric()]`.

Every loop does the same work for its actions: it draws them from a seeded NumPy
generator in blocks inside the timed region (as `RandomPyPolicy` does), never
through `action_space.sample()` (which costs the raw loop about 30% of its time).
The variants run interleaved, `--rounds` times; rates are medians over rounds and
the ratio is the median of each round's driver/raw ratio. Writes
benchmarks/results/py_driver.json.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np

from agentax.drivers import PyDriver
from agentax.environments import suite_gym
from agentax.metrics import py_metrics
from agentax.policies import RandomPyPolicy
from common import machine, write_results


def draw_actions(steps: int, dtype=np.int64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 2, size=steps, dtype=dtype)


def raw_gym(steps: int) -> None:
    env = gym.make("CartPole-v1", max_episode_steps=200)  # CartPole-v0's dynamics and limit
    env.reset(seed=0)
    for action in draw_actions(steps).tolist():  # Python ints: Gymnasium's cheapest action
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()


def suite_env(steps: int) -> None:
    env = suite_gym.load("CartPole-v0")
    env.reset()
    for action in draw_actions(steps):
        env.step(action)


def driver(steps: int) -> None:
    env = suite_gym.load("CartPole-v0")
    policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    replay_buffer: list = []
    PyDriver(env, policy, [replay_buffer.append, py_metrics.AverageReturnMetric()],
             max_steps=steps).run(env.reset())


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    n = args.steps
    variants = {"raw": raw_gym, "env": suite_env, "driver": driver}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            times[name].append(seconds(lambda: fn(n)))
    rate = {name: round(n / statistics.median(t)) for name, t in times.items()}
    ratios = {name: round(statistics.median(r / t for r, t in zip(times["raw"], times[name])), 3)
              for name in ("env", "driver")}
    results = {"machine": machine(), "steps": n, "rounds": args.rounds,
               "actions": "pre-drawn in blocks from a seeded NumPy generator, inside the timed region, every loop",
               "raw_steps_per_s": rate["raw"], "env_steps_per_s": rate["env"], "driver_steps_per_s": rate["driver"],
               "env_vs_raw": ratios["env"], "driver_vs_raw": ratios["driver"], "target_driver_vs_raw": 0.6}
    for key in ("raw_steps_per_s", "env_steps_per_s", "driver_steps_per_s", "env_vs_raw", "driver_vs_raw"):
        print(f"{key:>20}: {results[key]}")
    write_results("py_driver.json", results)


if __name__ == "__main__":
    main()
