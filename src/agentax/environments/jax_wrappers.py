"""Compiled forms of TF-Agents' environment wrappers, as `JaxEnvironment`s.

A wrapper is itself a `JaxEnvironment` over the wrapped env's unbatched pure core
(`_reset`/`_step`); its state carries the wrapped env's state plus its own (a step
counter, a history), so everything stays pure, jittable and vmappable, and it takes
the wrapped env's `batch_size`. Auto-reset happens once, at the outermost level, with
the same rule as every `JaxEnvironment`. Semantics are those of the Python wrappers
in `agentax.environments.wrappers` (TF-Agents'); the tests step both on the same
action sequence and compare every time step.

`RunStats` has no compiled form: in a compiled loop those counts are metrics
(`agentax.metrics`).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from agentax.environments import jax_action_check
from agentax.environments import wrappers as py_wrappers
from agentax.environments.jax_environment import JaxEnvironment, JaxEnvState
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts


def _check_env(wrapper: str, env) -> None:
    if not isinstance(env, JaxEnvironment):
        raise TypeError(f"{wrapper}: `env` must be a JaxEnvironment, got {type(env).__name__}")
    from agentax.environments.jax_py_environment import JaxPyEnvironment
    if isinstance(env, JaxPyEnvironment):  # it steps on the host: it has no pure core to wrap
        raise TypeError(f"{wrapper}: `env` is a JaxPyEnvironment; wrap its Python environment with "
                        f"agentax.environments.wrappers.{wrapper} before JaxPyEnvironment instead")


class JaxEnvironmentBaseWrapper(JaxEnvironment):
    """Forwards to the wrapped `JaxEnvironment` (`wrapped_env()`); other attributes are
    read from it. Subclasses that add state override `_inner_env_state`."""

    def __init__(self, env: JaxEnvironment):
        _check_env(type(self).__name__, env)
        super().__init__(env.batch_size)
        self._env = env

    def __getattr__(self, name: str):
        if name == "_env":
            raise AttributeError(name)
        return getattr(self._env, name)

    def wrapped_env(self) -> JaxEnvironment:
        return self._env

    def observation_spec(self):
        return self._env.observation_spec()

    def action_spec(self):
        return self._env.action_spec()

    def _reset(self, key):
        return self._env._reset(key)

    def _step(self, env_state, action, key):
        return self._env._step(env_state, action, key)

    def _inner_env_state(self, env_state):
        """The wrapped env's part of this wrapper's `env_state`."""
        return env_state

    def render(self, state: JaxEnvState) -> np.ndarray:
        return self._env.render(state._replace(env_state=self._inner_env_state(state.env_state)))


class WrapperState(NamedTuple):
    env_state: Any   # the wrapped env's state
    extra: Any       # the wrapper's own (a step count, histories)


class TimeLimit(JaxEnvironmentBaseWrapper):
    """The `duration`-th step of an episode is LAST, keeping the wrapped env's discount
    (1 unless it terminated on that step); the next step resets."""

    def __init__(self, env: JaxEnvironment, duration: int):
        super().__init__(env)
        self._duration = py_wrappers._check_int("TimeLimit", "duration", duration, 1)

    @property
    def duration(self) -> int:
        return self._duration

    @property
    def max_episode_steps(self) -> int:
        inner = getattr(self._env, "max_episode_steps", None)
        return self._duration if inner is None else min(self._duration, int(inner))

    def _inner_env_state(self, env_state):
        return env_state.env_state

    def _reset(self, key):
        env_state, time_step = self._env._reset(key)
        return WrapperState(env_state, jnp.int32(0)), time_step

    def _step(self, env_state: WrapperState, action, key):
        inner, time_step = self._env._step(env_state.env_state, action, key)
        num_steps = env_state.extra + 1
        step_type = jnp.where(num_steps >= self._duration, ts.StepType.LAST, time_step.step_type)
        return WrapperState(inner, num_steps), time_step._replace(step_type=step_type.astype(jnp.int32))


class ActionRepeat(JaxEnvironmentBaseWrapper):
    """Applies an action up to `times` times (> 1), summing the rewards; stops at the
    first LAST step (later repeats leave the state as it is) and returns it."""

    def __init__(self, env: JaxEnvironment, times: int):
        super().__init__(env)
        if isinstance(times, bool) or not isinstance(times, (int, np.integer)) or times <= 1:
            raise ValueError(f"ActionRepeat: `times` must be an integer greater than 1, got {times!r}")
        self._times = int(times)

    @property
    def times(self) -> int:
        return self._times

    @property
    def max_episode_steps(self) -> int | None:
        inner = getattr(self._env, "max_episode_steps", None)
        return None if inner is None else math.ceil(int(inner) / self._times)

    def _step(self, env_state, action, key):
        keys = jax.random.split(key, self._times)
        inner, time_step = self._env._step(env_state, action, keys[0])

        def repeat(carry, step_key):
            inner, time_step, total = carry
            done = time_step.step_type == ts.StepType.LAST
            inner, time_step = jax.lax.cond(done, lambda: (inner, time_step),
                                            lambda: self._env._step(inner, action, step_key))
            return (inner, time_step, total + jnp.where(done, 0, time_step.reward)), None

        (inner, time_step, total), _ = jax.lax.scan(repeat, (inner, time_step, time_step.reward), keys[1:])
        return inner, time_step._replace(reward=total.astype(time_step.reward.dtype))


class ActionClipWrapper(JaxEnvironmentBaseWrapper):
    """Clips actions to the wrapped env's bounds; structure, shape and dtype are
    still checked (lossless casts made), values outside the bounds are accepted."""

    def __init__(self, env: JaxEnvironment):
        super().__init__(env)
        self._unbounded_spec = py_wrappers.unbounded_spec(env.action_spec())

    def _check_action(self, action):
        outer = (self._batch_size,) if self.batched else ()
        return jax_action_check.conform_action(self._unbounded_spec, action, outer, False)

    def _step(self, env_state, action, key):
        def clip(spec, a):
            if not isinstance(spec, array_spec.BoundedArraySpec):
                return a
            return jnp.clip(a, jnp.asarray(spec.minimum, spec.dtype), jnp.asarray(spec.maximum, spec.dtype))

        return self._env._step(env_state, array_spec.map_spec(clip, self._env.action_spec(), action), key)


class _ObservationWrapper(JaxEnvironmentBaseWrapper):
    """Maps every observation through `_observation`."""

    def _observation(self, observation):
        raise NotImplementedError

    def _reset(self, key):
        env_state, time_step = self._env._reset(key)
        return env_state, time_step._replace(observation=self._observation(time_step.observation))

    def _step(self, env_state, action, key):
        env_state, time_step = self._env._step(env_state, action, key)
        return env_state, time_step._replace(observation=self._observation(time_step.observation))


class ObservationFilterWrapper(_ObservationWrapper):
    """Keeps the elements `idx` of a single-array, 1-D observation."""

    def __init__(self, env: JaxEnvironment, idx: Sequence[int] | np.ndarray):
        super().__init__(env)
        self._idx, self._observation_spec = py_wrappers.observation_filter_spec(
            "ObservationFilterWrapper", env.observation_spec(), idx)

    def observation_spec(self):
        return self._observation_spec

    def _observation(self, observation):
        return jnp.take(observation, jnp.asarray(self._idx), axis=-1)


class FlattenObservationsWrapper(_ObservationWrapper):
    """Flattens a nest of observations into one 1-D array (`jax.tree` order, dict keys
    sorted); `observations_whitelist` keeps only those keys of a dict observation."""

    def __init__(self, env: JaxEnvironment, observations_whitelist: Sequence[str] | None = None):
        super().__init__(env)
        name, spec = "FlattenObservationsWrapper", env.observation_spec()
        self._observations_whitelist = py_wrappers.check_observations_whitelist(name, spec, observations_whitelist)
        self._flattened_observation_spec = py_wrappers.flattened_observation_spec(
            name, spec, self._observations_whitelist)

    def observation_spec(self):
        return self._flattened_observation_spec

    def _observation(self, observation):
        leaves = jax.tree.leaves(py_wrappers.filter_observations(observation, self._observations_whitelist))
        packed = jnp.concatenate([jnp.reshape(x, (-1,)) for x in leaves], axis=0)
        return packed.astype(array_spec.jax_dtype(self._flattened_observation_spec.dtype))


class HistoryWrapper(JaxEnvironmentBaseWrapper):
    """The last `history_length` observations (and, with `include_actions`, the actions
    that led to them) stacked oldest first, zero-padded at the start of an episode."""

    def __init__(self, env: JaxEnvironment, history_length: int = 3, include_actions: bool = False):
        super().__init__(env)
        self._history_length = py_wrappers._check_int("HistoryWrapper", "history_length", history_length, 1)
        self._include_actions = bool(include_actions)
        self._observation_spec = py_wrappers.history_observation_spec(
            env.observation_spec(), env.action_spec(), self._history_length, self._include_actions)

    @property
    def history_length(self) -> int:
        return self._history_length

    def observation_spec(self):
        return self._observation_spec

    def _inner_env_state(self, env_state):
        return env_state.env_state

    def _zeros(self, spec_nest):
        return array_spec.map_spec(
            lambda s: jnp.zeros((self._history_length,) + s.shape, array_spec.jax_dtype(s.dtype)), spec_nest)

    def _observation(self, histories):
        observations, actions = histories
        return {"observation": observations, "action": actions} if self._include_actions else observations

    def _reset(self, key):
        env_state, time_step = self._env._reset(key)
        observations = jax.tree.map(lambda h, o: h.at[-1].set(o), self._zeros(self._env.observation_spec()),
                                    time_step.observation)
        histories = (observations, self._zeros(self._env.action_spec()))
        return WrapperState(env_state, histories), time_step._replace(observation=self._observation(histories))

    def _step(self, env_state: WrapperState, action, key):
        inner, time_step = self._env._step(env_state.env_state, action, key)

        def push(history, value):
            return jnp.concatenate([history[1:], jnp.asarray(value, history.dtype)[None]], axis=0)

        observations, actions = env_state.extra
        histories = (jax.tree.map(push, observations, time_step.observation), jax.tree.map(push, actions, action))
        return WrapperState(inner, histories), time_step._replace(observation=self._observation(histories))
