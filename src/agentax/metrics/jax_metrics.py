"""Compiled metrics: the Python metrics' names and results, as pure JAX observers.

Each metric has a pure core, `init(batch_size) -> state`,
`update(state, trajectory) -> state` and `result(state)`, which compiled drivers
thread through their loop, and a thin shell holding the current `state`, so
`metric.result()` and `metric.reset()` read as in TF-Agents. Calling a metric on a
trajectory outside a driver updates its state too. The batch size is inferred
(drivers pass the environment's); the episode metrics also take TF-Agents'
`batch_size=` argument, checked against what they observe. Averages are float32.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from agentax.core import JaxObserver  # re-exported: its old home
from agentax.trajectories import time_step as ts


class JaxMetric(JaxObserver):
    """A compiled observer with a `result`."""

    batch_size: int | None = None  # None: inferred from what the metric observes

    def __init__(self, name: str):
        self.name = name
        self.state = None

    def result(self, state=None):
        """The metric's value for `state` (default: the held state)."""
        if state is None:
            state = self.state if self.state is not None else self.init(self.batch_size)
        return self._result(state)

    def _result(self, state):
        raise NotImplementedError

    def __call__(self, trajectory) -> None:
        if not hasattr(trajectory, "next_step_type"):
            raise TypeError(f"{type(self).__name__} observes a `trajectory` (Trajectory), got "
                            f"{type(trajectory).__name__}; pass it in `observers`, not `transition_observers`")
        super().__call__(trajectory)

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
    """Accumulates a per-episode quantity; buffers it for the last `buffer_size` episodes
    and summarises the buffer (the mean unless a subclass says otherwise).

    `batch_size` is inferred from the driver or the first trajectory; ported code may
    pass it (TF-Agents requires it), and then a different batch is an error.
    """

    def __init__(self, name: str, buffer_size: int = 10, batch_size: int | None = None):
        super().__init__(name)
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
            raise ValueError(f"{type(self).__name__}: `buffer_size` must be an int >= 1, got {buffer_size!r}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 1):
            raise ValueError(f"{type(self).__name__}: `batch_size` must be an int >= 1 or None, "
                             f"got {batch_size!r}")
        self.buffer_size = buffer_size
        self.batch_size = batch_size

    def init(self, batch_size):
        if self.batch_size is not None and (batch_size or 1) != self.batch_size:
            raise ValueError(f"{type(self).__name__}: created with `batch_size`={self.batch_size}, but the "
                             f"trajectories it observes have batch size {batch_size or 1}")
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
        return jnp.sum(jnp.where(mask, values, 0.0)) / jnp.maximum(jnp.sum(mask), 1)

    def _result(self, state):
        mask = jnp.arange(self.buffer_size) < state.count
        return jnp.where(state.count > 0, self._summary(state.buffer, mask), 0.0).astype(jnp.float32)


class _ReturnStatistic(_EpisodeStatistic):
    """A statistic of undiscounted episode returns."""

    def _increment(self, trajectory):
        return trajectory.reward


class AverageReturnMetric(_ReturnStatistic):
    """Average undiscounted return of the last `buffer_size` finished episodes (0.0 before any)."""

    def __init__(self, name: str = "AverageReturn", buffer_size: int = 10, batch_size: int | None = None):
        super().__init__(name, buffer_size, batch_size)


class MaxReturnMetric(_ReturnStatistic):
    """Highest return among the last `buffer_size` finished episodes (0.0 before any)."""

    def __init__(self, name: str = "MaxReturn", buffer_size: int = 10, batch_size: int | None = None):
        super().__init__(name, buffer_size, batch_size)

    def _summary(self, values, mask):
        return jnp.max(jnp.where(mask, values, -jnp.inf))


class MinReturnMetric(_ReturnStatistic):
    """Lowest return among the last `buffer_size` finished episodes (0.0 before any)."""

    def __init__(self, name: str = "MinReturn", buffer_size: int = 10, batch_size: int | None = None):
        super().__init__(name, buffer_size, batch_size)

    def _summary(self, values, mask):
        return jnp.min(jnp.where(mask, values, jnp.inf))


class AverageEpisodeLengthMetric(_EpisodeStatistic):
    """Average length (non-boundary steps) of the last `buffer_size` finished episodes."""

    def __init__(self, name: str = "AverageEpisodeLength", buffer_size: int = 10, batch_size: int | None = None):
        super().__init__(name, buffer_size, batch_size)

    def _increment(self, trajectory):
        return (~trajectory.is_boundary()).astype(jnp.float32)
