"""Evaluation: the average return of a policy over whole episodes."""

from __future__ import annotations

import numpy as np

from agentax.environments.py_environment import PyEnvironment
from agentax.policies.py_policy import PyPolicy


def compute_avg_return(environment: PyEnvironment, policy: PyPolicy, num_episodes: int = 10) -> float:
    """Average undiscounted return of `policy` over `num_episodes` episodes, as in the tutorial."""
    if num_episodes < 1:
        raise ValueError(f"compute_avg_return: `num_episodes` must be >= 1, got {num_episodes}")
    total_return = 0.0
    for _ in range(num_episodes):
        time_step = environment.reset()
        policy_state = policy.get_initial_state(environment.batch_size)
        episode_return = 0.0
        while not np.all(time_step.is_last()):
            action_step = policy.action(time_step, policy_state)
            policy_state = action_step.state
            time_step = environment.step(action_step.action)
            episode_return += float(np.sum(time_step.reward))
        total_return += episode_return
    return total_return / num_episodes
