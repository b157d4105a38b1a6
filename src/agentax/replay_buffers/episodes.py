"""Whole episodes of different lengths stacked into one batch, padded, with a mask."""

from __future__ import annotations

import jax
import numpy as np

from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory


def pad_length(length: int, minimum: int = 16) -> int:
    """The next power of two >= `length` (at least `minimum`): few distinct shapes, few compiles."""
    size = minimum
    while size < length:
        size *= 2
    return size


def pad_episodes(episodes: list[Trajectory], pad_to_power_of_two: bool = True) -> tuple[Trajectory, np.ndarray]:
    """Stack `episodes` (each `[T_i]`) into `[len(episodes), T]` and a float mask `[len(episodes), T]`,
    1 on real steps. Padding steps are zero boundary steps (LAST -> FIRST), which episode losses
    such as REINFORCE's ignore anyway."""
    if not episodes:
        raise ValueError("pad_episodes: `episodes` is empty")
    lengths = [int(np.shape(e.step_type)[0]) for e in episodes]
    length = pad_length(max(lengths)) if pad_to_power_of_two else max(lengths)

    def pad(x, n):
        x = np.asarray(x)
        return np.concatenate([x, np.zeros((length - n,) + x.shape[1:], x.dtype)])

    padded = []
    for episode, n in zip(episodes, lengths):
        episode = jax.tree.map(lambda x, n=n: pad(x, n), episode)
        step_type = episode.step_type.copy()
        step_type[n:] = int(ts.StepType.LAST)
        padded.append(episode._replace(step_type=step_type))  # next_step_type pads as FIRST (0)
    experience = jax.tree.map(lambda *xs: np.stack(xs), *padded)
    mask = (np.arange(length)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
    return experience, mask
