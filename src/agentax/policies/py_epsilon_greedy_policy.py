"""`PyEpsilonGreedyPolicy`: a greedy policy's action, or a random one with probability epsilon."""

from __future__ import annotations

import jax
import numpy as np

from agentax.policies.py_policy import PyPolicy, outer_dims_of
from agentax.policies.random_py_policy import RandomPyPolicy
from agentax.trajectories.policy_step import PolicyStep


class PyEpsilonGreedyPolicy(PyPolicy):
    """With probability `epsilon` (per batch element) take `random_policy`'s action."""

    def __init__(self, greedy_policy: PyPolicy, epsilon: float, random_policy: PyPolicy | None = None,
                 seed: int | None = None):
        if not 0.0 <= epsilon <= 1.0:  # NaN fails this too
            raise ValueError(f"PyEpsilonGreedyPolicy: `epsilon` must be in [0, 1], got {epsilon}")
        if random_policy is not None and random_policy.action_spec != greedy_policy.action_spec:
            raise ValueError("PyEpsilonGreedyPolicy: `random_policy` acts in another action spec than the greedy "
                             f"policy:\n  random_policy.action_spec: {random_policy.action_spec}\n"
                             f"  greedy_policy.action_spec: {greedy_policy.action_spec}")
        super().__init__(greedy_policy.time_step_spec, greedy_policy.action_spec,
                         greedy_policy.policy_state_spec, greedy_policy.info_spec)
        self._greedy = greedy_policy
        self._epsilon = float(epsilon)
        self._rng = np.random.default_rng(seed)
        self._random = random_policy or RandomPyPolicy(
            greedy_policy.time_step_spec, greedy_policy.action_spec, seed=self._rng.integers(2**31))

    def _action(self, time_step, policy_state) -> PolicyStep:
        greedy_step = self._greedy.action(time_step, policy_state)
        random_step = self._random.action(time_step, ())
        explore = self._rng.random(outer_dims_of(time_step)) < self._epsilon

        def choose(random_action, greedy_action):  # both in the spec's dtype: nothing to cast
            mask = np.reshape(explore, np.shape(explore) + (1,) * (np.ndim(greedy_action) - np.ndim(explore)))
            return np.where(mask, random_action, greedy_action)

        action = jax.tree.map(choose, random_step.action, greedy_step.action)
        return PolicyStep(action, greedy_step.state, greedy_step.info)
