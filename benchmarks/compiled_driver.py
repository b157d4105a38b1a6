"""Transitions per second on JAX CartPole with a random policy, side by side in one run:

(a) a hand-written `jit(lax.scan)` over the same vmapped environment and policy,
(b) `DynamicStepDriver` with `NumberOfEpisodes` and `EnvironmentSteps` observers,
(c) the same driver over `JaxPyEnvironment(suite_gym CartPole-v0)` at batch 1.
Compile times are reported separately. Writes benchmarks/results/compiled_driver.json.
"""

from __future__ import annotations

import argparse
import time

import jax

from agentax.drivers import DynamicStepDriver
from agentax.environments import suite_gym, suite_jax
from agentax.environments.jax_py_environment import JaxPyEnvironment
from agentax.metrics import jax_metrics
from agentax.policies.random_jax_policy import RandomJaxPolicy
from common import machine, write_results


def _seconds(fn) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def timed(*fns, repeats: int = 12) -> tuple[list[tuple[float, float]], list[list[float]]]:
    """For each fn: (seconds of its first call, best seconds of later calls), and
    every later call's seconds.

    Later calls are interleaved across fns, so background load on this small,
    shared machine (its speed drifts by +-20% from minute to minute) hits them alike.
    """
    firsts = [_seconds(fn) for fn in fns]
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            samples[i].append(_seconds(fn))
    return [(first, min(times)) for first, times in zip(firsts, samples)], samples


def scan_baseline(env, policy, iterations: int):
    @jax.jit
    def run(key):
        reset_key, key = jax.random.split(key)
        env_state, time_step = env.reset(reset_key)

        def body(carry, _):
            env_state, time_step, key = carry
            key, policy_key = jax.random.split(key)
            action = policy.action(None, time_step, (), policy_key).action
            env_state, time_step = env.step(env_state, action)
            return (env_state, time_step, key), None

        (env_state, time_step, _), _ = jax.lax.scan(body, (env_state, time_step, key), None, length=iterations)
        return time_step.observation

    return lambda: run(jax.random.PRNGKey(0))


def driver_run(env, policy, iterations: int, batch: int):
    metrics = [jax_metrics.NumberOfEpisodes(), jax_metrics.EnvironmentSteps()]
    driver = DynamicStepDriver(env, policy, metrics, num_steps=iterations * batch)
    driver.env.reset()
    # Boundaries do not count as steps, so the step limit is never reached first:
    # every run is exactly `iterations` loop iterations, as in the scan.
    return lambda: driver.run(maximum_iterations=iterations)[0].observation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256, 4096])
    parser.add_argument("--transitions", type=int, default=2_000_000, help="per measurement, at large batch")
    parser.add_argument("--py-steps", type=int, default=5_000)
    args = parser.parse_args()
    results = {"machine": machine(), "batch": {}, "target_driver_vs_scan_at_4096": 0.8}
    for batch in args.batches:
        iterations = max(2_000, args.transitions // batch) if batch > 1 else 50_000
        env = suite_jax.load("CartPole-v0", batch_size=batch)
        policy = RandomJaxPolicy(env.time_step_spec(), env.action_spec())
        [(scan_first, scan_best), (drv_first, drv_best)], (scan_s, drv_s) = timed(
            scan_baseline(env, policy, iterations), driver_run(env, policy, iterations, batch))
        paired = sorted(a / b for a, b in zip(scan_s, drv_s))  # back-to-back pairs
        n = iterations * batch
        row = {"iterations": iterations, "transitions": n,
               "scan_steps_per_s": round(n / scan_best), "driver_steps_per_s": round(n / drv_best),
               "driver_vs_scan": round(scan_best / drv_best, 3),
               "driver_vs_scan_paired_median": round(paired[len(paired) // 2], 3),
               "scan_compile_s": round(scan_first - scan_best, 3), "driver_compile_s": round(drv_first - drv_best, 3)}
        results["batch"][str(batch)] = row
        print(f"batch {batch:>5}: scan {row['scan_steps_per_s']:>12,}/s  driver {row['driver_steps_per_s']:>12,}/s  "
              f"ratio {row['driver_vs_scan']:.3f} (paired median {row['driver_vs_scan_paired_median']:.3f})  (compile scan {row['scan_compile_s']}s, "
              f"driver {row['driver_compile_s']}s)")
    py_env = JaxPyEnvironment(suite_gym.load("CartPole-v0"))
    policy = RandomJaxPolicy(py_env.time_step_spec(), py_env.action_spec())
    [(first, best)], _ = timed(driver_run(py_env, policy, args.py_steps, 1), repeats=2)
    results["jax_py_environment_batch1"] = {"transitions": args.py_steps,
                                            "driver_steps_per_s": round(args.py_steps / best),
                                            "driver_compile_s": round(first - best, 3)}
    print(f"JaxPyEnvironment(suite_gym CartPole-v0), batch 1: {round(args.py_steps / best):,}/s")
    write_results("compiled_driver.json", results)


if __name__ == "__main__":
    main()
