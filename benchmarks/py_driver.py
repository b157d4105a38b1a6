"""Steps per second on CartPole-v0 with random actions, side by side in one run:

(a) a raw Gymnasium loop, (b) the `suite_gym` environment stepped directly,
(c) `PyDriver` + `RandomPyPolicy` with observers `[list.append, AverageReturnMetric()]`.
Writes benchmarks/results/py_driver.json.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

from agentax.drivers import PyDriver
from agentax.environments import suite_gym
from agentax.metrics import py_metrics
from agentax.policies import RandomPyPolicy
from common import best_rate, machine, write_results


def raw_gym(steps: int) -> None:
    env = gym.make("CartPole-v1", max_episode_steps=200)  # CartPole-v0's dynamics and limit
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()


def suite_env(steps: int) -> None:
    env = suite_gym.load("CartPole-v0")
    env.reset()
    actions = np.random.default_rng(0).integers(0, 2, size=steps, dtype=np.int64)
    for i in range(steps):
        env.step(actions[i])


def driver(steps: int) -> None:
    env = suite_gym.load("CartPole-v0")
    policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    replay_buffer: list = []
    PyDriver(env, policy, [replay_buffer.append, py_metrics.AverageReturnMetric()],
             max_steps=steps).run(env.reset())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    n = args.steps
    raw = best_rate(lambda: raw_gym(n), n)
    env = best_rate(lambda: suite_env(n), n)
    drv = best_rate(lambda: driver(n), n)
    results = {"machine": machine(), "steps": n, "raw_steps_per_s": round(raw), "env_steps_per_s": round(env),
               "driver_steps_per_s": round(drv), "env_vs_raw": round(env / raw, 3),
               "driver_vs_raw": round(drv / raw, 3), "target_driver_vs_raw": 0.5}
    for key in ("raw_steps_per_s", "env_steps_per_s", "driver_steps_per_s", "driver_vs_raw"):
        print(f"{key:>20}: {results[key]}")
    write_results("py_driver.json", results)


if __name__ == "__main__":
    main()
