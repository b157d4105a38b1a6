"""Evaluation: a driver plus `AverageReturnMetric`, with a cap on steps, on both paths."""

from __future__ import annotations

from agentax.environments.py_environment import PyEnvironment
from agentax.policies.py_policy import PyPolicy


def compute_avg_return(environment: PyEnvironment, policy: PyPolicy, num_episodes: int = 10,
                       max_steps: int | None = None) -> float:
    """Average undiscounted return of `policy` over `num_episodes` finished episodes.

    A `PyDriver` runs from `environment.reset()` until `num_episodes` episodes end (summed
    over a batched env's rows; each row's episodes are its own) or `max_steps` steps pass;
    `AverageReturnMetric(buffer_size=num_episodes)` averages the episodes that finished
    (0.0 if none did within `max_steps`).
    """
    from agentax.drivers.py_driver import PyDriver
    from agentax.metrics.py_metrics import AverageReturnMetric

    if not isinstance(num_episodes, int) or num_episodes < 1:
        raise ValueError(f"compute_avg_return: `num_episodes` must be an integer >= 1, got {num_episodes!r}")
    metric = AverageReturnMetric(buffer_size=num_episodes)
    driver = PyDriver(environment, policy, [metric], max_episodes=num_episodes, max_steps=max_steps)
    driver.run(environment.reset(), policy.get_initial_state(environment.batch_size))
    return float(metric.result())


def compiled_avg_return(env, policy, params, key, num_episodes: int, maximum_iterations: int):
    """Pure: the average return of `policy` (with `params`) over `num_episodes` episodes of the
    batched JAX `env` (one env per episode), as a `DynamicEpisodeDriver` with
    `AverageReturnMetric(buffer_size=num_episodes)`; at most `maximum_iterations` steps."""
    from agentax.drivers.dynamic_episode_driver import DynamicEpisodeDriver
    from agentax.metrics.jax_metrics import AverageReturnMetric

    metric = AverageReturnMetric(buffer_size=num_episodes)
    driver = DynamicEpisodeDriver(env, policy, [metric], num_episodes=num_episodes)
    state = driver.run_pure(params, driver.initial_state(key), num_episodes, maximum_iterations)
    return metric.result(state.observer_states[0])
