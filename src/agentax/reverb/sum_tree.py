"""A sum tree over a fixed number of leaves, updated and searched with vectorised NumPy."""

from __future__ import annotations

import numpy as np


class SumTree:
    """Leaf `i` holds a non-negative weight; `sample` draws leaves in proportion to weight.

    The tree is an array of `2 * capacity` float64 sums, root at index 1, leaf `i`
    at `capacity + i`. It is rebuilt from its leaves every `capacity` single
    updates so rounding errors cannot build up.
    """

    def __init__(self, num_leaves: int):
        self.capacity = 1 << max(0, int(num_leaves - 1).bit_length())
        self.depth = self.capacity.bit_length() - 1
        self.tree = np.zeros(2 * self.capacity, np.float64)
        self._shifts = np.arange(1, self.depth + 1)
        self._updates = 0

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def get(self, leaves) -> np.ndarray:
        return self.tree[self.capacity + np.asarray(leaves)]

    def set(self, leaf: int, weight: float) -> None:
        node = self.capacity + leaf
        diff = weight - self.tree[node]
        self.tree[node] = weight
        if self.depth:
            self.tree[node >> self._shifts] += diff
        self._updates += 1
        if self._updates >= self.capacity:
            self.rebuild()

    def set_many(self, leaves, weights) -> None:
        nodes = self.capacity + np.asarray(leaves, np.int64)
        self.tree[nodes] = weights
        for _ in range(self.depth):
            nodes = np.unique(nodes >> 1)
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]

    def rebuild(self) -> None:
        lo = self.capacity
        while lo > 1:
            self.tree[lo // 2:lo] = self.tree[lo:2 * lo:2] + self.tree[lo + 1:2 * lo:2]
            lo //= 2
        self._updates = 0

    def clear(self) -> None:
        self.tree[:] = 0.0
        self._updates = 0

    def find(self, targets: np.ndarray) -> np.ndarray:
        """Leaves whose cumulative-weight interval holds each target in `[0, total)`."""
        targets = np.array(targets, np.float64)
        nodes = np.ones(len(targets), np.int64)
        for _ in range(self.depth):
            left = self.tree[2 * nodes]
            right = targets >= left
            targets -= np.where(right, left, 0.0)
            nodes = 2 * nodes + right
        return nodes - self.capacity
