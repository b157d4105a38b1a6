"""Python metrics: observers that summarise trajectories (mirrors `tf_agents.metrics.py_metrics`).

Every metric is a callable observer taking a `Trajectory`, batched or not; the
batch size is inferred from the first trajectory it sees.
"""

from __future__ import annotations

import collections

import numpy as np

from agentax.trajectories import time_step as ts

_FIRST, _LAST = int(ts.StepType.FIRST), int(ts.StepType.LAST)


class PyMetric:
    """Base of Python metrics: `__call__(traj)`, `result()`, `reset()`."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, trajectory) -> None:
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(result={self.result()})"


class NumberOfEpisodes(PyMetric):
    """Counts finished episodes: trajectories with `is_last()`."""

    def __init__(self, name: str = "NumberOfEpisodes"):
        super().__init__(name)
        self.reset()

    def __call__(self, trajectory) -> None:
        self._count += int(np.sum(trajectory.next_step_type == _LAST))

    def result(self) -> int:
        return self._count

    def reset(self) -> None:
        self._count = 0


class EnvironmentSteps(PyMetric):
    """Counts environment steps: trajectories that are not boundaries."""

    def __init__(self, name: str = "EnvironmentSteps"):
        super().__init__(name)
        self.reset()

    def __call__(self, trajectory) -> None:
        self._count += int(np.sum(trajectory.step_type != _LAST))

    def result(self) -> int:
        return self._count

    def reset(self) -> None:
        self._count = 0


class _EpisodeStatistic(PyMetric):
    """Accumulates a per-episode quantity and buffers its value for the last
    `buffer_size` finished episodes. Subclasses say what a step adds and how the
    buffer is summarised."""

    def __init__(self, name: str, buffer_size: int = 10):
        super().__init__(name)
        if buffer_size < 1:
            raise ValueError(f"{type(self).__name__}: `buffer_size` must be >= 1, got {buffer_size}")
        self.buffer_size = buffer_size
        self.reset()

    def reset(self) -> None:
        self._buffer: collections.deque = collections.deque(maxlen=self.buffer_size)
        self._running: np.ndarray | None = None  # one accumulator per batch element
        self._scalar_running = 0.0  # the accumulator for unbatched trajectories

    def _increment(self, trajectory) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, trajectory) -> None:
        step_type = trajectory.step_type
        if (step_type.ndim if isinstance(step_type, np.ndarray) else np.ndim(step_type)) == 0:
            # Unbatched: plain floats, no array work (this runs every step).
            if int(step_type) == _FIRST:
                self._scalar_running = 0.0
            self._scalar_running += float(self._increment(trajectory))
            if int(trajectory.next_step_type) == _LAST:
                self._buffer.append(self._scalar_running)
                self._scalar_running = 0.0
            return
        step_type = np.asarray(trajectory.step_type)
        if self._running is None:
            self._running = np.zeros(step_type.shape, np.float64)
        running = self._running
        running[step_type == _FIRST] = 0.0
        running += self._increment(trajectory)
        is_last = np.asarray(trajectory.next_step_type) == _LAST
        if is_last.any():
            self._buffer.extend(running[is_last].tolist())
            running[is_last] = 0.0

    def _summary(self, values: list) -> float:
        raise NotImplementedError

    def result(self) -> float:
        """The summary over buffered episodes; 0.0 before any episode finished."""
        return float(self._summary(list(self._buffer))) if self._buffer else 0.0


class AverageReturnMetric(_EpisodeStatistic):
    """Average undiscounted return of the last `buffer_size` finished episodes."""

    def __init__(self, name: str = "AverageReturn", buffer_size: int = 10):
        super().__init__(name, buffer_size)

    def _increment(self, trajectory):
        return trajectory.reward

    def _summary(self, values):
        return np.mean(values)


class MaxReturnMetric(AverageReturnMetric):
    """Highest return among the last `buffer_size` finished episodes."""

    def __init__(self, name: str = "MaxReturn", buffer_size: int = 10):
        super().__init__(name, buffer_size)

    def _summary(self, values):
        return np.max(values)


class MinReturnMetric(AverageReturnMetric):
    """Lowest return among the last `buffer_size` finished episodes."""

    def __init__(self, name: str = "MinReturn", buffer_size: int = 10):
        super().__init__(name, buffer_size)

    def _summary(self, values):
        return np.min(values)


class AverageEpisodeLengthMetric(_EpisodeStatistic):
    """Average length (non-boundary steps) of the last `buffer_size` finished episodes."""

    def __init__(self, name: str = "AverageEpisodeLength", buffer_size: int = 10):
        super().__init__(name, buffer_size)

    def _increment(self, trajectory):
        return trajectory.step_type != _LAST

    def _summary(self, values):
        return np.mean(values)
