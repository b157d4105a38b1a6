"""`JaxPyEnvironment`: a `PyEnvironment` used from JAX, the reference's `TFPyEnvironment`.

As `TFPyEnvironment` does, an unbatched environment is wrapped in a
`BatchedPyEnvironment` of one, so time steps and actions carry a batch dimension
of 1. Two faces:

- stateful, as ported TF-Agents code uses it: `reset()`, `step(action)`,
  `current_time_step()` return time steps of JAX arrays;
- pure, for compiled drivers: `reset(key)` and `step(state, action)` reach the
  Python environment through ordered host callbacks (`io_callback`), one host
  round trip per step.

64-bit dtypes in the Python environment's specs appear as their 32-bit
counterparts on the JAX side (JAX's default): float64 values are rounded to
float32, and integers that do not fit int32 are an error. Actions go back in the
Python environment's dtypes (always lossless). Using it under `jax.vmap` is
refused: the Python environment has one state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from agentax.environments.batched_py_environment import BatchedPyEnvironment
from agentax.environments.jax_environment import JaxEnvironment
from agentax.environments.py_environment import PyEnvironment
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts


def _refuse_vmap(fn):
    wrapped = jax.custom_batching.custom_vmap(fn)

    @wrapped.def_vmap
    def _rule(axis_size, in_batched, *args):
        raise ValueError("JaxPyEnvironment cannot be used under jax.vmap: it steps one Python "
                         "environment with one state. Batch on the Python side instead "
                         "(BatchedPyEnvironment / ParallelPyEnvironment).")

    return wrapped


def _to_jax_dtype(name: str, spec: array_spec.ArraySpec, value, dtype) -> np.ndarray:
    """`value` (of `spec`'s dtype) as `dtype`: floats rounded, integers range-checked."""
    arr = np.asarray(value)
    if arr.dtype != spec.dtype:
        raise ValueError(f"JaxPyEnvironment: the Python environment returned `{name}` of dtype {arr.dtype}, "
                         f"but its spec says {spec.dtype}.\n  spec: {spec!r}")
    if arr.dtype == dtype:
        return arr
    if np.issubdtype(dtype, np.integer) and arr.size and (
            arr.min() < np.iinfo(dtype).min or arr.max() > np.iinfo(dtype).max):
        raise ValueError(f"JaxPyEnvironment: `{name}` {arr} does not fit JAX's {dtype}")
    return arr.astype(dtype)


class JaxPyEnvironment(JaxEnvironment):
    """Wraps `py_env` so compiled drivers and TF-Agents-style code can step it."""

    def __init__(self, py_env: PyEnvironment):
        if not isinstance(py_env, PyEnvironment):
            raise TypeError(f"JaxPyEnvironment: `py_env` must be a PyEnvironment, got {type(py_env).__name__}")
        self.py_env = py_env
        self.pyenv = py_env if py_env.batched else BatchedPyEnvironment([py_env])  # TF-Agents' name
        super().__init__(self.pyenv.batch_size)
        self._py_action_spec = py_env.action_spec()
        self._py_time_step_spec = py_env.time_step_spec()
        self._observation_spec = array_spec.to_jax_spec(py_env.observation_spec())
        self._action_spec = array_spec.to_jax_spec(self._py_action_spec)
        outer = (self.batch_size,)
        self._time_step_shapes = array_spec.map_spec(
            lambda s: jax.ShapeDtypeStruct(outer + s.shape, s.dtype), self.time_step_spec())
        # Per-leaf tables, so each host step flattens once instead of mapping over nests.
        self._time_step_treedef = jax.tree.structure(self._time_step_shapes)
        self._py_leaf_specs = array_spec.flatten(self._py_time_step_spec)
        self._leaf_names = [name for name, field in zip(ts.TimeStep._fields, self._py_time_step_spec)
                            for _ in array_spec.flatten(field)]
        self._jax_leaf_dtypes = [shape.dtype for shape in jax.tree.leaves(self._time_step_shapes)]
        self._py_action_dtypes = array_spec.map_spec(lambda s: s.dtype, self._py_action_spec)
        self._host_reset = _refuse_vmap(lambda key: io_callback(
            self._reset_on_host, self._time_step_shapes, key, ordered=True))
        self._host_step = _refuse_vmap(lambda action: io_callback(
            self._step_on_host, self._time_step_shapes, action, ordered=True))

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def reward_spec(self):
        return array_spec.to_jax_spec(self.py_env.reward_spec())

    def discount_spec(self):
        return array_spec.to_jax_spec(self.py_env.discount_spec())

    # ---- host side
    def _to_jax_side(self, time_step: ts.TimeStep) -> ts.TimeStep:
        leaves = jax.tree.leaves(time_step)
        return jax.tree.unflatten(self._time_step_treedef, [
            _to_jax_dtype(name, spec, x, dtype) for name, spec, x, dtype in zip(
                self._leaf_names, self._py_leaf_specs, leaves, self._jax_leaf_dtypes)])

    def _to_py_action(self, action):
        # JAX-side dtypes are the Python ones narrowed (int64 -> int32), so widening back
        # is lossless; the Python environment checks the values itself.
        return jax.tree.map(lambda x, dtype: np.asarray(x).astype(dtype, copy=False), action, self._py_action_dtypes)

    def _reset_on_host(self, key):
        return self._to_jax_side(self.pyenv.reset())

    def _step_on_host(self, action):
        return self._to_jax_side(self.pyenv.step(self._to_py_action(action)))

    # ---- the pure interface (the state is a step counter; the real state lives on the host)
    def _reset(self, key):
        raise NotImplementedError  # reset/step below talk to the host directly

    _step = _reset

    def reset(self, key=None):
        """`reset(key) -> (state, time_step)` (pure, for compiled code); `reset()` -> time step."""
        if key is None:
            return self._as_jax(self._reset_on_host(None))
        return jnp.zeros((), jnp.int32), self._host_reset(key)

    def step(self, *args):
        """`step(state, action) -> (state, time_step)` (pure); `step(action)` -> time step."""
        if len(args) == 1:
            action = self._check_action(args[0])
            return self._as_jax(self._step_on_host(action))
        if len(args) != 2:
            raise TypeError(f"JaxPyEnvironment.step takes (action) or (state, action), got {len(args)} arguments")
        state, action = args
        action = self._check_action(action)
        return state + 1, self._host_step(action)

    def current_time_step(self) -> ts.TimeStep:
        """The Python environment's current time step, on the JAX side (resets if there is none)."""
        return self._as_jax(self._to_jax_side(self.pyenv.current_time_step()))

    @staticmethod
    def _as_jax(time_step: ts.TimeStep) -> ts.TimeStep:
        return jax.tree.map(jnp.asarray, time_step)

    def render(self, state=None) -> np.ndarray:
        return self.pyenv.render("rgb_array")[0]

    def close(self) -> None:
        self.pyenv.close()
