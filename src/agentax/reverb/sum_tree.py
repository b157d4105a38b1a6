"""A sum tree over a fixed number of leaves, updated and searched with vectorised NumPy.

Each node sums `fanout` children (32 by default: a million leaves need four
levels). Rather than node weights, each level below the top keeps, per parent,
a row of running sums: 0, then the running sums of the parent's children's
weights (a node's weight is the last entry of its row). A search reads each
target's row (one contiguous block) and takes the first running sum above the
target, with nothing to add up on the way. The top levels (down to the deepest
with at most `_SCAN` nodes) are searched at once in one running sum of that
level's weights, kept until the next update; it also gives the total.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Leaf `i` holds a non-negative weight; `find` maps targets in `[0, total)` to leaves.

    `rows[d]` (for the levels `d` below the scanned one, down to the leaves at `depth`) has one
    row per node of level `d - 1`: 0, then the running sums of its `fanout` children's weights.
    A single update adds its difference to the running sums on the way up, and the tree is
    rebuilt from its leaves every `capacity` single updates so rounding errors cannot build up;
    several leaves at once (`set_many`) recompute the rows they touch from the weights below.
    """

    def __init__(self, num_leaves: int, fanout: int = 32):
        self.fanout = fanout
        self.depth = 1
        while fanout ** self.depth < num_leaves:
            self.depth += 1
        self.capacity = fanout ** self.depth
        self.leaves = np.zeros(self.capacity, np.float64)
        # the scanned level: the deepest above the leaves with at most _SCAN nodes (0: the root)
        self.scan = 0
        while self.scan + 1 < self.depth and fanout ** (self.scan + 1) <= _SCAN:
            self.scan += 1
        self.rows = {d: np.zeros((fanout ** (d - 1), fanout + 1), np.float64)
                     for d in range(self.scan + 1, self.depth + 1)}
        self._flat = {d: r.reshape(-1) for d, r in self.rows.items()}  # views
        # x @ upper0: 0, then the running sums along the rows of x
        self._upper0 = np.concatenate([np.zeros((fanout, 1)), np.triu(np.ones((fanout, fanout)))], axis=1)
        self._cum = None  # 0, then the running sums of the scanned level's weights (None: stale)
        self._updates = 0

    def _weights(self, d: int) -> np.ndarray:
        """The weights of the nodes of level `d` (the leaves, or a view of the rows below)."""
        return self.leaves if d == self.depth else self.rows[d + 1][:, -1]

    def _scan_cum(self) -> np.ndarray:
        cum = self._cum
        if cum is None:
            cum = self._cum = np.concatenate([[0.0], np.cumsum(self._weights(self.scan))])
        return cum

    @property
    def total(self) -> float:
        return float(self._scan_cum()[-1])

    def get(self, leaves) -> np.ndarray:
        return self.leaves[leaves]

    def set(self, leaf: int, weight: float) -> None:
        leaf = int(leaf)
        diff = weight - self.leaves[leaf]
        self.leaves[leaf] = weight
        fanout, width = self.fanout, self.fanout + 1
        for d in range(self.depth, self.scan, -1):
            leaf, col = divmod(leaf, fanout)
            start = leaf * width
            self._flat[d][start + col + 1:start + width] += diff
        self._cum = None
        self._updates += 1
        if self._updates >= self.capacity:
            self.rebuild()

    def set_many(self, leaves, weights) -> None:
        nodes = np.asarray(leaves, np.int64)
        self.leaves[nodes] = weights
        fanout = self.fanout
        nodes = np.sort(nodes)  # (so the parents come sorted: duplicates are neighbours)
        for d in range(self.depth, self.scan, -1):
            nodes = nodes // fanout
            if len(nodes) > 1:
                keep = np.empty(len(nodes), np.bool_)
                keep[0] = True
                np.not_equal(nodes[1:], nodes[:-1], out=keep[1:])
                nodes = nodes[keep]
            self.rows[d][nodes] = self._weights(d).reshape(-1, fanout)[nodes] @ self._upper0
        self._cum = None

    def rebuild(self) -> None:
        fanout = self.fanout
        for d in range(self.depth, self.scan, -1):
            np.cumsum(self._weights(d).reshape(-1, fanout), axis=1, out=self.rows[d][:, 1:])
        self._cum = None
        self._updates = 0

    def clear(self) -> None:
        self.leaves[:] = 0.0
        for r in self.rows.values():
            r[:] = 0.0
        self._cum = None
        self._updates = 0

    def find(self, targets: np.ndarray) -> np.ndarray:
        """For each target, the leaf whose cumulative-weight interval holds it: the first leaf
        whose running sum is above the target (a target past the end, by rounding, takes the
        last child of its node)."""
        targets = np.array(targets, np.float64)
        fanout = self.fanout
        if self.scan:
            cum = self._scan_cum()
            nodes = np.searchsorted(cum, targets, side="right")  # 1 + the node
            nodes -= 1
            np.clip(nodes, 0, len(cum) - 2, out=nodes)
            targets -= cum.take(nodes)
        else:
            nodes = np.zeros(len(targets), np.int64)
        base = np.arange(len(targets)) * (fanout + 1) - 1
        column = targets[:, None]  # (a view: follows the updates of `targets`)
        for d in range(self.scan + 1, self.depth + 1):
            rows = self.rows[d].take(nodes, axis=0)  # [n, fanout + 1]: 0, then the running sums
            above = rows > column  # never the leading 0 (targets are >= 0)
            above[:, -1] = True  # rounding put the target past the row: its last child
            child = above.argmax(axis=1)  # 1 + the child
            targets -= rows.reshape(-1).take(base + child)  # the sum before the child
            nodes *= fanout
            nodes += child
            nodes -= 1
        return nodes


_SCAN = 4096  # levels this small are searched whole (one running sum, one binary search per target)
