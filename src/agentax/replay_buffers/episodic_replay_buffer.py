"""`EpisodicReplayBuffer`: whole episodes, sampled uniformly, padded to a common length.

`buffer.observer` is a `PyDriver` observer (batched envs too): it caches each
environment's steps and writes an episode when its boundary step (LAST -> FIRST)
arrives, so every stored episode ends with that boundary step, as TF-Agents'
Reverb episode observer writes them.
"""

from __future__ import annotations

import collections
from typing import Iterator

import jax
import numpy as np

from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory

_LAST, _FIRST = int(ts.StepType.LAST), int(ts.StepType.FIRST)


def pad_length(length: int, minimum: int = 16) -> int:
    """The next power of two >= `length` (at least `minimum`): few distinct shapes, few compiles."""
    size = minimum
    while size < length:
        size *= 2
    return size


class EpisodicReplayBuffer:
    """Stores up to `capacity` episodes (FIFO eviction); samples them uniformly.

    `sample(n)` returns `(experience, mask)`: a `Trajectory` with leading dims
    `[n, T]` and a float mask `[n, T]` that is 1 on real steps and 0 on padding.
    Padding steps are zero boundary steps (step_type LAST, next_step_type FIRST),
    which REINFORCE-style losses ignore anyway.
    """

    def __init__(self, capacity: int = 1000, seed: int | None = None, pad_to_power_of_two: bool = True):
        if capacity < 1:
            raise ValueError(f"EpisodicReplayBuffer: `capacity` must be >= 1, got {capacity}")
        self.capacity = capacity
        self._episodes: collections.deque = collections.deque(maxlen=capacity)
        self._rng = np.random.default_rng(seed)
        self._pad_to_power_of_two = pad_to_power_of_two
        self._cache: dict[int, list] = {}

    # ---- writing
    def add_episode(self, steps: list[Trajectory]) -> None:
        """Store one episode given as a list of unbatched trajectories."""
        if not steps:
            raise ValueError("EpisodicReplayBuffer.add_episode: `steps` is empty")
        self._episodes.append(jax.tree.map(lambda *xs: np.stack(xs), *steps))

    def observer(self, trajectory: Trajectory) -> None:
        """A driver observer: caches steps per environment, writes each finished episode."""
        step_type = np.asarray(trajectory.step_type)
        if step_type.ndim == 0:
            self._observe_one(0, trajectory)
            return
        for i in range(step_type.shape[0]):
            self._observe_one(i, jax.tree.map(lambda x, i=i: np.asarray(x)[i], trajectory))

    def _observe_one(self, index: int, trajectory: Trajectory) -> None:
        cache = self._cache.setdefault(index, [])
        if not cache and int(trajectory.step_type) != _FIRST:
            return  # a partial episode (collection started mid-episode): not stored
        cache.append(trajectory)
        if int(trajectory.step_type) == _LAST:  # the boundary step closes the episode
            self.add_episode(cache)
            self._cache[index] = []

    # ---- reading
    @property
    def num_episodes(self) -> int:
        return len(self._episodes)

    def clear(self) -> None:
        """Drop every stored episode and every partly collected one."""
        self._episodes.clear()
        self._cache.clear()

    def gather(self, episodes: list) -> tuple[Trajectory, np.ndarray]:
        """Stack `episodes` into `[len(episodes), T]`, padded, with the mask."""
        lengths = [int(np.shape(e.step_type)[0]) for e in episodes]
        longest = max(lengths)
        length = pad_length(longest) if self._pad_to_power_of_two else longest

        def pad(x, n):
            extra = np.zeros((length - n,) + x.shape[1:], x.dtype)
            return np.concatenate([x, extra])

        padded = []
        for episode, n in zip(episodes, lengths):
            episode = jax.tree.map(lambda x, n=n: pad(x, n), episode)
            step_type = episode.step_type.copy()
            step_type[n:] = _LAST
            padded.append(episode._replace(step_type=step_type))  # next_step_type pads as FIRST (0)
        experience = jax.tree.map(lambda *xs: np.stack(xs), *padded)
        mask = (np.arange(length)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
        return experience, mask

    def sample(self, sample_batch_size: int) -> tuple[Trajectory, np.ndarray]:
        """`sample_batch_size` episodes drawn uniformly (with replacement)."""
        if not self._episodes:
            raise ValueError("EpisodicReplayBuffer.sample: the buffer holds no complete episode")
        if sample_batch_size < 1:
            raise ValueError(f"EpisodicReplayBuffer.sample: `sample_batch_size` must be >= 1, got {sample_batch_size}")
        picks = self._rng.integers(0, len(self._episodes), size=sample_batch_size)
        return self.gather([self._episodes[i] for i in picks])

    def gather_all(self) -> tuple[Trajectory, np.ndarray]:
        """Every stored episode, in insertion order."""
        if not self._episodes:
            raise ValueError("EpisodicReplayBuffer.gather_all: the buffer holds no complete episode")
        return self.gather(list(self._episodes))

    def as_iterator(self, sample_batch_size: int) -> Iterator[tuple[Trajectory, np.ndarray]]:
        while True:
            yield self.sample(sample_batch_size)
