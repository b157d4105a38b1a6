"""Item selectors with Reverb's rules (`reverb/cc/selectors/*.cc`).

A selector object is a configuration; each table builds its own state from it
(`_build(max_size)`), so one object may serve as sampler and remover. States
work on table rows (ints below `max_size`) and report `(row, probability)`:

- `Uniform`: every item with probability `1 / size`.
- `Prioritized(priority_exponent)`: `p ** exponent / sum`, where a priority of
  0 weighs 0 even with exponent 0; if every priority is 0, uniform.
- `Fifo` / `Lifo`: the oldest / newest inserted item, probability 1; updating
  a priority does not move an item.
- `MinHeap` / `MaxHeap`: the lowest / highest priority, probability 1; ties go to
  the item least recently inserted or updated.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from agentax.reverb.sum_tree import SumTree


def _check_priority(priority: float) -> float:
    priority = float(priority)
    if math.isnan(priority) or priority < 0:
        raise ValueError(f"`priority` must be a number >= 0, got {priority}")
    return priority


class _Dense:
    """Rows kept packed in an array (delete swaps the last row in), as Reverb's Uniform does."""

    def __init__(self, max_size: int):
        self.rows = np.zeros(max_size, np.int64)
        self.pos = np.zeros(max_size, np.int64)
        self.size = 0

    def insert(self, row: int) -> None:
        self.rows[self.size] = row
        self.pos[row] = self.size
        self.size += 1

    def delete(self, row: int) -> None:
        i = self.pos[row]
        last = self.rows[self.size - 1]
        self.rows[i] = last
        self.pos[last] = i
        self.size -= 1

    def clear(self) -> None:
        self.size = 0

    def insert_many(self, rows: np.ndarray) -> None:
        k = len(rows)
        self.rows[self.size:self.size + k] = rows
        self.pos[rows] = np.arange(self.size, self.size + k)
        self.size += k

    def delete_many(self, rows: np.ndarray) -> None:
        """Delete `rows`: survivors from the tail move into the holes."""
        new_size = self.size - len(rows)
        holes = np.sort(self.pos[rows])
        holes = holes[holes < new_size]
        tail = self.rows[new_size:self.size]
        movers = tail[~np.isin(tail, rows)]
        self.rows[holes] = movers
        self.pos[movers] = holes
        self.size = new_size


class _Selector:
    deterministic = False

    def __init__(self, seed=None):
        self._seed = seed

    def _build(self, max_size: int) -> "_SelectorState":
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _SelectorState:
    batchable = False  # True when `sample_batch` draws i.i.d. items

    def update(self, row: int, priority: float) -> None:
        pass

    def insert_many(self, rows, priorities) -> None:
        for row, p in zip(rows.tolist(), priorities.tolist()):
            self.insert(row, p)

    def delete_many(self, rows) -> None:
        for row in rows.tolist():
            self.delete(row)

    def first(self, count: int):
        """The next `count` picks as a remover, if known without sampling (else None)."""
        return None


class _UniformState(_SelectorState):
    batchable = True

    def __init__(self, max_size, rng):
        self.dense, self.rng = _Dense(max_size), rng

    def insert(self, row, priority):
        self.dense.insert(row)

    def delete(self, row):
        self.dense.delete(row)

    def insert_many(self, rows, priorities):
        self.dense.insert_many(rows)

    def delete_many(self, rows):
        self.dense.delete_many(rows)

    def clear(self):
        self.dense.clear()

    def sample(self):
        rows, probs = self.sample_batch(1)
        return int(rows[0]), float(probs[0])

    def sample_batch(self, n):
        n_items = self.dense.size
        rows = np.take(self.dense.rows, (self.rng.random(n) * n_items).astype(np.int64))
        probs = np.empty(n)
        probs.fill(1.0 / n_items)
        return rows, probs


class Uniform(_Selector):
    """Sample uniformly among all items (`seed` is an agentax addition)."""

    def _build(self, max_size):
        return _UniformState(max_size, np.random.default_rng(self._seed))


class _PrioritizedState(_UniformState):
    def __init__(self, max_size, rng, exponent):
        super().__init__(max_size, rng)
        self.tree, self.exponent = SumTree(max_size), exponent

    def _weight(self, priority):
        return 0.0 if priority == 0 else priority ** self.exponent

    def insert(self, row, priority):
        self.dense.insert(row)
        self.tree.set(row, self._weight(priority))

    def update(self, row, priority):
        self.tree.set(row, self._weight(priority))

    def update_many(self, rows, priorities):
        priorities = np.asarray(priorities, np.float64)
        weights = np.where(priorities == 0, 0.0, priorities ** self.exponent)
        self.tree.set_many(rows, weights)

    def delete(self, row):
        self.dense.delete(row)
        self.tree.set(row, 0.0)

    def insert_many(self, rows, priorities):
        self.dense.insert_many(rows)
        self.update_many(rows, priorities)

    def delete_many(self, rows):
        self.dense.delete_many(rows)
        self.tree.set_many(rows, np.zeros(len(rows)))

    def clear(self):
        self.dense.clear()
        self.tree.clear()

    def sample_batch(self, n):
        total = self.tree.total
        if total <= 0:
            return super().sample_batch(n)
        rows = self.tree.find(self.rng.random(n) * total)
        weights = self.tree.get(rows)
        bad = weights <= 0  # a rounding error walked into an empty subtree: redraw exactly
        if bad.any():
            live = self.dense.rows[:self.dense.size]
            cum = np.cumsum(self.tree.get(live))
            rows[bad] = live[np.searchsorted(cum, self.rng.random(bad.sum()) * cum[-1], side="right")]
            weights = self.tree.get(rows)
        return rows, weights / total


class Prioritized(_Selector):
    """Sample in proportion to `priority ** priority_exponent` (a sum tree)."""

    def __init__(self, priority_exponent: float, seed=None):
        exponent = float(priority_exponent)
        if math.isnan(exponent) or exponent < 0:
            raise ValueError(f"`priority_exponent` must be a number >= 0, got {priority_exponent}")
        super().__init__(seed)
        self.priority_exponent = exponent

    def _build(self, max_size):
        return _PrioritizedState(max_size, np.random.default_rng(self._seed), self.priority_exponent)

    def __repr__(self):
        return f"Prioritized(priority_exponent={self.priority_exponent})"


class _OrderState(_SelectorState):
    """Rows in insertion order: a ring of rows indexed by insertion number; a row's entry is live
    while `seq[row]` still holds that number plus one (0: no entry; deleted entries are skipped, and
    squeezed out when the ring fills). 24 bytes per row, where a dict would take about a hundred;
    zeros mean empty, so a new table touches none of it."""

    def __init__(self, max_rows: int, newest: bool):
        self.newest = newest
        self.seq = np.zeros(max_rows, np.int64)
        self.ring = np.zeros(2 * max_rows, np.int64)
        self.head = self.tail = 0  # insertion numbers: oldest possibly live, next

    def _live(self, number: int) -> bool:
        return self.seq[self.ring[number % len(self.ring)]] == number + 1

    def insert(self, row, priority):
        self.insert_many(np.array([row]), None)

    def insert_many(self, rows, priorities):
        k = len(rows)
        if self.tail + k - self.head > len(self.ring):
            self._compact()
        numbers = np.arange(self.tail, self.tail + k)
        start = self.tail % len(self.ring)
        if start + k <= len(self.ring):
            self.ring[start:start + k] = rows
        else:
            self.ring[numbers % len(self.ring)] = rows
        self.seq[rows] = numbers + 1
        self.tail += k

    def _compact(self) -> None:
        rows = np.nonzero(self.seq)[0]
        rows = rows[np.argsort(self.seq[rows], kind="stable")]
        self.ring[:len(rows)] = rows
        self.seq[rows] = np.arange(1, len(rows) + 1)
        self.head, self.tail = 0, len(rows)

    def delete(self, row):
        self.seq[row] = 0

    def delete_many(self, rows):
        self.seq[rows] = 0

    def first(self, count):
        """The next `count` live rows from the oldest (Fifo) or newest (Lifo) end (read in vectorised
        windows; dead entries at that end are dropped on the way)."""
        size = len(self.ring)
        if self.newest:
            while self.head < self.tail and not self._live(self.head):
                self.head += 1
        else:
            while self.tail > self.head and not self._live(self.tail - 1):
                self.tail -= 1
        picks = []
        at_end = True  # the window starts at the picking end: dead entries there can go
        number = self.tail - 1 if self.newest else self.head  # next entry to look at
        while len(picks) < count and self.head <= number < self.tail:
            room = (number - self.head + 1) if self.newest else (self.tail - number)
            width = min(room, 2 * (count - len(picks)) + 16)
            numbers = np.arange(number, number - width, -1) if self.newest else np.arange(number, number + width)
            rows = self.ring[numbers % size]
            live = self.seq[rows] == numbers + 1
            if at_end:
                dead = int(live.argmax()) if live.any() else width
                if self.newest:
                    self.tail -= dead
                else:
                    self.head += dead
                at_end = dead == width
            picks.extend(rows[live][:count - len(picks)].tolist())
            number = number - width if self.newest else number + width
        return picks

    def clear(self):
        self.seq[:] = 0
        self.head = self.tail = 0

    def sample(self):
        return self.first(1)[0], 1.0


class Fifo(_Selector):
    """The oldest item. Without `max_times_sampled` it is returned forever."""

    deterministic = True

    def _build(self, max_size):
        return _OrderState(max_size, newest=False)


class Lifo(_Selector):
    """The newest item. As a remover on a full table it evicts the item just inserted."""

    deterministic = True

    def _build(self, max_size):
        return _OrderState(max_size, newest=True)


class _HeapState(_SelectorState):
    def __init__(self, sign: float):
        self.sign, self.heap, self.current, self.count = sign, [], {}, 0

    def insert(self, row, priority):
        self.count += 1
        self.current[row] = self.count
        heapq.heappush(self.heap, (self.sign * priority, self.count, row))
        if len(self.heap) > 2 * len(self.current) + 64:
            self.heap = [e for e in self.heap if self.current.get(e[2]) == e[1]]
            heapq.heapify(self.heap)

    update = insert

    def delete(self, row):
        del self.current[row]

    def clear(self):
        self.heap.clear()
        self.current.clear()

    def sample(self):
        while self.current.get(self.heap[0][2]) != self.heap[0][1]:
            heapq.heappop(self.heap)
        return self.heap[0][2], 1.0


class MinHeap(_Selector):
    """The lowest priority; ties go to the least recently inserted or updated."""

    deterministic = True

    def _build(self, max_size):
        return _HeapState(1.0)


class MaxHeap(_Selector):
    """The highest priority; ties go to the least recently inserted or updated."""

    deterministic = True

    def _build(self, max_size):
        return _HeapState(-1.0)
