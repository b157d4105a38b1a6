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


# ---------------------------------------------------------------- compiled twins

from typing import NamedTuple  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from agentax.environments.jax_environment import JaxEnvironment  # noqa: E402
from agentax.policies.jax_policy import JaxPolicy  # noqa: E402
from agentax.trajectories import PolicyStep  # noqa: E402


class _FixedState(NamedTuple):
    t: jax.Array
    length: jax.Array


class FixedLengthJaxEnv(JaxEnvironment):
    """The compiled twin of `FixedLengthEnv`: element i has episodes of `lengths[i]` steps."""

    def __init__(self, lengths, batched: bool = True):
        lengths = [lengths] if isinstance(lengths, int) else list(lengths)
        super().__init__(len(lengths) if batched else None)
        if not batched and len(lengths) != 1:
            raise ValueError("unbatched needs one length")
        self.lengths = jnp.asarray(lengths, jnp.int32)

    def observation_spec(self):
        return array_spec.ArraySpec((), np.int32, name="observation")

    def action_spec(self):
        return array_spec.BoundedArraySpec((), np.int32, 0, 1, name="action")

    def _reset(self, key):
        return _FixedState(jnp.int32(0), jnp.int32(-1)), ts.restart(jnp.int32(0))

    def _step(self, state, action, key):
        t = state.t + 1
        last = t == state.length
        time_step = ts.TimeStep(jnp.where(last, ts.StepType.LAST, ts.StepType.MID), jnp.float32(1.0),
                                jnp.where(last, 0.0, 1.0).astype(jnp.float32), t)
        return _FixedState(t, state.length), time_step

    def reset(self, key):
        state, time_step = super().reset(key)
        lengths = self.lengths if self.batched else self.lengths[0]
        return state._replace(env_state=state.env_state._replace(length=lengths)), time_step

    def _step_one(self, state, action):  # keep each element's length across auto-resets
        new_state, time_step = super()._step_one(state, action)
        env_state = new_state.env_state._replace(length=state.env_state.length)
        return new_state._replace(env_state=env_state), time_step


class CountingJaxPolicy(JaxPolicy):
    """Stateful: the state counts actions taken in the episode; action = params > obs."""

    def __init__(self, time_step_spec, action_spec):
        super().__init__(time_step_spec, action_spec,
                         policy_state_spec=array_spec.ArraySpec((), np.int32), params=jnp.float32(0.0))

    def _action(self, params, time_step, policy_state, key):
        action = (params > time_step.observation).astype(jnp.int32)
        return PolicyStep(action, policy_state + 1, ())
