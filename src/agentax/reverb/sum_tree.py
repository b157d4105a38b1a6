"""A sum tree over a fixed number of leaves, updated and searched with vectorised NumPy.

Each node sums `fanout` children (32 by default: a million leaves need four
levels, and a search reads each target's 32 siblings from one contiguous
block rather than walking twenty binary levels of scattered reads).
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Leaf `i` holds a non-negative weight; `find` maps targets in `[0, total)` to leaves.

    `levels[0]` is the root, `levels[-1]` the leaves. Single updates add their
    difference to the ancestors; the tree is rebuilt from its leaves every
    `capacity` single updates so rounding errors cannot build up.
    """

    def __init__(self, num_leaves: int, fanout: int = 32):
        self.fanout = fanout
        self.depth = 1
        while fanout ** self.depth < num_leaves:
            self.depth += 1
        self.capacity = fanout ** self.depth
        self.levels = [np.zeros(fanout ** d, np.float64) for d in range(self.depth + 1)]
        self._upper = np.triu(np.ones((fanout, fanout)))  # x @ upper: running sums along a row
        self._updates = 0

    @property
    def total(self) -> float:
        return float(self.levels[0][0])

    def get(self, leaves) -> np.ndarray:
        return self.levels[-1][leaves]

    def set(self, leaf: int, weight: float) -> None:
        leaves = self.levels[-1]
        diff = weight - leaves[leaf]
        leaves[leaf] = weight
        for level in self.levels[-2::-1]:
            leaf //= self.fanout
            level[leaf] += diff
        self._updates += 1
        if self._updates >= self.capacity:
            self.rebuild()

    def set_many(self, leaves, weights) -> None:
        nodes = np.asarray(leaves, np.int64)
        self.levels[-1][nodes] = weights
        for d in range(self.depth - 1, -1, -1):
            nodes = np.unique(nodes // self.fanout)
            self.levels[d][nodes] = self.levels[d + 1].reshape(-1, self.fanout)[nodes].sum(axis=1)

    def rebuild(self) -> None:
        for d in range(self.depth - 1, -1, -1):
            self.levels[d][:] = self.levels[d + 1].reshape(-1, self.fanout).sum(axis=1)
        self._updates = 0

    def clear(self) -> None:
        for level in self.levels:
            level[:] = 0.0
        self._updates = 0

    def find(self, targets: np.ndarray) -> np.ndarray:
        """For each target, the leaf whose cumulative-weight interval holds it.

        The upper levels (down to the deepest one with at most `_SCAN` nodes) are searched at
        once in the running sums of that level; below it, each target reads its node's
        `fanout` children (one contiguous block) and takes the first running sum above it."""
        targets = np.array(targets, np.float64)
        levels = self.levels
        d = 0
        while d + 1 < len(levels) and len(levels[d + 1]) <= _SCAN:
            d += 1
        if d:
            cum = np.cumsum(levels[d])
            nodes = np.searchsorted(cum, targets, side="right")
            np.minimum(nodes, len(cum) - 1, out=nodes)
            targets -= np.where(nodes > 0, cum[nodes - 1], 0.0)
        else:
            nodes = np.zeros(len(targets), np.int64)
        fanout = self.fanout
        pick = np.arange(len(targets))
        for level in levels[d + 1:]:
            cum = np.take(level.reshape(-1, fanout), nodes, axis=0) @ self._upper
            above = cum > targets[:, None]
            above[:, -1] = True  # rounding put the target past the block: its last child
            child = above.argmax(axis=1)
            targets -= np.where(child > 0, cum[pick, child - 1], 0.0)
            nodes = nodes * fanout + child
        return nodes


_SCAN = 4096  # levels this small are searched whole (one running sum, one binary search per target)
