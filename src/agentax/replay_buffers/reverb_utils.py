"""Observers that write trajectories into `agentax.reverb` tables, with TF-Agents' semantics
(`tf_agents/replay_buffers/reverb_utils.py`).

- `ReverbAddTrajectoryObserver`: an item of the last `sequence_length` steps each
  time `cached >= sequence_length` and `(cached - sequence_length) % stride_length == 0`;
  at a boundary step (LAST -> FIRST) the cache is dropped, or, with
  `pad_end_of_episodes`, padded with zero boundary steps (items written after each
  pad step): `sequence_length - cached` pads, or `sequence_length - 1` with
  `tile_end_of_episodes`.
- `ReverbTrajectorySequenceObserver`: the same, but boundaries do not cut sequences.
- `ReverbAddEpisodeObserver`: one item per episode, written at its boundary step
  (included); an episode longer than `max_sequence_length` raises, or is dropped
  whole with `bypass_partial_episodes`.

Beyond TF-Agents: a batched trajectory (leading batch dimension, as from
`BatchedPyEnvironment`) gets one writer per batch row, each following the rules
above for its own row.
"""

from __future__ import annotations

import logging
from typing import Sequence

import jax
import numpy as np

from agentax.reverb.trajectory_writer import TrajectoryWriter
from agentax.trajectories import StepType, Trajectory

_log = logging.getLogger(__name__)
_LAST = StepType.LAST
_INT32 = np.int32  # the usual step type of an unbatched step (no `ndim` lookup needed)


def _row(trajectory: Trajectory, i: int) -> Trajectory:
    return jax.tree.map(lambda x: x[i], trajectory)


class _Row:
    """One writer and its cache (one per batch row)."""

    __slots__ = ("writer", "cached_steps", "last_trajectory", "overflow", "has_data")

    def __init__(self, writer):
        self.writer, self.cached_steps, self.last_trajectory = writer, 0, None
        self.overflow = self.has_data = False


class _ReverbObserverBase:
    def __init__(self, py_client, table_name, keep_alive: int, priority):
        self._table_names = [table_name] if isinstance(table_name, str) else list(table_name)
        self._py_client = py_client
        self._keep_alive = keep_alive
        self._priority = priority
        self._rows: list[_Row] = [self._new_row()]
        self._row0 = self._rows[0]  # (never replaced: `open` gives a row a new writer)
        self._batched: bool | None = None

    def _new_row(self) -> _Row:
        return _Row(self._py_client.trajectory_writer(num_keep_alive_refs=self._keep_alive,
                                                      get_signature_timeout_ms=None))

    def __call__(self, trajectory: Trajectory) -> None:
        """Write one step (or one step per row of a batched trajectory)."""
        if getattr(trajectory.step_type, "ndim", 0) != 1:  # not batched
            self._observe(self._rows[0], trajectory)
            return
        n = len(trajectory.step_type)
        while len(self._rows) < n:
            self._rows.append(self._new_row())
        for i in range(n):
            self._observe(self._rows[i], _row(trajectory, i))

    def _observe(self, row: _Row, trajectory: Trajectory) -> None:
        raise NotImplementedError

    def _create_items(self, row: _Row, num_steps: int) -> None:
        for table in self._table_names:
            row.writer.create_item_last(table, self._priority, num_steps)

    def update_priority(self, priority) -> None:
        self._priority = priority

    def flush(self) -> None:
        """Block until every created item is in its table."""
        for row in self._rows:
            if row.writer is not None:
                row.writer.flush()

    def open(self) -> None:
        """Reopen the writers after `close` (a no-op when open)."""
        for row in self._rows:
            if row.writer is None:
                row.writer = self._new_row().writer
                row.cached_steps = 0

    def close(self) -> None:
        """End the episodes and close the writers."""
        for row in self._rows:
            if row.writer is not None:
                row.writer.end_episode()
                row.writer.close()
                row.writer = None
                row.has_data = False

    def reset(self, write_cached_steps: bool = True) -> None:
        """Write (or with False, drop) what each row has cached, and start new episodes."""
        for row in self._rows:
            self._reset_row(row, write_cached_steps)

    def _end(self, row: _Row) -> None:
        if row.writer is None:
            row.writer = self._new_row().writer
        else:
            row.writer.end_episode()


class ReverbAddTrajectoryObserver(_ReverbObserverBase):
    """Writes fixed-length, possibly overlapping sequences of `sequence_length` steps."""

    def __init__(self, py_client, table_name: str | Sequence[str], sequence_length: int,
                 stride_length: int = 1, priority: float = 1, pad_end_of_episodes: bool = False,
                 tile_end_of_episodes: bool = False):
        if tile_end_of_episodes and not pad_end_of_episodes:
            raise ValueError("Must set `pad_end_of_episodes=True` when using `tile_end_of_episodes`")
        if sequence_length < 1:
            raise ValueError(f"`sequence_length` must be >= 1, got {sequence_length}")
        if stride_length < 1:
            raise ValueError(f"`stride_length` must be >= 1, got {stride_length}")
        self._sequence_length = sequence_length
        self._stride_length = stride_length
        self._pad_end_of_episodes = pad_end_of_episodes
        self._tile_end_of_episodes = tile_end_of_episodes
        super().__init__(py_client, table_name, sequence_length + 1, priority)

    _cut_at_boundaries = True

    def __call__(self, trajectory: Trajectory) -> None:
        """Write one step (or one step per row of a batched trajectory)."""
        step_type = trajectory.step_type
        if type(step_type) is not _INT32 and getattr(step_type, "ndim", 0) == 1:  # batched
            super().__call__(trajectory)
            return
        # `_observe` for the single row, inlined (this runs once per environment step)
        row = self._row0
        row.last_trajectory = trajectory
        writer = row.writer
        cached = row.cached_steps + 1
        length = self._sequence_length
        if cached >= length and (cached - length) % self._stride_length == 0:
            if type(writer) is TrajectoryWriter:  # its fused call (other writers, e.g. remote ones, lack it)
                try:
                    writer.append_create_last(trajectory, self._table_names, self._priority, length)
                except BaseException:  # count the step if it was appended, as the unfused calls do
                    if writer.episode_steps == cached:
                        row.cached_steps = cached
                    raise
            else:
                writer.append(trajectory)
                row.cached_steps = cached
                for table in self._table_names:
                    writer.create_item_last(table, self._priority, length)
        else:
            writer.append(trajectory)
        row.cached_steps = cached
        if self._cut_at_boundaries and step_type == _LAST:
            self._reset_row(row, write_cached_steps=self._pad_end_of_episodes)

    def _observe(self, row: _Row, trajectory: Trajectory) -> None:
        row.last_trajectory = trajectory
        row.writer.append(trajectory)
        row.cached_steps += 1
        self._write_cached_steps(row)
        if self._cut_at_boundaries and trajectory.step_type == StepType.LAST:
            self._reset_row(row, write_cached_steps=self._pad_end_of_episodes)

    def _sequence_lengths_reached(self, row: _Row) -> bool:
        return (row.cached_steps >= self._sequence_length
                and (row.cached_steps - self._sequence_length) % self._stride_length == 0)

    def _write_cached_steps(self, row: _Row) -> None:
        length = self._sequence_length
        if row.cached_steps >= length and (row.cached_steps - length) % self._stride_length == 0:
            for table in self._table_names:
                row.writer.create_item_last(table, self._priority, length)

    @staticmethod
    def _padding_step(example: Trajectory) -> Trajectory:
        zeros = lambda nest: jax.tree.map(np.zeros_like, nest)  # noqa: E731
        return Trajectory(
            step_type=np.full_like(example.step_type, StepType.LAST),
            observation=zeros(example.observation), action=zeros(example.action),
            policy_info=zeros(example.policy_info),
            next_step_type=np.full_like(example.next_step_type, StepType.FIRST),
            reward=zeros(example.reward), discount=zeros(example.discount))

    def _reset_row(self, row: _Row, write_cached_steps: bool = True) -> None:
        if write_cached_steps and row.last_trajectory is not None:
            if self._pad_end_of_episodes:
                zero_step = self._padding_step(row.last_trajectory)
                pads = (self._sequence_length - 1 if self._tile_end_of_episodes
                        else self._sequence_length - row.cached_steps)
                for _ in range(pads):
                    row.writer.append(zero_step)
                    row.cached_steps += 1
                    self._write_cached_steps(row)
            elif self._sequence_lengths_reached(row):
                self._write_cached_steps(row)
            else:
                raise ValueError(
                    "write_cached_steps is True, but not enough steps remain in the cache to write an item "
                    f"with sequence_length={self._sequence_length}, consider enabling pad_end_of_episodes.")
        row.cached_steps = 0
        row.last_trajectory = None
        self._end(row)


class ReverbTrajectorySequenceObserver(ReverbAddTrajectoryObserver):
    """`ReverbAddTrajectoryObserver` whose sequences run across episode boundaries."""

    _cut_at_boundaries = False


class ReverbAddEpisodeObserver(_ReverbObserverBase):
    """Writes each whole episode (its boundary step included) as one item."""

    def __init__(self, py_client, table_name: str | Sequence[str], max_sequence_length: int,
                 priority: float = 1, bypass_partial_episodes: bool = False):
        if max_sequence_length <= 0:
            raise ValueError("`max_sequence_length` must be an integer greater equal one.")
        self._max_sequence_length = max_sequence_length
        self._bypass_partial_episodes = bypass_partial_episodes
        super().__init__(py_client, table_name, max_sequence_length + 1, priority)

    def _observe(self, row: _Row, trajectory: Trajectory) -> None:
        if row.cached_steps >= self._max_sequence_length and not row.overflow:
            row.overflow = True
            if self._bypass_partial_episodes:
                _log.error("The number of trajectories within the same episode exceeds "
                           "`max_sequence_length`. This episode is bypassed and will NOT be written into "
                           "the replay buffer. Consider increasing the `max_sequence_length`.")
            else:
                raise ValueError(
                    "The number of trajectories within the same episode exceeds `max_sequence_length` "
                    f"({self._max_sequence_length}). Consider increasing the `max_sequence_length` or set "
                    "`bypass_partial_episodes` to true to bypass the episodes with length more than "
                    "`max_sequence_length`.")
        boundary = trajectory.step_type == StepType.LAST
        if row.overflow and boundary:
            self._reset_row(row, write_cached_steps=False)
            return
        if not row.overflow:
            row.writer.append(trajectory)
            row.has_data = True
            row.cached_steps += 1
            if boundary:
                self._reset_row(row, write_cached_steps=True)

    def _reset_row(self, row: _Row, write_cached_steps: bool = True) -> None:
        if write_cached_steps and row.has_data:
            self._create_items(row, row.writer.episode_steps)
            row.has_data = False
        row.cached_steps = 0
        row.overflow = False
        self._end(row)

    def close(self) -> None:
        super().close()
