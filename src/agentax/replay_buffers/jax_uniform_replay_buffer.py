"""`JaxUniformReplayBuffer`: the compiled loop's `TFUniformReplayBuffer`, as pure functions.

`buffer = JaxUniformReplayBuffer(data_spec, batch_size, max_length)` is a frozen
description; the state is a pytree, so `init`, `add_batch`, `sample` and
`can_sample` work inside `jit`, `vmap` and `lax.scan`. As in TF-Agents, each of
the `batch_size` rows of an added batch goes to its own ring segment of
`max_length`; `sample` picks a segment and a start id uniformly from the valid
range (`[0, last_id + 2 - num_steps)` before the segments fill, then the last
`max_length - num_steps + 1` ids), reads `num_steps` consecutive steps and
reports `BufferInfo(ids, probabilities)` with probability
`1 / (num_valid_ids * batch_size)`. Sampling a buffer that cannot be sampled
gives garbage (nothing can raise inside `jit`): check `can_sample` first.

Why not flashbax underneath: its trajectory buffer samples by its own rules
(a `period`, sequences that never cross the write head, no probabilities or
ids), so matching TF-Agents would need a layer over it, and this buffer is
one `dynamic_update_slice` per add and one gather per sample; the benchmark
(`benchmarks/replay.py`) measures both side by side.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agentax.specs import array_spec


class BufferInfo(NamedTuple):
    ids: Any
    probabilities: Any


class UniformBufferState(NamedTuple):
    data: Any          # the data spec's nest, each leaf [batch_size, max_length, ...]
    ids: jax.Array     # [batch_size, max_length] global id of each stored step
    last_id: jax.Array  # id of the last added step, -1 when empty


@dataclasses.dataclass(frozen=True)
class JaxUniformReplayBuffer:
    data_spec: Any
    batch_size: int
    max_length: int = 1000

    def __post_init__(self):
        if self.batch_size < 1 or self.max_length < 1:
            raise ValueError(f"`batch_size` ({self.batch_size}) and `max_length` ({self.max_length}) must be >= 1")

    @property
    def capacity(self) -> int:
        return self.batch_size * self.max_length

    def init(self) -> UniformBufferState:
        data = array_spec.map_spec(
            lambda s: jnp.zeros((self.batch_size, self.max_length) + s.shape, array_spec.jax_dtype(s.dtype)),
            self.data_spec)
        return UniformBufferState(data, jnp.full((self.batch_size, self.max_length), -1, jnp.int32),
                                  jnp.array(-1, jnp.int32))

    def add_batch(self, state: UniformBufferState, items) -> UniformBufferState:
        """Write one step per row (`items` leaves shaped `[batch_size, ...]`)."""
        check_items(state.data, items, lambda buf: (self.batch_size,) + buf.shape[2:])
        new_id = state.last_id + 1
        pos = new_id % self.max_length

        def write(buf, x):
            return jax.lax.dynamic_update_index_in_dim(buf, x, pos, axis=1)

        data = jax.tree.map(write, state.data, items)
        ids = jax.lax.dynamic_update_index_in_dim(state.ids, jnp.full((self.batch_size,), new_id, jnp.int32),
                                                  pos, axis=1)
        return UniformBufferState(data, ids, new_id)

    def add_sequence(self, state: UniformBufferState, items, length) -> UniformBufferState:
        """Write the first `length` steps of `items` (leaves `[batch_size, T, ...]`, `T <= max_length`;
        `length` may be traced) as `length` consecutive `add_batch` calls would. One scatter,
        so under `vmap` with a per-seed `length` nothing loops over the buffer."""
        steps = jax.tree.leaves(items)[0].shape[1]
        if steps > self.max_length:
            raise ValueError(f"add_sequence: `items` hold {steps} steps per row, more than "
                             f"max_length={self.max_length}")
        check_items(state.data, items, lambda buf: (self.batch_size, steps) + buf.shape[2:])
        new_ids = state.last_id + 1 + jnp.arange(steps, dtype=jnp.int32)
        cols = jnp.where(jnp.arange(steps) < length, new_ids % self.max_length, self.max_length)  # past: dropped
        data = jax.tree.map(lambda buf, x: buf.at[:, cols].set(x, mode="drop"), state.data, items)
        ids = state.ids.at[:, cols].set(jnp.broadcast_to(new_ids, (self.batch_size, steps)), mode="drop")
        return UniformBufferState(data, ids, state.last_id + jnp.asarray(length, jnp.int32))

    def _valid_range(self, last_id, num_steps: int):
        full = last_id >= self.max_length
        min_id = jnp.where(full, last_id + 1 - self.max_length, 0)
        max_id = jnp.where(full, last_id + 2 - num_steps, jnp.maximum(last_id + 2 - num_steps, 0))
        return min_id, max_id

    def can_sample(self, state: UniformBufferState, num_steps: int | None = None) -> jax.Array:
        min_id, max_id = self._valid_range(state.last_id, num_steps or 1)
        return max_id > min_id

    def num_frames(self, state: UniformBufferState) -> jax.Array:
        return jnp.minimum(state.last_id + 1, self.max_length) * self.batch_size

    def sample(self, state: UniformBufferState, key: jax.Array, sample_batch_size: int | None = None,
               num_steps: int | None = None):
        """`(items, BufferInfo)`: items `[B, T, ...]` (no `B` without a batch size, no `T` without
        `num_steps`), ids like the items' leading dims, probabilities `[B]`."""
        n = sample_batch_size or 1
        steps = num_steps or 1
        min_id, max_id = self._valid_range(state.last_id, steps)
        num_ids = jnp.maximum(max_id - min_id, 1)
        flat = jax.random.randint(key, (n,), 0, num_ids * self.batch_size)  # (segment, start) pairs
        rows, start = flat // num_ids, min_id + flat % num_ids
        cols = (start[:, None] + jnp.arange(steps)) % self.max_length  # [n, steps]
        gather = lambda x: x[rows[:, None], cols]  # noqa: E731
        items, ids = jax.tree.map(gather, state.data), gather(state.ids)
        probability = 1.0 / ((max_id - min_id).astype(jnp.float32) * self.batch_size)
        probs = jnp.full((n,), probability)
        if num_steps is None:
            items, ids = jax.tree.map(lambda x: x[:, 0], (items, ids))
        if sample_batch_size is None:
            items, ids, probs = jax.tree.map(lambda x: x[0], (items, ids, probs))
        return items, BufferInfo(ids, probs)

    def gather_all(self, state: UniformBufferState):
        """Every segment in time order, oldest first: leaves `[batch_size, num_valid, ...]` (outside jit)."""
        num = int(jnp.minimum(state.last_id + 1, self.max_length))
        first = int(state.last_id) + 1 - num
        cols = (jnp.arange(num) + first) % self.max_length
        return jax.tree.map(lambda x: x[:, cols], state.data)

    def clear(self, state: UniformBufferState) -> UniformBufferState:
        return state._replace(last_id=jnp.array(-1, jnp.int32))


def check_items(storage, items, expected_shape) -> None:
    """Refuse (at trace time) items whose structure, shapes or dtypes differ from the storage's."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(storage)
    try:
        values = treedef.flatten_up_to(items)
    except ValueError as err:
        raise ValueError(f"`items` does not match the buffer's data_spec structure: {err}") from None
    for (path, buf), x in zip(leaves, values):
        shape, dtype = expected_shape(buf), buf.dtype
        if jnp.shape(x) != shape or jnp.result_type(x) != dtype:
            raise ValueError(f"`items` leaf {jax.tree_util.keystr(path) or '<root>'}: expected shape {shape} dtype "
                             f"{dtype}, got shape {jnp.shape(x)} dtype {jnp.result_type(x)}")


class UniformReplayBuffer:
    """`TFUniformReplayBuffer` used statefully, as TF-Agents' tutorials do (`add_batch` as a driver
    observer, `get_next`, `as_dataset(...)`, `gather_all`, `clear`): the state of the pure
    `JaxUniformReplayBuffer` (`.core`) held here, each call one compiled function. Sampling draws
    from its own key stream (`seed`); checkpointable (`get_checkpoint_state`)."""

    def __init__(self, data_spec, batch_size: int, max_length: int = 1000, seed: int = 0):
        self.core = JaxUniformReplayBuffer(data_spec, batch_size, max_length)
        self._state = self.core.init()
        self._key = jax.random.PRNGKey(seed)
        self._add = jax.jit(self.core.add_batch)
        self._sample = jax.jit(self.core.sample, static_argnums=(2, 3))
        self._can_sample = jax.jit(self.core.can_sample, static_argnums=1)

    @property
    def data_spec(self):
        return self.core.data_spec

    @property
    def capacity(self) -> int:
        return self.core.capacity

    def num_frames(self) -> int:
        return int(self.core.num_frames(self._state))

    def add_batch(self, items) -> None:
        """One step per row: `items` leaves `[batch_size, ...]` (a batched driver's trajectory)."""
        self._state = self._add(self._state, jax.tree.map(jnp.asarray, items))

    def get_next(self, sample_batch_size: int | None = None, num_steps: int | None = None,
                 time_stacked: bool = True):
        """`(items, BufferInfo)` as `JaxUniformReplayBuffer.sample`; with `time_stacked=False`, items and
        ids are tuples of `num_steps` steps (as TF-Agents'). Raises when no sequence of `num_steps` can be
        drawn (TF-Agents asserts that the buffer is not empty)."""
        if not bool(self._can_sample(self._state, num_steps)):
            raise ValueError(f"UniformReplayBuffer is empty or holds fewer than num_steps={num_steps or 1} steps "
                             "per row. Make sure to add items before sampling the buffer.")
        self._key, key = jax.random.split(self._key)
        items, info = self._sample(self._state, key, sample_batch_size, num_steps)
        if num_steps is not None and not time_stacked:
            axis = 0 if sample_batch_size is None else 1
            items, ids = (tuple(jax.tree.map(lambda x: jnp.take(x, t, axis=axis), tree) for t in range(num_steps))
                          for tree in (items, info.ids))
            info = info._replace(ids=ids)
        return items, info

    def as_dataset(self, sample_batch_size: int | None = None, num_steps: int | None = None,
                   num_parallel_calls=None, sequence_preprocess_fn=None, single_deterministic_pass: bool = False):
        """An endless iterator of `get_next(sample_batch_size, num_steps)` (`.prefetch(n)` returns it)."""
        if single_deterministic_pass:
            raise NotImplementedError("UniformReplayBuffer.as_dataset: single_deterministic_pass is not "
                                      "supported; use gather_all()")
        if sequence_preprocess_fn is not None:
            raise NotImplementedError("UniformReplayBuffer.as_dataset: sequence_preprocess_fn is not supported")
        return _Samples(lambda: self.get_next(sample_batch_size, num_steps))

    def gather_all(self):
        """Every row in time order, oldest first: leaves `[batch_size, num_valid, ...]`."""
        return self.core.gather_all(self._state)

    def clear(self) -> None:
        self._state = self.core.clear(self._state)

    def get_checkpoint_state(self):
        return {"state": self._state, "key": self._key}

    def set_checkpoint_state(self, state) -> None:
        self._state = UniformBufferState(*jax.tree.map(jnp.asarray, tuple(state["state"])))
        self._key = jnp.asarray(state["key"], jnp.uint32)


class _Samples:
    """An endless iterator of `draw()`; `prefetch(n)` (tf.data's) returns it unchanged."""

    def __init__(self, draw):
        self._draw = draw

    def __iter__(self):
        return self

    def __next__(self):
        return self._draw()

    def prefetch(self, buffer_size: int) -> "_Samples":
        return self
