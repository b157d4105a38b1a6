"""Deterministic environments with known episode lengths, for counting tests."""

from __future__ import annotations

import numpy as np

from agentax.environments.py_environment import PyEnvironment
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts


class FixedLengthEnv(PyEnvironment):
    """Episodes of exactly `episode_length` steps; reward 1 per step.

    The observation is the index of the step within the episode (0 at FIRST).
    `action_spec` is a scalar int64 in [0, 1].
    """

    def __init__(self, episode_length: int, truncate: bool = False):
        super().__init__()
        self.episode_length = episode_length
        self.truncate = truncate
        self.steps_taken = 0  # counts calls to _step, to check auto-reset skips it
        self._t = 0

    def observation_spec(self):
        return array_spec.ArraySpec((), np.int32, name="observation")

    def action_spec(self):
        return array_spec.BoundedArraySpec((), np.int64, 0, 1, name="action")

    def _reset(self):
        self._t = 0
        return ts.restart(np.asarray(0, np.int32))

    def _step(self, action):
        self.steps_taken += 1
        self._t += 1
        obs = np.asarray(self._t, np.int32)
        if self._t == self.episode_length:
            return ts.truncation(obs, 1.0) if self.truncate else ts.termination(obs, 1.0)
        return ts.transition(obs, 1.0)

    def get_info(self):
        return {"t": self._t}


class RaisingEnv(FixedLengthEnv):
    """Raises on its `fail_at`-th step."""

    def __init__(self, fail_at: int = 2):
        super().__init__(episode_length=10)
        self.fail_at = fail_at

    def _step(self, action):
        if self.steps_taken + 1 == self.fail_at:
            raise RuntimeError("boom from the environment")
        return super()._step(action)
