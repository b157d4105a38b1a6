"""`PyUniformReplayBuffer(data_spec, capacity)`: TF-Agents' Python ring buffer, sampled uniformly.

As in TF-Agents: `add_batch` takes a batch of exactly one item (FIFO overwrite
when full); `get_next(sample_batch_size=None, num_steps=None, time_stacked=True)`
draws a start uniformly from `[0, size - num_steps]` (counted from the oldest
item) and returns `num_steps` consecutive items; `gather_all()` returns the
whole storage with a leading batch dimension of 1; `num_frames` is not
implemented. Where TF-Agents returns uninitialised arrays (sampling an empty
buffer, or fewer items than `num_steps`), agentax raises `ValueError`.
Storage is one preallocated array per leaf; sampling a batch is one gather.
"""

from __future__ import annotations

import threading

import jax
import numpy as np

from agentax.specs import array_spec


class PyUniformReplayBuffer:
    def __init__(self, data_spec, capacity: int, seed: int | None = None):
        if capacity < 1:
            raise ValueError(f"`capacity` must be >= 1, got {capacity}")
        self._data_spec = data_spec
        self._capacity = int(capacity)
        self._storage = array_spec.zeros_from_spec(data_spec, (self._capacity,))
        self._leaves, self._treedef = jax.tree.flatten(self._storage)
        self._lock = threading.Lock()
        self._rng = np.random.default_rng(seed)
        self._size = 0
        self._cur_id = 0
        self._item_count = 0

    @property
    def data_spec(self):
        return self._data_spec

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def size(self) -> int:
        return self._size

    def num_frames(self):
        raise NotImplementedError("num_frames is not yet implemented in PyUniformReplayBuffer")

    def add_batch(self, items) -> None:
        """Add one item given with a leading batch dimension of 1."""
        array_spec.validate(self._data_spec, items, "items", outer_dims=(np.shape(jax.tree.leaves(items)[0])[0],))
        batch = np.shape(jax.tree.leaves(items)[0])[0]
        if batch != 1:
            raise NotImplementedError("PyUniformReplayBuffer only supports a batch size of 1, but received "
                                      f"`items` with batch size {batch}.")
        with self._lock:
            for leaf, value in zip(self._leaves, jax.tree.leaves(items)):
                leaf[self._cur_id] = value[0]
            self._size = min(self._size + 1, self._capacity)
            self._cur_id = (self._cur_id + 1) % self._capacity
            self._item_count += 1

    def get_next(self, sample_batch_size: int | None = None, num_steps: int | None = None,
                 time_stacked: bool = True):
        """Items (`[B]`, `[B, T]` or as a list of T when not `time_stacked`), sampled uniformly."""
        n = 1 if sample_batch_size is None else sample_batch_size
        steps = 1 if num_steps is None else num_steps
        with self._lock:
            if self._size < steps:
                raise ValueError(f"PyUniformReplayBuffer holds {self._size} items, fewer than num_steps={steps}"
                                 if self._size else "PyUniformReplayBuffer is empty: nothing to sample")
            start = self._rng.integers(0, self._size - steps + 1, size=n)
            if self._size == self._capacity:
                start = start + self._cur_id
            idx = (start[:, None] + np.arange(steps)) % self._capacity  # [n, steps]
            if num_steps is None:
                idx = idx[:, 0]
            if sample_batch_size is None:
                idx = idx[0]
            out = jax.tree.unflatten(self._treedef, [leaf[idx] for leaf in self._leaves])
        if num_steps is not None and not time_stacked:
            axis = 0 if sample_batch_size is None else 1
            return [jax.tree.map(lambda x: np.take(x, t, axis=axis), out) for t in range(num_steps)]
        return out

    def as_dataset(self, sample_batch_size: int | None = None, num_steps: int | None = None,
                   sequence_preprocess_fn=None, num_parallel_calls=None):
        """An endless iterator of `get_next(sample_batch_size, num_steps)`."""
        if sequence_preprocess_fn is not None:
            raise NotImplementedError("sequence_preprocess_fn is not supported.")
        if num_parallel_calls is not None:
            raise NotImplementedError("PyUniformReplayBuffer does not support num_parallel_calls (must be None).")
        while True:
            yield self.get_next(sample_batch_size, num_steps)

    def gather_all(self):
        """The whole storage, in storage order, with a leading batch dimension of 1."""
        with self._lock:
            return jax.tree.map(lambda x: x[None].copy(), self._storage)

    def clear(self) -> None:
        with self._lock:
            self._size = 0
            self._cur_id = 0
