"""`JaxPyEnvironment`: a `PyEnvironment` stepped from inside compiled code.

The reference's `TFPyEnvironment`. Every `reset`/`step` is an ordered host
callback (`jax.experimental.io_callback`), so a compiled driver can run a
Gymnasium environment, one host round trip per step. 64-bit dtypes in the
Python environment's specs appear as their 32-bit counterparts on the JAX side
(JAX's default); actions are converted back before they reach the environment.
Using it under `jax.vmap` is refused: the Python environment has one state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

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


class JaxPyEnvironment(JaxEnvironment):
    """Wraps `py_env` (batched or not) so compiled drivers can step it."""

    def __init__(self, py_env: PyEnvironment):
        super().__init__(py_env.batch_size if py_env.batched else None)
        self.py_env = py_env
        self._py_action_spec = py_env.action_spec()
        self._observation_spec = array_spec.to_jax_spec(py_env.observation_spec())
        self._action_spec = array_spec.to_jax_spec(self._py_action_spec)
        outer = (self.batch_size,) if self.batched else ()
        self._time_step_shapes = array_spec.map_spec(
            lambda s: jax.ShapeDtypeStruct(outer + s.shape, s.dtype), self.time_step_spec())
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

    # ---- host side
    def _to_jax_side(self, time_step: ts.TimeStep) -> ts.TimeStep:
        return jax.tree.map(lambda shape, x: np.asarray(x, shape.dtype), self._time_step_shapes, time_step)

    def _reset_on_host(self, key):
        return self._to_jax_side(self.py_env.reset())

    def _step_on_host(self, action):
        action = array_spec.map_spec(lambda s, a: np.asarray(a, s.dtype), self._py_action_spec, action)
        return self._to_jax_side(self.py_env.step(action))

    # ---- the pure interface (the state is a step counter; the real state lives on the host)
    def _reset(self, key):
        raise NotImplementedError  # reset/step below talk to the host directly

    _step = _reset

    def reset(self, key):
        return jnp.zeros((), jnp.int32), self._host_reset(key)

    def step(self, state, action):
        self._check_action(action)
        return state + 1, self._host_step(action)

    def render(self, state=None) -> np.ndarray:
        frame = self.py_env.render("rgb_array")
        return frame[0] if self.batched else frame
