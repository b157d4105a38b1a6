"""Python metrics: observers that summarise trajectories (mirrors `tf_agents.metrics.py_metrics`).

Every metric is a callable observer taking a `Trajectory`, batched or not; the
batch size is inferred from the first trajectory it sees.
"""

from __future__ import annotations

import collections

import numpy as np

from agentax.trajectories import time_step as ts

_FIRST, _LAST = int(ts.StepType.FIRST), int(ts.StepType.LAST)


def not_a_trajectory(metric, value) -> TypeError:
    """The error an observer raises when it is given something else than a `Trajectory`."""
    return TypeError(f"{type(metric).__name__} observes a `trajectory` (Trajectory), got {type(value).__name__}; "
                     "pass it in `observers`, not `transition_observers` or `info_observers`")


def _count(step_type, value: int, equal: bool) -> int:
    """How many of `step_type` (0-d or batched) equal `value` (or differ from it, `equal=False`)."""
    if type(step_type) is np.ndarray and step_type.ndim == 0:  # unbatched: no array reduction
        return int((int(step_type) == value) == equal)
    return int(np.sum((np.asarray(step_type) == value) == equal))


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
        try:
            self._count += _count(trajectory.next_step_type, _LAST, True)
        except AttributeError:
            raise not_a_trajectory(self, trajectory) from None

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
        try:
            self._count += _count(trajectory.step_type, _LAST, False)
        except AttributeError:
            raise not_a_trajectory(self, trajectory) from None

    def result(self) -> int:
        return self._count

    def reset(self) -> None:
        self._count = 0


class _EpisodeStatistic(PyMetric):
    """Accumulates a per-episode quantity and buffers its value for the last
    `buffer_size` finished episodes. Subclasses say what a step adds; the buffer is
    summarised by its mean unless a subclass says otherwise. `batch_size` is
    inferred; ported code may pass it (TF-Agents' argument), and then a different
    batch is an error."""

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
        self.reset()

    def reset(self) -> None:
        self._buffer: collections.deque = collections.deque(maxlen=self.buffer_size)
        self._running: np.ndarray | None = None  # one accumulator per batch element
        self._scalar_running = 0.0  # the accumulator for unbatched trajectories

    def _increment(self, trajectory) -> np.ndarray:
        raise NotImplementedError

    def _check_batch(self, batch: int) -> None:
        if self.batch_size is not None and batch != self.batch_size:
            raise ValueError(f"{type(self).__name__}: created with `batch_size`={self.batch_size}, but the "
                             f"trajectories it observes have batch size {batch}")

    def __call__(self, trajectory) -> None:
        try:
            step_type = trajectory.step_type
            if (step_type.ndim if type(step_type) is np.ndarray else np.ndim(step_type)) == 0:
                # Unbatched: plain floats, no array work (this runs every step).
                if self.batch_size is not None and self.batch_size != 1:
                    self._check_batch(1)
                running = 0.0 if int(step_type) == _FIRST else self._scalar_running
                running += float(self._increment(trajectory))
                if int(trajectory.next_step_type) == _LAST:
                    self._buffer.append(running)
                    running = 0.0
                self._scalar_running = running
            else:
                self._observe_batch(trajectory)
        except AttributeError:
            raise not_a_trajectory(self, trajectory) from None

    def _observe_batch(self, trajectory) -> None:
        step_type = np.asarray(trajectory.step_type)
        if self._running is None:
            self._check_batch(step_type.shape[0])
            self._running = np.zeros(step_type.shape, np.float64)
        running = self._running
        running[step_type == _FIRST] = 0.0
        running += self._increment(trajectory)
        is_last = np.asarray(trajectory.next_step_type) == _LAST
        if is_last.any():
            self._buffer.extend(running[is_last].tolist())
            running[is_last] = 0.0

    def _summary(self, values: list) -> float:
        return np.mean(values)

    def result(self) -> np.float32:
        """The summary over buffered episodes, as float32 (as the compiled metrics
        give); 0.0 before any episode finished."""
        return np.float32(self._summary(list(self._buffer)) if self._buffer else 0.0)


class _ReturnStatistic(_EpisodeStatistic):
    """A statistic of undiscounted episode returns."""

    def _increment(self, trajectory):
        return trajectory.reward


class AverageReturnMetric(_ReturnStatistic):
    """Average undiscounted return of the last `buffer_size` finished episodes."""

    def __init__(self, name: str = "AverageReturn", buffer_size: int = 10, batch_size: int | None = None):
        super().__init__(name, buffer_size, batch_size)


class MaxReturnMetric(_ReturnStatistic):
    """Highest return among the last `buffer_size` finished episodes."""

    def __init__(self, name: str = "MaxReturn", buffer_size: int = 10, batch_size: int | None = None):
        super().__init__(name, buffer_size, batch_size)

    def _summary(self, values):
        return np.max(values)


class MinReturnMetric(_ReturnStatistic):
    """Lowest return among the last `buffer_size` finished episodes."""

    def __init__(self, name: str = "MinReturn", buffer_size: int = 10, batch_size: int | None = None):
        super().__init__(name, buffer_size, batch_size)

    def _summary(self, values):
        return np.min(values)


class AverageEpisodeLengthMetric(_EpisodeStatistic):
    """Average length (non-boundary steps) of the last `buffer_size` finished episodes."""

    def __init__(self, name: str = "AverageEpisodeLength", buffer_size: int = 10, batch_size: int | None = None):
        super().__init__(name, buffer_size, batch_size)

    def _increment(self, trajectory):
        return trajectory.step_type != _LAST
