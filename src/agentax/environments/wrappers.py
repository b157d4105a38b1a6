"""TF-Agents' common `PyEnvironment` wrappers (mirrors `tf_agents.environments.wrappers`).

Each wrapper is itself a `PyEnvironment`, so the base class's auto-reset applies at
every level: a step after the wrapper's LAST resets the wrapper, which resets the
env it wraps. Compiled forms of the same wrappers are in `jax_wrappers`.

- `TimeLimit(env, duration)`: the `duration`-th step of an episode is LAST, with the
  wrapped env's discount kept (1 unless the env terminated on that very step); the
  next step resets.
- `ActionRepeat(env, times)`: applies an action up to `times` times, summing the
  rewards; stops early at a LAST (or FIRST) step. `times` must be > 1.
- `ActionClipWrapper(env)`: clips actions to the wrapped env's bounds.
- `FlattenObservationsWrapper(env, observations_whitelist=None)`: one flat vector.
- `ObservationFilterWrapper(env, idx)`: keeps the listed elements of a 1-D observation.
- `HistoryWrapper(env, history_length=3, include_actions=False)`: the last
  `history_length` observations (and actions), zero-padded after a reset.
- `RunStats(env)`: counts `episodes` (LAST steps), `resets` (FIRST steps),
  `episode_steps` and `total_steps`.

Wrappers do not check actions themselves (the wrapped env does, once), except
`ActionClipWrapper`, which checks structure, shape and dtype but not bounds.
`TimeLimit`, `ActionRepeat`, `RunStats` and `HistoryWrapper` take unbatched envs (as
in TF-Agents); `ActionClipWrapper`, `FlattenObservationsWrapper` and
`ObservationFilterWrapper` also take batched ones.
"""

from __future__ import annotations

import collections
from typing import Any, Sequence

import jax
import numpy as np

from agentax.environments.py_environment import PyEnvironment
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts


def _check_env(wrapper: str, env) -> None:
    if not isinstance(env, PyEnvironment):
        raise TypeError(f"{wrapper}: `env` must be a PyEnvironment, got {type(env).__name__}")


def _check_int(wrapper: str, arg: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{wrapper}: `{arg}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_unbatched(wrapper: str, env) -> None:
    if env.batched:
        raise ValueError(f"{wrapper}: `env` must be unbatched (as in TF-Agents), got a batch of "
                         f"{env.batch_size}; wrap each environment before batching them")


def _is_nested(spec) -> bool:
    return not isinstance(spec, array_spec.ArraySpec)


class PyEnvironmentBaseWrapper(PyEnvironment):
    """Forwards every call to the wrapped environment (`wrapped_env()`); other
    attributes (`gym`, `max_episode_steps`, ...) are read from it too."""

    def __init__(self, env: PyEnvironment, validate_actions: bool = False):
        _check_env(type(self).__name__, env)
        super().__init__(validate_actions)
        self._env = env

    def __getattr__(self, name: str):
        if name == "_env":  # not set yet (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self._env, name)

    @property
    def _handles_auto_reset(self) -> bool:  # batched envs reset their members themselves
        return getattr(self._env, "_handles_auto_reset", False)

    @property
    def batched(self) -> bool:
        return getattr(self._env, "batched", False)

    @property
    def batch_size(self) -> int | None:
        return getattr(self._env, "batch_size", None)

    def _reset(self) -> ts.TimeStep:
        return self._env.reset()

    def _step(self, action) -> ts.TimeStep:
        return self._env.step(action)

    def get_info(self) -> Any:
        return self._env.get_info()

    def observation_spec(self):
        return self._env.observation_spec()

    def action_spec(self):
        return self._env.action_spec()

    def close(self) -> None:
        return self._env.close()

    def render(self, mode: str = "rgb_array"):
        return self._env.render(mode)

    def seed(self, seed: int):
        return self._env.seed(seed)

    def wrapped_env(self) -> PyEnvironment:
        return self._env

    def set_state(self, state: Any) -> None:
        self._env.set_state(state)

    def get_state(self) -> Any:
        return self._env.get_state()


class TimeLimit(PyEnvironmentBaseWrapper):
    """Ends episodes after `duration` steps: that step's type becomes LAST and its
    discount stays the wrapped env's (1 for a truncation); the next step resets.
    `max_episode_steps` reads the smaller of `duration` and the wrapped env's limit."""

    def __init__(self, env: PyEnvironment, duration: int):
        super().__init__(env)
        _check_unbatched("TimeLimit", env)
        self._duration = _check_int("TimeLimit", "duration", duration, 1)
        self._num_steps: int | None = None

    @property
    def duration(self) -> int:
        return self._duration

    @property
    def max_episode_steps(self) -> int:
        inner = getattr(self._env, "max_episode_steps", None)
        return self._duration if inner is None else min(self._duration, int(inner))

    def _reset(self):
        self._num_steps = 0
        return self._env.reset()

    def _step(self, action):
        if self._num_steps is None:
            return self.reset()
        time_step = self._env.step(action)
        self._num_steps += 1
        if self._num_steps >= self._duration:
            time_step = time_step._replace(step_type=np.asarray(ts.StepType.LAST, np.int32))
        if time_step.is_last():
            self._num_steps = None
        return time_step


class ActionRepeat(PyEnvironmentBaseWrapper):
    """Repeats an action up to `times` times, summing the rewards (in the reward's
    dtype); stops at the first FIRST or LAST step and returns it with the sum."""

    def __init__(self, env: PyEnvironment, times: int):
        super().__init__(env)
        _check_unbatched("ActionRepeat", env)
        if isinstance(times, bool) or not isinstance(times, (int, np.integer)) or times <= 1:
            raise ValueError(f"ActionRepeat: `times` must be an integer greater than 1, got {times!r}")
        self._times = int(times)

    @property
    def times(self) -> int:
        return self._times

    def _step(self, action):
        total_reward = 0
        for _ in range(self._times):
            time_step = self._env.step(action)
            total_reward = total_reward + time_step.reward
            if time_step.is_first() or time_step.is_last():
                break
        total_reward = np.asarray(total_reward, dtype=np.asarray(time_step.reward).dtype)
        return ts.TimeStep(time_step.step_type, total_reward, time_step.discount, time_step.observation)


def unbounded_spec(spec_nest):
    """The same specs without bounds (`ActionClipWrapper` takes any value, then clips)."""
    return array_spec.map_spec(lambda s: array_spec.ArraySpec(s.shape, s.dtype, s.name), spec_nest)


def _clip_to_spec(spec, action):
    if not isinstance(spec, array_spec.BoundedArraySpec):
        return action
    return np.clip(action, spec.minimum, spec.maximum).astype(spec.dtype, copy=False)


class ActionClipWrapper(PyEnvironmentBaseWrapper):
    """Clips actions to the wrapped env's action bounds before stepping it.

    Structure, shape and dtype are still checked (lossless casts made); only values
    outside the bounds are accepted, and clipped.
    """

    def __init__(self, env: PyEnvironment):
        super().__init__(env)
        self._unbounded_spec = unbounded_spec(env.action_spec())

    def _step(self, action):
        outer = (self.batch_size,) if self.batched else ()
        action = array_spec.conform(self._unbounded_spec, action, "action", outer_dims=outer)
        return self._env.step(array_spec.map_spec(_clip_to_spec, self._env.action_spec(), action))


class ObservationFilterWrapper(PyEnvironmentBaseWrapper):
    """Keeps the elements `idx` of a single-array, 1-D observation (along its last
    axis, so batched envs work too; TF-Agents indexes unbatched observations only)."""

    def __init__(self, env: PyEnvironment, idx: Sequence[int] | np.ndarray):
        super().__init__(env)
        self._idx, self._observation_spec = observation_filter_spec("ObservationFilterWrapper",
                                                                    env.observation_spec(), idx)

    def observation_spec(self):
        return self._observation_spec

    def _filter(self, time_step):
        return time_step._replace(observation=np.take(np.asarray(time_step.observation), self._idx, axis=-1))

    def _reset(self):
        return self._filter(self._env.reset())

    def _step(self, action):
        return self._filter(self._env.step(action))


class RunStats(PyEnvironmentBaseWrapper):
    """Accumulates run statistics: `episodes` = LAST steps seen, `resets` = FIRST
    steps seen, `episode_steps` = steps since the last FIRST, `total_steps` = all
    non-FIRST steps. Episodes count only when stepped to their LAST step."""

    def __init__(self, env: PyEnvironment):
        super().__init__(env)
        _check_unbatched("RunStats", env)
        self._episodes = 0
        self._resets = 0
        self._episode_steps = 0
        self._total_steps = 0

    @property
    def episodes(self) -> int:
        return self._episodes

    @property
    def episode_steps(self) -> int:
        return self._episode_steps

    @property
    def total_steps(self) -> int:
        return self._total_steps

    @property
    def resets(self) -> int:
        return self._resets

    def _reset(self):
        self._resets += 1
        self._episode_steps = 0
        return self._env.reset()

    def _step(self, action):
        time_step = self._env.step(action)
        if time_step.is_first():
            self._resets += 1
            self._episode_steps = 0
        else:
            self._total_steps += 1
            self._episode_steps += 1
        if time_step.is_last():
            self._episodes += 1
        return time_step


class FlattenObservationsWrapper(PyEnvironmentBaseWrapper):
    """Flattens a nest of observations into one 1-D array (`packed_observations`),
    in the order `jax.tree` flattens the nest (dict keys sorted, as `tf.nest`).

    `observations_whitelist` keeps only those keys of a dict observation. All kept
    observations must share one dtype; their bounds are dropped (as in TF-Agents).
    Unlike TF-Agents, a non-dict nest (or a single array) may be flattened too.
    """

    def __init__(self, env: PyEnvironment, observations_whitelist: Sequence[str] | None = None):
        super().__init__(env)
        name, spec = "FlattenObservationsWrapper", env.observation_spec()
        self._observations_whitelist = check_observations_whitelist(name, spec, observations_whitelist)
        self._flattened_observation_spec = flattened_observation_spec(name, spec, self._observations_whitelist)

    def observation_spec(self):
        return self._flattened_observation_spec

    def _pack(self, time_step):
        leaves = jax.tree.leaves(filter_observations(time_step.observation, self._observations_whitelist))
        if self.batched:
            flat = [np.reshape(x, (np.shape(x)[0], -1)) for x in leaves]
            packed = np.concatenate(flat, axis=1)
        else:
            packed = np.concatenate([np.reshape(x, (-1,)) for x in leaves], axis=0)
        return time_step._replace(observation=packed.astype(self._flattened_observation_spec.dtype, copy=False))

    def _reset(self):
        return self._pack(self._env.reset())

    def _step(self, action):
        return self._pack(self._env.step(action))


class HistoryWrapper(PyEnvironmentBaseWrapper):
    """Observations become the last `history_length` observations, stacked on a new
    leading axis (oldest first), zero-padded at the start of an episode. With
    `include_actions`, the observation is `{'observation': ..., 'action': ...}` where
    `action[i]` is the action that led to `observation[i]` (zeros for the first)."""

    def __init__(self, env: PyEnvironment, history_length: int = 3, include_actions: bool = False):
        super().__init__(env)
        _check_unbatched("HistoryWrapper", env)
        self._history_length = _check_int("HistoryWrapper", "history_length", history_length, 1)
        self._include_actions = bool(include_actions)
        self._zero_observation = array_spec.zeros_from_spec(env.observation_spec())
        self._zero_action = array_spec.zeros_from_spec(env.action_spec())
        self._observation_history: collections.deque = collections.deque(maxlen=self._history_length)
        self._action_history: collections.deque = collections.deque(maxlen=self._history_length)
        self._observation_spec = history_observation_spec(env.observation_spec(), env.action_spec(),
                                                          self._history_length, self._include_actions)

    @property
    def history_length(self) -> int:
        return self._history_length

    def observation_spec(self):
        return self._observation_spec

    def _add_history(self, time_step, action):
        self._observation_history.append(time_step.observation)
        self._action_history.append(action)
        stack = lambda items: jax.tree.map(lambda *xs: np.stack(xs), *items)  # noqa: E731
        observation = stack(self._observation_history)
        if self._include_actions:
            observation = {"observation": observation, "action": stack(self._action_history)}
        return time_step._replace(observation=observation)

    def _reset(self):
        self._observation_history.extend([self._zero_observation] * (self._history_length - 1))
        self._action_history.extend([self._zero_action] * (self._history_length - 1))
        return self._add_history(self._env.reset(), self._zero_action)

    def _step(self, action):
        time_step = self._env.step(action)
        action = array_spec.map_spec(lambda s, a: np.asarray(a, s.dtype), self._env.action_spec(), action)
        return self._add_history(time_step, action)


# ---- specs shared with the compiled wrappers (`jax_wrappers`)

def observation_filter_spec(wrapper: str, spec, idx) -> tuple[np.ndarray, array_spec.ArraySpec]:
    """`(idx as an int array, the filtered observation spec)`, or `ValueError`."""
    if _is_nested(spec):
        raise ValueError(f"{wrapper} only works with single-array observations (not nested), "
                         f"got the observation spec {spec}")
    idx = np.array(idx)
    if idx.ndim != 1:
        raise ValueError(f"{wrapper}: `idx` must be a 1-D sequence of indexes, got shape {idx.shape}")
    if idx.shape[0] < 1:
        raise ValueError(f"{wrapper}: `idx` must hold at least one index, got none")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"{wrapper}: `idx` must hold integers, got {idx.dtype}")
    if len(spec.shape) != 1:
        raise ValueError(f"{wrapper} only works with 1-D observations, got shape {spec.shape}")
    if not np.all((idx < spec.shape[0]) & (idx >= -spec.shape[0])):
        raise ValueError(f"{wrapper}: an index in `idx`={idx.tolist()} is out of bounds "
                         f"for observations of shape {spec.shape}")
    changes = {"shape": idx.shape}
    if isinstance(spec, array_spec.BoundedArraySpec):  # array bounds follow the kept elements
        changes["minimum"] = np.broadcast_to(spec.minimum, spec.shape)[idx]
        changes["maximum"] = np.broadcast_to(spec.maximum, spec.shape)[idx]
    return idx, spec.replace(**changes)


def check_observations_whitelist(wrapper: str, spec, observations_whitelist):
    """The whitelist as a list (or None), or `ValueError`."""
    if observations_whitelist is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError(f"{wrapper}: with `observations_whitelist` the environment must return a dict of "
                         f"observations, its observation spec is {type(spec).__name__}")
    unknown = sorted(set(observations_whitelist) - set(spec))
    if unknown:
        raise ValueError(f"{wrapper}: `observations_whitelist` holds keys not found in the environment: "
                         f"{unknown} (it has {sorted(spec)})")
    return list(observations_whitelist)


def filter_observations(observations, observations_whitelist):
    """The whitelisted keys of a dict observation (or spec); everything when None."""
    if observations_whitelist is None:
        return observations
    return {k: v for k, v in observations.items() if k in observations_whitelist}


def flattened_observation_spec(wrapper: str, spec, observations_whitelist) -> array_spec.ArraySpec:
    """`ArraySpec((total,), dtype, "packed_observations")`, or `ValueError` for mixed dtypes."""
    leaves = array_spec.flatten(filter_observations(spec, observations_whitelist))
    dtypes = sorted({str(s.dtype) for s in leaves})
    if len(dtypes) != 1:
        raise ValueError(f"{wrapper}: the observation specs must all have the same dtype, found {dtypes}")
    total = sum(int(np.prod(s.shape)) for s in leaves)
    return array_spec.ArraySpec((total,), leaves[0].dtype, name="packed_observations")


def history_observation_spec(observation_spec, action_spec, history_length: int, include_actions: bool):
    """Each spec with a leading `history_length` axis; a dict with the actions' when `include_actions`."""

    def with_history(spec):
        return spec.replace(shape=(history_length,) + spec.shape)

    spec = array_spec.map_spec(with_history, observation_spec)
    if include_actions:
        spec = {"observation": spec, "action": array_spec.map_spec(with_history, action_spec)}
    return spec
