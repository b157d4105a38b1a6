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


def pad_time(experience: Trajectory, length: int, axis: int = 0) -> Trajectory:
    """`experience` padded along its time `axis` to `length` steps with zero boundary steps
    (step_type LAST, next_step_type FIRST), which episode losses such as REINFORCE's ignore."""
    n = int(np.shape(experience.step_type)[axis])

    def pad(x):
        x = np.asarray(x)
        widths = [(0, 0)] * x.ndim
        widths[axis] = (0, length - n)
        return np.pad(x, widths)

    padded = jax.tree.map(pad, experience)
    step_type = padded.step_type.copy()
    np.moveaxis(step_type, axis, 0)[n:] = int(ts.StepType.LAST)
    return padded._replace(step_type=step_type)  # next_step_type pads as FIRST (0)


def pad_episodes(episodes: list[Trajectory], pad_to_power_of_two: bool = True) -> tuple[Trajectory, np.ndarray]:
    """Stack `episodes` (each `[T_i]`) into `[len(episodes), T]` and a float mask `[len(episodes), T]`,
    1 on real steps; padding as `pad_time`."""
    if not episodes:
        raise ValueError("pad_episodes: `episodes` is empty")
    lengths = [int(np.shape(e.step_type)[0]) for e in episodes]
    length = pad_length(max(lengths)) if pad_to_power_of_two else max(lengths)
    experience = jax.tree.map(lambda *xs: np.stack(xs), *[pad_time(e, length) for e in episodes])
    mask = (np.arange(length)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
    return experience, mask
