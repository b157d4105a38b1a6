"""Compiled metrics: the Python metrics' names and results, as pure JAX observers.

Each metric has a pure core, `init(batch_size) -> state`,
`update(state, trajectory) -> state` and `result(state)`, which compiled drivers
thread through their loop, and a thin shell holding the current `state`, so
`metric.result()` and `metric.reset()` read as in TF-Agents. Calling a metric on a
trajectory outside a driver updates its state too. The batch size is inferred
(drivers pass the environment's).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agentax.trajectories import time_step as ts


class JaxObserver:
    """A compiled observer: `init(batch_size) -> state`, `update(state, item) -> state`.

    `state` holds the current state for stateful use; drivers read and write it.
    """

    state: Any = None

    def init(self, batch_size: int | None):
        raise NotImplementedError

    def update(self, state, item):
        raise NotImplementedError

    def reset(self) -> None:
        self.state = None

    def __call__(self, item) -> None:
        """Eager use: update the held state with one (batched or unbatched) trajectory."""
        if self.state is None:
            shape = jnp.shape(item.step_type)
            self.state = self.init(shape[0] if shape else None)
        if not hasattr(self, "_update_jit"):
            self._update_jit = jax.jit(self.update)
        self.state = self._update_jit(self.state, item)


class JaxMetric(JaxObserver):
    """A compiled observer with a `result`."""

    def __init__(self, name: str):
        self.name = name
        self.state = None

    def result(self, state=None):
        """The metric's value for `state` (default: the held state)."""
        if state is None:
            state = self.state if self.state is not None else self.init(None)
        return self._result(state)

    def _result(self, state):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(result={self.result()})"


def _flat(x):
    return jnp.reshape(x, (-1,))


class _Counter(JaxMetric):
    """Counts the trajectories (summed over the batch) for which `_counts(traj)` is true."""

    def init(self, batch_size):
        return jnp.zeros((), jnp.int32)

    def update(self, state, trajectory):
        return state + jnp.sum(self._counts(trajectory)).astype(jnp.int32)

    def _counts(self, trajectory):
        raise NotImplementedError

    def _result(self, state):
        return state


class NumberOfEpisodes(_Counter):
    """Counts finished episodes (`is_last()`), summed over the batch."""

    def __init__(self, name: str = "NumberOfEpisodes"):
        super().__init__(name)

    def _counts(self, trajectory):
        return trajectory.is_last()


class EnvironmentSteps(_Counter):
    """Counts environment steps (`~is_boundary()`), summed over the batch."""

    def __init__(self, name: str = "EnvironmentSteps"):
        super().__init__(name)

    def _counts(self, trajectory):
        return ~trajectory.is_boundary()


class EpisodeBufferState(NamedTuple):
    running: jax.Array   # [batch] the quantity accumulated in each ongoing episode
    buffer: jax.Array    # [buffer_size] values of the last finished episodes (circular)
    count: jax.Array     # how many slots of `buffer` are filled
    next: jax.Array      # where the next finished episode goes


class _EpisodeStatistic(JaxMetric):
    """Accumulates a per-episode quantity; buffers it for the last `buffer_size` episodes."""

    def __init__(self, name: str, buffer_size: int = 10):
        super().__init__(name)
        if buffer_size < 1:
            raise ValueError(f"{type(self).__name__}: `buffer_size` must be >= 1, got {buffer_size}")
        self.buffer_size = buffer_size

    def init(self, batch_size):
        return EpisodeBufferState(jnp.zeros((batch_size or 1,), jnp.float32),
                                  jnp.zeros((self.buffer_size,), jnp.float32),
                                  jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    def _increment(self, trajectory):
        raise NotImplementedError

    def update(self, state, trajectory):
        size = self.buffer_size
        is_first = _flat(trajectory.step_type == ts.StepType.FIRST)
        is_last = _flat(trajectory.next_step_type == ts.StepType.LAST)
        running = jnp.where(is_first, 0.0, state.running) + _flat(self._increment(trajectory))
        # Write the finished episodes in batch order; when more than `size` finish
        # at once, only the last `size` of them are kept.
        finished = jnp.sum(is_last).astype(jnp.int32)
        rank = jnp.cumsum(is_last) - 1
        skipped = jnp.maximum(finished - size, 0)
        keep = is_last & (rank >= skipped)
        slot = jnp.where(keep, (state.next + rank - skipped) % size, size)
        buffer = state.buffer.at[slot].set(running, mode="drop")
        written = jnp.minimum(finished, size)
        return EpisodeBufferState(jnp.where(is_last, 0.0, running), buffer,
                                  jnp.minimum(state.count + written, size), (state.next + written) % size)

    def _summary(self, values, mask):
        raise NotImplementedError

    def _result(self, state):
        mask = jnp.arange(self.buffer_size) < state.count
        return jnp.where(state.count > 0, self._summary(state.buffer, mask), 0.0)


class AverageReturnMetric(_EpisodeStatistic):
    """Average undiscounted return of the last `buffer_size` finished episodes (0.0 before any)."""

    def __init__(self, name: str = "AverageReturn", buffer_size: int = 10):
        super().__init__(name, buffer_size)

    def _increment(self, trajectory):
        return trajectory.reward

    def _summary(self, values, mask):
        return jnp.sum(jnp.where(mask, values, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


class AverageEpisodeLengthMetric(AverageReturnMetric):
    """Average length (non-boundary steps) of the last `buffer_size` finished episodes."""

    def __init__(self, name: str = "AverageEpisodeLength", buffer_size: int = 10):
        super().__init__(name, buffer_size)

    def _increment(self, trajectory):
        return (~trajectory.is_boundary()).astype(jnp.float32)
