"""`TrajectoryRecorder`: a compiled observer that writes each step's trajectory into a fixed-size array."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agentax.core import JaxObserver
from agentax.specs import array_spec


class RecorderState(NamedTuple):
    data: Any          # a Trajectory with leading dims [capacity, batch]
    length: jax.Array  # how many steps were written


class TrajectoryRecorder(JaxObserver):
    """Records up to `capacity` steps of trajectories matching `trajectory_spec`.

    `state.data` is time-major (`[capacity, batch, ...]`); `batch_major(state)`
    gives `([batch, capacity, ...], mask [batch, capacity])`. Steps past
    `capacity` are dropped (the length stops at `capacity`).
    """

    def __init__(self, trajectory_spec, capacity: int):
        if capacity < 1:
            raise ValueError(f"TrajectoryRecorder: `capacity` must be >= 1, got {capacity}")
        self.spec = array_spec.to_jax_spec(trajectory_spec)
        self.capacity = capacity

    def init(self, batch_size):
        outer = (self.capacity,) + (() if batch_size is None else (batch_size,))
        data = array_spec.map_spec(lambda s: jnp.zeros(outer + s.shape, s.dtype), self.spec)
        return RecorderState(data, jnp.zeros((), jnp.int32))

    def update(self, state: RecorderState, trajectory):
        # Out-of-range writes (past `capacity`) are dropped.
        data = jax.tree.map(lambda buf, x: buf.at[state.length].set(x.astype(buf.dtype), mode="drop"),
                            state.data, trajectory)
        return RecorderState(data, jnp.minimum(state.length + 1, self.capacity))

    def batch_major(self, state: RecorderState):
        data = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), state.data)
        batch = jax.tree.leaves(data)[0].shape[0]
        mask = jnp.broadcast_to(jnp.arange(self.capacity) < state.length, (batch, self.capacity))
        return data, mask.astype(jnp.float32)
