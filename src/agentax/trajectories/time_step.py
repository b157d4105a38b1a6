"""`StepType`, `TimeStep` and the constructors environments use to make them.

The constructors work on NumPy and on JAX arrays alike (they follow the type of
`observation`), so Python and compiled environments share one implementation.
Unbatched NumPy time steps share read-only 0-d arrays for common step types,
rewards and discounts: copy one before writing into it in place.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agentax.specs import array_spec


class StepType:
    """Where a time step sits in its episode."""

    FIRST = np.int32(0)
    MID = np.int32(1)
    LAST = np.int32(2)


class TimeStep(NamedTuple):
    """What an environment returns: `step_type`, `reward`, `discount`, `observation`."""

    step_type: Any
    reward: Any
    discount: Any
    observation: Any

    def is_first(self):
        return self.step_type == StepType.FIRST

    def is_mid(self):
        return self.step_type == StepType.MID

    def is_last(self):
        return self.step_type == StepType.LAST


# `new_named_tuple(TimeStep, (a, b, c, d))` builds the tuple without the Python-level
# `__new__` that NamedTuple generates: half the cost, for the per-step hot paths.
new_named_tuple = tuple.__new__


def _xp(observation):
    """`jnp` when the observation nest holds JAX arrays (or tracers), else `np`."""
    if isinstance(observation, np.ndarray):  # the common case, kept cheap
        return np
    if isinstance(observation, jax.Array):
        return jnp
    leaves = jax.tree.leaves(observation)
    return jnp if any(isinstance(x, jax.Array) for x in leaves) else np


def _filled(xp, batch_size, value, dtype):
    if batch_size is None:
        return xp.asarray(value, dtype=dtype)
    return xp.full((batch_size,), value, dtype=dtype)


def restart(observation, batch_size: int | None = None, reward_spec=None) -> TimeStep:
    """A FIRST time step: reward 0, discount 1."""
    xp = _xp(observation)
    if reward_spec is None:
        reward = _filled(xp, batch_size, 0.0, np.float32)
    else:
        outer = () if batch_size is None else (batch_size,)
        reward = array_spec.map_spec(lambda s: xp.zeros(outer + s.shape, s.dtype), reward_spec)
    return TimeStep(_filled(xp, batch_size, StepType.FIRST, np.int32), reward,
                    _filled(xp, batch_size, 1.0, np.float32), observation)


def _frozen(value, dtype) -> np.ndarray:
    arr = np.array(value, dtype)
    arr.flags.writeable = False
    return arr


# Unbatched NumPy time steps share these read-only 0-d arrays: building a fresh one
# costs a tenth of a Gymnasium CartPole step, and a step builds three.
_NP_STEP_TYPES = {StepType.MID: _frozen(StepType.MID, np.int32), StepType.LAST: _frozen(StepType.LAST, np.int32)}
_NP_FLOAT32 = {value: _frozen(value, np.float32) for value in (0.0, 1.0, -1.0)}
_SCALARS = (float, int, np.float32, np.float64)


def _step(step_type, observation, reward, discount) -> TimeStep:
    if type(observation) is np.ndarray and type(reward) in _SCALARS and type(discount) in _SCALARS:
        # The Python environments' hot path: an unbatched NumPy step.
        shared_reward, shared_discount = _NP_FLOAT32.get(reward), _NP_FLOAT32.get(discount)
        return new_named_tuple(TimeStep, (
            _NP_STEP_TYPES[step_type], np.asarray(reward, np.float32) if shared_reward is None else shared_reward,
            np.asarray(discount, np.float32) if shared_discount is None else shared_discount, observation))
    xp = _xp(observation)
    reward = xp.asarray(reward, np.float32)
    shape = reward.shape
    if not shape:  # unbatched: the hot path of Python environments
        return TimeStep(xp.asarray(step_type), reward, xp.asarray(discount, np.float32), observation)
    return TimeStep(xp.full(shape, step_type, np.int32), reward,
                    xp.broadcast_to(xp.asarray(discount, np.float32), shape), observation)


def transition(observation, reward, discount=1.0) -> TimeStep:
    """A MID time step."""
    return _step(StepType.MID, observation, reward, discount)


def termination(observation, reward) -> TimeStep:
    """A LAST time step from a terminal state: discount 0 (nothing to bootstrap)."""
    return _step(StepType.LAST, observation, reward, 0.0)


def truncation(observation, reward, discount=1.0) -> TimeStep:
    """A LAST time step cut by a time limit: discount stays (bootstrapping is valid)."""
    return _step(StepType.LAST, observation, reward, discount)


def time_step_spec(observation_spec, reward_spec=None, discount_spec=None) -> TimeStep:
    """The `TimeStep` of specs an environment with these specs returns."""
    if reward_spec is None:
        reward_spec = array_spec.ArraySpec((), np.float32, name="reward")
    if discount_spec is None:
        discount_spec = array_spec.BoundedArraySpec((), np.float32, 0.0, 1.0, name="discount")
    return TimeStep(
        step_type=array_spec.ArraySpec((), np.int32, name="step_type"),
        reward=reward_spec,
        discount=discount_spec,
        observation=observation_spec,
    )
