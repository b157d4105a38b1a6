"""`JaxEnvironment`: an environment as pure JAX functions, batched with `vmap`.

The pure core is `reset(key) -> (state, TimeStep)` and
`step(state, action) -> (state, TimeStep)`, with the same auto-reset rule as
`PyEnvironment`: a step after LAST ignores the action and returns FIRST.
`StatefulJaxEnvironment` is the thin shell that holds the current state, for
tutorial-style code (`env.reset()`, `env.step(action)`, `env.current_time_step()`).
"""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agentax.environments.environment_specs import EnvironmentSpecs
from agentax.specs import array_spec
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
    """

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
        """Pure: apply `action` (auto-resetting after LAST)."""
        self._check_action(action)
        if self.batched:
            return jax.vmap(self._step_one)(state, action)
        return self._step_one(state, action)

    def _check_action(self, action) -> None:
        """Shapes and dtypes are checked when traced; values cannot be, inside `jit`."""
        outer = (self._batch_size,) if self.batched else ()

        def check(spec, value):
            shape, dtype = jnp.shape(value), jnp.result_type(value)
            if shape != outer + spec.shape or dtype != spec.dtype:
                raise ValueError(f"`action` does not match its spec: shape {shape}, dtype {dtype}; expected "
                                 f"shape {outer + spec.shape}, dtype {spec.dtype}.\n  spec: {spec!r}")

        spec = self.action_spec()
        if jax.tree.structure(spec, is_leaf=lambda x: isinstance(x, array_spec.ArraySpec)) != \
                jax.tree.structure(action):
            raise ValueError(f"`action` does not match the structure of its spec {spec}: {action}")
        array_spec.map_spec(check, spec, action)

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
