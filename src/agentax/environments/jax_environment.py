"""`JaxEnvironment`: an environment as pure JAX functions, batched with `vmap`.

The pure core is `reset(key) -> (state, TimeStep)` and
`step(state, action) -> (state, TimeStep)`, with the same auto-reset rule as
`PyEnvironment`: a step after LAST ignores the action and returns FIRST.
`StatefulJaxEnvironment` is the thin shell that holds the current state, for
tutorial-style code (`env.reset()`, `env.step(action)`, `env.current_time_step()`).
"""

from __future__ import annotations

import abc
import os
from typing import Any, NamedTuple

import jax
import numpy as np

from agentax.environments import jax_action_check
from agentax.environments.environment_specs import EnvironmentSpecs
from agentax.trajectories import time_step as ts


class JaxEnvState(NamedTuple):
    """The state a `JaxEnvironment` threads through `step`."""

    env_state: Any     # the environment's own state (a pytree)
    step_type: Any     # the step type last returned (for auto-reset)
    key: Any           # this environment's random key


class JaxEnvironment(EnvironmentSpecs):
    """Base class of compiled environments.

    Subclasses write `observation_spec()`, `action_spec()` and two unbatched pure
    functions: `_reset(key) -> (env_state, TimeStep)` and
    `_step(env_state, action, key) -> (env_state, TimeStep)`; `_step` never sees a
    step after LAST. With `batch_size=N` everything is `vmap`-ed over N copies, each
    with its own key.

    Actions are checked against `action_spec()`: structure, shape and dtype always
    (lossless dtype casts are made), values when the action is concrete. Inside
    `jit` values are checked only when `check_actions` is true (set it on an
    instance before its step is first traced, or `AGENTAX_CHECK_ACTIONS=1` for all):
    a host round trip per step.
    """

    check_actions: bool = os.environ.get("AGENTAX_CHECK_ACTIONS", "") not in ("", "0")

    def __init__(self, batch_size: int | None = None):
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"{type(self).__name__}: `batch_size` must be >= 1 or None, got {batch_size}")
        self._batch_size = batch_size

    @property
    def batch_size(self) -> int | None:
        return self._batch_size

    @property
    def batched(self) -> bool:
        return self._batch_size is not None

    # ---- subclasses
    @abc.abstractmethod
    def _reset(self, key) -> tuple[Any, ts.TimeStep]:
        """Unbatched: start an episode."""

    @abc.abstractmethod
    def _step(self, env_state, action, key) -> tuple[Any, ts.TimeStep]:
        """Unbatched: one step within an episode."""

    # ---- the pure core
    def _reset_one(self, key):
        key, reset_key = jax.random.split(key)
        env_state, time_step = self._reset(reset_key)
        return JaxEnvState(env_state, time_step.step_type, key), time_step

    def _step_one(self, state: JaxEnvState, action):
        key, step_key, reset_key = jax.random.split(state.key, 3)

        def restart(_):
            return self._reset(reset_key)

        def advance(_):
            return self._step(state.env_state, action, step_key)

        env_state, time_step = jax.lax.cond(state.step_type == ts.StepType.LAST, restart, advance, None)
        return JaxEnvState(env_state, time_step.step_type, key), time_step

    def reset(self, key) -> tuple[JaxEnvState, ts.TimeStep]:
        """Pure: a new state and its FIRST time step (one per batch element)."""
        if self.batched:
            return jax.vmap(self._reset_one)(jax.random.split(key, self._batch_size))
        return self._reset_one(key)

    def step(self, state: JaxEnvState, action) -> tuple[JaxEnvState, ts.TimeStep]:
        """Pure: apply `action` (auto-resetting after LAST); see `_check_action`."""
        action = self._check_action(action)
        if self.batched:
            return jax.vmap(self._step_one)(state, action)
        return self._step_one(state, action)

    def _check_action(self, action):
        """`action` in the spec's dtypes (lossless casts made), or `ValueError`.

        Shapes and dtypes are checked when traced; values when the action is concrete,
        and inside `jit` only with `check_actions` on (`jax_action_check` says how).
        """
        outer = (self._batch_size,) if self.batched else ()
        return jax_action_check.conform_action(self.action_spec(), action, outer, self.check_actions)

    def render(self, state: JaxEnvState) -> np.ndarray:
        """An RGB frame (H, W, 3) uint8 of `state` (the first element when batched)."""
        raise NotImplementedError(f"{type(self).__name__} does not support render()")

    def first_state(self, state: JaxEnvState):
        """The environment state of batch element 0 (or the state itself, unbatched)."""
        return jax.tree.map(lambda x: x[0], state.env_state) if self.batched else state.env_state


class StatefulJaxEnvironment:
    """Holds a `JaxEnvironment`'s current state; `reset()`, `step(action)` and
    `current_time_step()` read as in TF-Agents. Both pure functions are jitted once."""

    def __init__(self, env: JaxEnvironment, seed: int = 0):
        self.env = env
        self._key = jax.random.PRNGKey(seed)
        self._reset_fn = jax.jit(env.reset)
        self._step_fn = jax.jit(env.step)
        self.state: JaxEnvState | None = None
        self._time_step: ts.TimeStep | None = None

    def __getattr__(self, name):  # specs, batch_size, render helpers...
        return getattr(self.env, name)

    def next_key(self):
        self._key, key = jax.random.split(self._key)
        return key

    def reset(self) -> ts.TimeStep:
        self.state, self._time_step = self._reset_fn(self.next_key())
        return self._time_step

    def step(self, action) -> ts.TimeStep:
        if self.state is None:
            return self.reset()
        action = self.env._check_action(action)  # concrete here: values are checked too
        self.state, self._time_step = self._step_fn(self.state, action)
        return self._time_step

    def current_time_step(self) -> ts.TimeStep:
        if self._time_step is None:
            return self.reset()
        return self._time_step

    def set_state(self, state: JaxEnvState, time_step: ts.TimeStep) -> None:
        """Replace the current state (drivers do this after a run)."""
        self.state, self._time_step = state, time_step

    def render(self) -> np.ndarray:
        if self.state is None:
            self.reset()
        return self.env.render(self.state)


def as_stateful(env, seed: int = 0) -> StatefulJaxEnvironment:
    """`env` itself if it is a shell already (it keeps its own seed), else a shell
    around it whose resets draw from `seed`."""
    return env if isinstance(env, StatefulJaxEnvironment) else StatefulJaxEnvironment(env, seed)
