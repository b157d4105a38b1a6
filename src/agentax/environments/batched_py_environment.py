"""`BatchedPyEnvironment`: several `PyEnvironment`s stepped as one batch, in process."""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np

from agentax.environments.py_environment import PyEnvironment
from agentax.trajectories import time_step as ts


def stack_nests(nests: Sequence):
    """Stack a list of identical nests along a new leading axis."""
    return jax.tree.map(lambda *xs: np.stack(xs), *nests)


def unstack_nest(nest, size: int) -> list:
    """Split a nest with a leading axis of `size` into `size` nests."""
    return [jax.tree.map(lambda x, i=i: x[i], nest) for i in range(size)]


class BatchedPyEnvironment(PyEnvironment):
    """Steps `envs` (unbatched, identical specs) together; each one auto-resets itself.

    Actions and time steps carry a leading batch dimension of `len(envs)`.
    """

    _handles_auto_reset = True

    def __init__(self, envs: Sequence[PyEnvironment], validate_actions: bool = True):
        super().__init__(validate_actions)
        if not envs:
            raise ValueError("BatchedPyEnvironment: `envs` must hold at least one environment, got none")
        if any(env.batched for env in envs):
            raise ValueError("BatchedPyEnvironment: every env in `envs` must be unbatched")
        self._envs = list(envs)
        self._check_same_specs()

    def _check_same_specs(self) -> None:
        first = (self._envs[0].observation_spec(), self._envs[0].action_spec())
        for i, env in enumerate(self._envs[1:], start=1):
            if (env.observation_spec(), env.action_spec()) != first:
                raise ValueError(f"BatchedPyEnvironment: env {i} has specs "
                                 f"{(env.observation_spec(), env.action_spec())}, expected {first}")

    @property
    def envs(self) -> list[PyEnvironment]:
        return self._envs

    @property
    def batched(self) -> bool:
        return True

    @property
    def batch_size(self) -> int:
        return len(self._envs)

    def observation_spec(self):
        return self._envs[0].observation_spec()

    def action_spec(self):
        return self._envs[0].action_spec()

    def reward_spec(self):
        return self._envs[0].reward_spec()

    def _reset(self) -> ts.TimeStep:
        return stack_nests(self._reset_all())

    def _step(self, action) -> ts.TimeStep:
        return stack_nests(self._step_all(unstack_nest(action, self.batch_size)))

    def _reset_all(self) -> list:
        return [env.reset() for env in self._envs]

    def _step_all(self, actions: list) -> list:
        return [env.step(action) for env, action in zip(self._envs, actions)]

    def get_info(self) -> list:
        return [env.get_info() for env in self._envs]

    def seed(self, seed: int) -> None:
        for i, env in enumerate(self._envs):
            env.seed(seed + i)

    def render(self, mode: str = "rgb_array"):
        return np.stack([env.render(mode) for env in self._envs])

    def close(self) -> None:
        for env in self._envs:
            env.close()
