"""`JaxPrioritizedSequenceReplayBuffer`: prioritized sequences over a step buffer, as pure functions.

The compiled counterpart of a Reverb table with a `Prioritized` selector fed by
`ReverbAddTrajectoryObserver(sequence_length=L, stride_length=1)`: steps are stored once,
as in `JaxUniformReplayBuffer` (one ring segment per batch row), and every complete
sequence of `L` consecutive stored steps is an item with a priority. A new item gets
the largest priority seen so far (Reverb's writers are usually given a fixed priority;
max-priority insertion is what prioritized DQN does), and it is drawn with probability
`priority ** priority_exponent / sum` (a `SumTree` over the `batch_size * max_length`
start slots; a slot whose sequence is incomplete or partly overwritten weighs 0).

`add_sequence` / `add_batch` write steps, `sample(state, key, n)` returns
`(items [n, L, ...], PrioritizedSequenceInfo(indices, probabilities, num_items))`,
`update_priorities(state, indices, priorities)` sets new priorities (from TD errors).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from agentax.replay_buffers.jax_prioritized_replay_buffer import SumTree
from agentax.replay_buffers.jax_uniform_replay_buffer import JaxUniformReplayBuffer, UniformBufferState


class PrioritizedSequenceInfo(NamedTuple):
    indices: jax.Array        # [n] start slots (row * max_length + column), for `update_priorities`
    probabilities: jax.Array  # [n]
    num_items: jax.Array      # sequences that can be drawn


class PrioritizedSequenceState(NamedTuple):
    steps: UniformBufferState
    tree: jax.Array
    max_priority: jax.Array


@dataclasses.dataclass(frozen=True)
class JaxPrioritizedSequenceReplayBuffer:
    data_spec: object
    batch_size: int
    max_length: int
    sequence_length: int
    priority_exponent: float = 0.6

    def __post_init__(self):
        if not (isinstance(self.sequence_length, int) and 1 <= self.sequence_length <= self.max_length):
            raise ValueError(f"`sequence_length` must be an integer in [1, max_length={self.max_length}], "
                             f"got {self.sequence_length!r}")
        if not self.priority_exponent >= 0:
            raise ValueError(f"`priority_exponent` must be a number >= 0, got {self.priority_exponent}")

    @property
    def _steps(self) -> JaxUniformReplayBuffer:
        return JaxUniformReplayBuffer(self.data_spec, self.batch_size, self.max_length)

    @property
    def _tree(self) -> SumTree:
        return SumTree(self.batch_size * self.max_length, self.priority_exponent)

    def init(self) -> PrioritizedSequenceState:
        return PrioritizedSequenceState(self._steps.init(), self._tree.init(), jnp.array(1.0, jnp.float32))

    def add_sequence(self, state: PrioritizedSequenceState, items, length) -> PrioritizedSequenceState:
        """Write the first `length` of `items`' `T` steps per row (leaves `[batch_size, T, ...]`)."""
        steps = jax.tree.leaves(items)[0].shape[1]
        span = steps + self.sequence_length - 1
        if span > self.max_length:
            raise ValueError(f"add_sequence: {steps} steps per row with sequence_length={self.sequence_length} "
                             f"need max_length >= {span}, got {self.max_length}")
        last = state.steps.last_id
        new_last = last + jnp.asarray(length, jnp.int32)
        # Start ids whose sequences the new steps complete or break: the L-1 before them and theirs.
        starts = last + 2 - self.sequence_length + jnp.arange(span, dtype=jnp.int32)
        complete = starts + self.sequence_length - 1 <= new_last
        touched = (starts >= 0) & (starts <= new_last)
        weight = jnp.where(complete, self._tree.weights(state.max_priority), 0.0)
        cols = starts % self.max_length
        slots = jnp.arange(self.batch_size)[:, None] * self.max_length + cols
        slots = jnp.where(touched, slots, self.batch_size * self.max_length)  # untouched: dropped
        tree = self._tree.set(state.tree, slots.reshape(-1), jnp.broadcast_to(weight, slots.shape).reshape(-1))
        return PrioritizedSequenceState(self._steps.add_sequence(state.steps, items, length), tree,
                                        state.max_priority)

    def add_batch(self, state: PrioritizedSequenceState, items) -> PrioritizedSequenceState:
        """Write one step per row (leaves `[batch_size, ...]`)."""
        return self.add_sequence(state, jax.tree.map(lambda x: x[:, None], items), 1)

    def num_items(self, state: PrioritizedSequenceState) -> jax.Array:
        stored = jnp.minimum(state.steps.last_id + 1, self.max_length)
        return jnp.maximum(stored - self.sequence_length + 1, 0) * self.batch_size

    def can_sample(self, state: PrioritizedSequenceState, num_steps: int | None = None) -> jax.Array:
        return (self.num_items(state) > 0) & (state.tree[1] > 0)

    def sample(self, state: PrioritizedSequenceState, key, sample_batch_size: int):
        """`(items [n, sequence_length, ...], PrioritizedSequenceInfo)`; garbage unless `can_sample`."""
        indices = self._tree.find(state.tree, jax.random.uniform(key, (sample_batch_size,)))
        rows, start = indices // self.max_length, indices % self.max_length
        cols = (start[:, None] + jnp.arange(self.sequence_length)) % self.max_length
        items = jax.tree.map(lambda x: x[rows[:, None], cols], state.steps.data)
        info = PrioritizedSequenceInfo(indices, self._tree.probabilities(state.tree, indices), self.num_items(state))
        return items, info

    def update_priorities(self, state: PrioritizedSequenceState, indices, priorities) -> PrioritizedSequenceState:
        """New priorities for sampled items (`indices` from `sample`; duplicates: one of them wins)."""
        priorities = jnp.asarray(priorities, jnp.float32)
        tree = self._tree.set(state.tree, indices, self._tree.weights(priorities))
        return state._replace(tree=tree, max_priority=jnp.maximum(state.max_priority, priorities.max()))


def importance_weights(info: PrioritizedSequenceInfo, exponent) -> jax.Array:
    """Prioritized replay's importance-sampling weights `(N * P(i)) ** -exponent`, scaled so the
    largest in the batch is 1 (Schaul et al. 2016)."""
    weights = jnp.power(info.num_items * info.probabilities, -exponent)
    return weights / jnp.max(weights)
