"""Argument checks the drivers share: each failure names the argument and the value."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def count_limit(owner: str, name: str, value, minimum: int) -> int | None:
    """`value` as an int >= `minimum` (None stays None), or an error naming `name`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: `{name}` must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: `{name}` must be >= {minimum}, got {value}")
    return int(value)


def callables(owner: str, name: str, observers: Sequence[Callable] | None) -> list:
    """`observers` as a list, or a `TypeError` naming the first one that cannot be called."""
    if observers is None:
        return []
    if callable(observers) or isinstance(observers, (str, bytes)):
        raise TypeError(f"{owner}: `{name}` must be a list of callables, got {observers!r}")
    out = list(observers)
    for i, observer in enumerate(out):
        if not callable(observer):
            raise TypeError(f"{owner}: `{name}[{i}]` must be callable (an observer), got {observer!r}")
    return out
