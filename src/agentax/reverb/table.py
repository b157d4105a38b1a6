"""`Table`: items, their priorities and times sampled, with Reverb's insert/sample/remove rules.

Rules (from `reverb/cc/table.cc`): an insert waits for the rate limiter, then
adds the item to sampler and remover; if the table is then over `max_size`,
the remover picks an item to delete (a Lifo remover picks the new item). A
sample waits for the limiter (later samples of one batch do not wait: the batch
comes back short instead), increments the item's `times_sampled`, reports it
with the probability, priority and table size, and deletes the item when
`times_sampled == max_times_sampled`. `mutate_priorities` deletes first, then
updates; unknown keys are ignored.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import operator
import pickle
import sys
import threading
import weakref
import time
from typing import Any

import jax
import numpy as np

from agentax.reverb import rate_limiters as rl
from agentax.reverb import selectors as sel
from agentax.reverb._storage import StepStore
from agentax.reverb.errors import CancelledError, DeadlineExceededError
from agentax.reverb.replay_sample import SampleInfo


@dataclasses.dataclass(frozen=True)
class SelectorOptions:
    name: str
    is_deterministic: bool


@dataclasses.dataclass(frozen=True)
class TableInfo:
    name: str
    sampler_options: SelectorOptions
    remover_options: SelectorOptions
    max_size: int
    max_times_sampled: int
    rate_limiter_info: dict
    signature: Any
    current_size: int
    num_episodes: int
    num_deleted_episodes: int


GROUP = 256  # the most writer items inserted in one vectorised pass


class Feed:
    """A writer's items for one table, not inserted yet (`owner`: a weak reference to the writer)."""

    __slots__ = ("pending", "owner")

    def __init__(self, owner):
        self.pending = collections.deque()
        self.owner = weakref.ref(owner)


class NewItem(tuple):
    """What a writer hands a table: `steps` are `(uid, flat_values)` pairs, `columns` the
    indices of the values the item keeps, `treedef` its structure. A tuple (writers make
    them with `tuple.__new__(NewItem, (priority, steps, columns, treedef, squeeze))`)."""

    __slots__ = ()

    def __new__(cls, priority: float, steps: list, columns: tuple, treedef, squeeze: bool = False):
        return tuple.__new__(cls, (priority, steps, columns, treedef, squeeze))

    priority = property(operator.itemgetter(0))
    steps = property(operator.itemgetter(1))
    columns = property(operator.itemgetter(2))
    treedef = property(operator.itemgetter(3))
    squeeze = property(operator.itemgetter(4))


def deadline_of(timeout_ms) -> float | None:
    if timeout_ms is None or timeout_ms < 0:
        return None
    return time.monotonic() + timeout_ms / 1000.0


def _spec_shape(spec):
    return tuple(None if d is None else int(d) for d in spec.shape)


class Table:
    """A Reverb table. `Table(name, sampler, remover, max_size, rate_limiter,
    max_times_sampled=0, extensions=(), signature=None)`; `signature` is a nest of
    specs (`ArraySpec` or anything with `shape` and `dtype`; `None` in a shape matches
    any size) describing each item, time dimension included.

    Beyond Reverb (which hangs or deadlocks there), a negative `max_times_sampled`
    and a limiter whose `min_size_to_sample` exceeds `max_size` are `ValueError`s.
    Without a signature, the first item fixes the table's structure, shapes and dtypes.
    """

    def __init__(self, name: str, sampler: sel._Selector, remover: sel._Selector, max_size: int,
                 rate_limiter: rl.RateLimiter, max_times_sampled: int = 0, extensions=(),
                 signature=None):
        if not name:
            raise ValueError("name must be nonempty")
        if max_size <= 0:
            raise ValueError(f"max_size ({max_size}) must be a positive integer")
        if max_times_sampled < 0:
            raise ValueError(f"max_times_sampled ({max_times_sampled}) must be >= 0 (0 means no limit)")
        if rate_limiter.min_size_to_sample > max_size:
            raise ValueError(
                f"rate_limiter.min_size_to_sample ({rate_limiter.min_size_to_sample}) is above max_size "
                f"({max_size}): sampling could never start (Reverb deadlocks here)")
        if extensions:
            raise NotImplementedError("agentax.reverb tables take no extensions")
        for arg, s in (("sampler", sampler), ("remover", remover)):
            if not isinstance(s, sel._Selector):
                raise ValueError(f"`{arg}` must be a selector from agentax.reverb.selectors, got {s!r}")
        self._name = name
        self._sampler_cfg, self._remover_cfg = sampler, remover
        self._max_size = int(max_size)
        self._max_times_sampled = int(max_times_sampled)
        self._limiter = rate_limiter
        self._signature = signature
        self._sig_treedef = None
        if signature is not None:
            leaves, self._sig_treedef = jax.tree.flatten(signature, is_leaf=lambda x: hasattr(x, "dtype"))
            self._sig_leaves = [(_spec_shape(s), np.dtype(s.dtype)) for s in leaves]
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        n = self._max_size + GROUP  # a group inserted into a full table waits in the extra rows for the remover
        self._sampler = sampler._build(n)
        self._remover = remover._build(n)
        self._store: StepStore | None = None
        self._treedef = None
        self._colsel: dict = {}
        self._size = 0
        self._free_rows: list[int] = []
        self._next_row = 0
        self._meta = None
        self._num_rows = n
        # an item's key is `insertion_number * num_rows + row`; -1 marks a free row. The per-row fields
        # grow with the rows used (a new table touches no memory per row of max_size)
        self._set_meta(np.zeros(min(n, 1024), _meta_dtype(1)))
        self._keys[:] = -1
        self._order = np.zeros(n, np.int64)
        self._squeeze = np.zeros(n, np.bool_)
        self._insert_count = 0
        self._checked = self._checked_treedef = None
        self._feeds: list[Feed] = []  # writers' items created but not inserted yet
        # items flushed by writers while the limiter cannot block inserts: they count as inserted (every
        # read and every other insert takes them in first, in order) and go in in groups
        self._committed: collections.deque = collections.deque()
        self._never_blocks_inserts = rate_limiter.max_diff >= sys.float_info.max
        self._waiting = 0

    # ------------------------------------------------------------------ Reverb API
    @classmethod
    def queue(cls, name: str, max_size: int, signature=None) -> "Table":
        """A FIFO queue: each item is sampled once; inserts block when full, samples when empty."""
        return cls(name, sel.Fifo(), sel.Fifo(), max_size, rl.Queue(max_size), max_times_sampled=1,
                   signature=signature)

    @classmethod
    def stack(cls, name: str, max_size: int, signature=None) -> "Table":
        """A LIFO stack: each item is sampled once; inserts block when full, samples when empty."""
        return cls(name, sel.Lifo(), sel.Lifo(), max_size, rl.Stack(max_size), max_times_sampled=1,
                   signature=signature)

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_size(self) -> int:
        return self._max_size

    def can_sample(self, num_samples: int) -> bool:
        with self._cond:
            self._pull()
            return self._limiter.can_sample(num_samples)

    def can_insert(self, num_inserts: int) -> bool:
        with self._cond:
            self._pull()
            return self._limiter.can_insert(num_inserts)

    def __len__(self) -> int:
        with self._cond:
            self._pull()
            return self._size

    def info(self) -> TableInfo:
        with self._cond:
            self._pull()
            return TableInfo(
                name=self._name,
                sampler_options=SelectorOptions(repr(self._sampler_cfg), self._sampler_cfg.deterministic),
                remover_options=SelectorOptions(repr(self._remover_cfg), self._remover_cfg.deterministic),
                max_size=self._max_size, max_times_sampled=self._max_times_sampled,
                rate_limiter_info=self._limiter.info(), signature=self._signature,
                current_size=self._size, num_episodes=0, num_deleted_episodes=0)

    def __repr__(self) -> str:
        return (f"Table(name={self._name!r}, sampler={self._sampler_cfg!r}, remover={self._remover_cfg!r}, "
                f"max_size={self._max_size}, rate_limiter={self._limiter!r}, "
                f"max_times_sampled={self._max_times_sampled})")

    # ------------------------------------------------------------------ waiting
    def _wait(self, ready, deadline: float | None, what: str) -> None:
        """Wait (lock held) until `ready()`; raise DeadlineExceededError at the deadline.

        Items writers have created but not inserted yet are pulled in first, so a
        sampler never waits for an item that already exists."""
        self._waiting += 1
        try:
            self._pull()
            while not ready():
                if self._closed:
                    raise CancelledError(f"table {self._name!r}: the server was stopped")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise DeadlineExceededError(
                        f"table {self._name!r}: the rate limiter did not allow the {what} before the "
                        f"timeout ({self._limiter!r}, size {self._size})")
                self._cond.wait(remaining)
                self._pull()
        finally:
            self._waiting -= 1

    # ------------------------------------------------------------------ items created by writers
    def register_feed(self, feed: "Feed") -> None:
        """`feed.pending` (a deque of `NewItem`s) is pulled in before every read of the table."""
        with self._cond:
            self._feeds.append(feed)

    def unregister_feed(self, feed: "Feed") -> None:
        with self._cond:
            if feed in self._feeds:
                self._feeds.remove(feed)

    def feed_grew(self, pending) -> None:
        """A writer's `pending` (a registered feed's deque) grew: insert a full group from it, or wake the
        readers waiting (they pull it in)."""
        with self._cond:
            if len(pending) >= GROUP:
                self._insert_from(pending)
            else:
                self._cond.notify_all()

    def _pull(self) -> None:
        """Insert what the writers have pending, as far as the rate limiter allows (lock held).
        A writer dropped without `close` leaves its feed here: its items still arrive."""
        if self._committed:
            self._insert_from(self._committed)
        for feed in self._feeds:
            if feed.pending:
                self._insert_from(feed.pending)
        if len(self._feeds) > 8:
            self._feeds = [f for f in self._feeds if f.pending or f.owner() is not None]

    def _insert_from(self, pending, keep: int = 0) -> None:
        """Insert items from the head of the deque `pending` while the limiter allows and more than
        `keep` remain (lock held)."""
        if self._committed and pending is not self._committed:
            self._insert_from(self._committed)  # flushed items first
        while len(pending) > keep:
            k = min(len(pending) - keep, GROUP)
            if k > 1 and self._limiter.can_insert(k):
                popleft = pending.popleft  # (a writer thread may be appending meanwhile)
                batch = [popleft() for _ in range(k)]
                self._insert_group(batch)
            elif self._limiter.can_insert(1):
                self._insert_locked(pending[0])
                pending.popleft()
            else:
                return

    def insert_pending(self, pending, deadline, keep: int = 0) -> None:
        """Insert from `pending` until at most `keep` items remain, waiting up to `deadline`.

        With a limiter that cannot block inserts (`MinSize`), a whole flush is committed instead:
        the items (and, as waiting would pull them, every other writer's pending items, in the same
        order) count as inserted from now on, go in before anything reads the table or inserts into
        it, and are inserted in groups of `GROUP` (a writer's episode is often shorter)."""
        with self._cond:
            if keep == 0 and self._never_blocks_inserts and pending:
                committed = self._committed
                for feed in self._feeds:  # every writer's pending items, in order, as `_wait` pulls them
                    if feed.pending:
                        _move(feed.pending, committed, own=feed.pending is pending)
                _move(pending, committed, own=True)  # (a feed no longer registered)
                if len(self._committed) >= GROUP:
                    self._insert_from(self._committed, len(self._committed) % GROUP)
                if self._waiting:
                    self._cond.notify_all()
                return
            while len(pending) > keep:
                self._wait(lambda: len(pending) <= keep or self._limiter.can_insert(1), deadline, "insert")
                self._insert_from(pending, keep)

    def prepare(self, item: NewItem) -> None:
        """Check (and on the first item, fix) the table's layout for items shaped like `item`."""
        with self._cond:
            first = item.steps[0][1]
            self._check_structure(item, [first[c] for c in item.columns])
            self._check_values(item, [first[c] for c in item.columns])

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ insert
    def _check_structure(self, item: NewItem, values) -> None:
        """Validate the first step of an item against the signature and the stored layout."""
        paths = None
        if self._sig_treedef is not None:
            if item.treedef != self._sig_treedef:
                raise ValueError(f"table {self._name!r}: the item's structure {item.treedef} does not match "
                                 f"the table signature {self._sig_treedef}")
            for i, (value, (shape, dtype)) in enumerate(zip(values, self._sig_leaves)):
                got = tuple(np.shape(value)) if item.squeeze else (len(item.steps),) + np.shape(value)
                ok = np.asarray(value).dtype == dtype and len(got) == len(shape) and all(
                    e is None or e == g for e, g in zip(shape, got))
                if not ok:
                    paths = paths or _paths(item.treedef)
                    raise ValueError(
                        f"table {self._name!r}: leaf {paths[i]} does not match the signature: expected "
                        f"shape {shape} dtype {dtype}, got shape {got} dtype {np.asarray(value).dtype}")
        if self._store is None:
            self._treedef = item.treedef
            self._store = StepStore([np.shape(v) for v in values], [np.asarray(v).dtype for v in values],
                                    initial_capacity=min(1024, self._max_size * len(item.steps)) or 1)
            return
        if item.treedef != self._treedef:
            raise ValueError(f"table {self._name!r}: the item's structure {item.treedef} differs from the "
                             f"table's {self._treedef} (agentax stores one structure per table)")

    def _check_values(self, item: NewItem, values) -> None:
        store = self._store
        for value, shape, dtype in zip(values, store.shapes, store.dtypes):
            if value.shape != shape or value.dtype != dtype:
                break
        else:
            return
        for i, value in enumerate(values):
            if value.shape != store.shapes[i] or value.dtype != store.dtypes[i]:
                raise ValueError(
                    f"table {self._name!r}: leaf {_paths(item.treedef)[i]}: expected shape "
                    f"{store.shapes[i]} dtype {store.dtypes[i]} per step, got shape {value.shape} "
                    f"dtype {value.dtype}")

    def insert(self, item: NewItem, timeout_ms: int | None = None) -> None:
        """Insert `item`, waiting up to `timeout_ms` for the rate limiter (None: forever)."""
        deadline = deadline_of(timeout_ms)
        with self._cond:
            self._wait(lambda: self._limiter.can_insert(1), deadline, "insert")
            self._insert_locked(item)

    def try_insert(self, item: NewItem) -> bool:
        """Insert now if the rate limiter allows it; False (nothing changed) otherwise."""
        with self._cond:
            if self._committed:
                self._insert_from(self._committed)
            if not self._limiter.can_insert(1):
                return False
            self._insert_locked(item)
            return True

    def _insert_locked(self, item: NewItem) -> None:
        cols = item.columns
        shape_key = (len(item.steps), item.squeeze)
        if self._store is None or item.treedef is not self._checked_treedef or shape_key != self._checked:
            first = item.steps[0][1]
            self._check_structure(item, [first[c] for c in cols])
            self._checked, self._checked_treedef = shape_key, item.treedef
        colsel = self._colsel.get(cols)
        if colsel is None:
            colsel = self._colsel[cols] = len(self._colsel)
        store = self._store
        slots = []
        for uid, flat in item.steps:
            step_id = (uid << 16) | colsel
            slot = store.find(step_id)
            if slot is None:
                values = [flat[c] for c in cols]
                self._check_values(item, values)
                slot = store.slot(step_id, values)
            else:
                store.refs[slot] += 1
            slots.append(slot)
        length = len(slots)
        self._grow_steps(length)
        row = self._free_rows.pop() if self._free_rows else self._next_row
        if row == self._next_row:
            self._next_row += 1
            if row >= len(self._meta):
                self._ensure_rows(row + 1)
        self._steps[row, :length] = slots
        self._length[row] = length
        self._keys[row] = self._insert_count * self._num_rows + row
        self._priority[row] = item.priority
        self._times[row] = 0
        self._squeeze[row] = item.squeeze
        self._order[row] = self._insert_count
        self._insert_count += 1
        self._size += 1
        self._sampler.insert(row, item.priority)
        self._remover.insert(row, item.priority)
        if self._size > self._max_size:
            self._delete(self._remover.sample()[0])
        self._limiter.inserts += 1
        if self._waiting:
            self._cond.notify_all()

    def _ensure_rows(self, count: int) -> None:
        """Make the per-row fields at least `count` rows long (doubling, up to `num_rows`)."""
        old = self._meta
        if count > len(old):
            meta = np.zeros(min(self._num_rows, max(count, 2 * len(old))), old.dtype)
            meta[:len(old)] = old
            meta["key"][len(old):] = -1
            self._set_meta(meta)

    def _set_meta(self, meta: np.ndarray) -> None:
        """Per-item fields side by side (one cache line per sampled item), used through views."""
        self._meta = meta
        self._keys, self._priority = meta["key"], meta["priority"]
        self._times, self._length, self._steps = meta["times"], meta["length"], meta["steps"]

    def _row_of(self, key) -> int | None:
        """The row of the item with `key`, or None if no such item is in the table."""
        key = int(key)
        row = key % self._num_rows
        return row if key >= 0 and row < len(self._keys) and self._keys[row] == key else None

    def _grow_steps(self, length: int) -> None:
        """Make room for items of `length` steps in the per-item step indices."""
        if length > self._steps.shape[1]:
            old = self._meta
            meta = np.zeros(len(old), _meta_dtype(length))
            for field in ("key", "priority", "times", "length"):
                meta[field] = old[field]
            meta["steps"][:, :old["steps"].shape[1]] = old["steps"]
            self._set_meta(meta)

    def _insert_group(self, items: list) -> None:
        """Insert writer items (already validated by `prepare`) in one vectorised pass (lock held).

        Equivalent to inserting them one by one: the limiter allowed all of them, and
        evicting the remover's picks after the group keeps what one-by-one evictions keep
        for Fifo, Lifo and heap removers (uniform and prioritized ones pick at random)."""
        priority, steps, cols, treedef, squeeze = items[0]
        length = len(steps)
        checked = self._checked_treedef
        if (treedef is not checked and (checked is None or treedef != checked)
                or (length, squeeze) != self._checked):
            for it in items:
                self._insert_locked(it)
            return
        k = len(items)
        priorities, step_lists, item_cols, treedefs, squeezes = zip(*items)
        if (item_cols.count(cols) != k or treedefs.count(treedef) != k or squeezes.count(squeeze) != k
                or list(map(len, step_lists)).count(length) != k):
            for it in items:  # items of another layout among them: one by one
                self._insert_locked(it)
            return
        colsel = self._colsel.get(cols)
        if colsel is None:
            colsel = self._colsel[cols] = len(self._colsel)
        slots = self._store.add_items(step_lists, colsel, cols)
        free_rows = self._free_rows
        take = min(k, len(free_rows))
        start = self._next_row
        if take:
            rows = free_rows[len(free_rows) - take:]
            del free_rows[len(free_rows) - take:]
            rows += range(start, start + k - take)
            rows = where = np.array(rows, np.int64)
        else:
            rows = np.arange(start, start + k)
            where = slice(start, start + k)
        self._next_row = start + k - take
        if self._next_row > len(self._meta):
            self._ensure_rows(self._next_row)
        seqs = np.arange(self._insert_count, self._insert_count + k)
        priorities = np.array(priorities, np.float64)
        self._grow_steps(length)
        self._steps[where, :length] = slots
        self._length[where] = length
        self._keys[where] = seqs * self._num_rows + rows
        self._priority[where] = priorities
        self._times[where] = 0
        self._squeeze[where] = squeeze
        self._order[where] = seqs
        self._insert_count += k
        self._size += k
        self._sampler.insert_many(rows, priorities)
        self._remover.insert_many(rows, priorities)
        excess = self._size - self._max_size
        if excess > 0:
            self._evict(excess)
        self._limiter.inserts += k
        if self._waiting:
            self._cond.notify_all()

    def _evict(self, count: int) -> None:
        picks = self._remover.first(count)
        if picks is None:
            for _ in range(count):
                self._delete(self._remover.sample()[0])
            return
        rows = np.array(picks, np.int64)
        self._keys[rows] = -1
        self._size -= len(rows)
        lengths = self._length[rows]
        if np.all(lengths == lengths[0]):
            slots = self._steps[rows, :lengths[0]].ravel()
        else:
            slots = np.concatenate([self._steps[r, :n] for r, n in zip(rows, lengths)])
        self._store.release_many(slots)
        self._sampler.delete_many(rows)
        self._remover.delete_many(rows)
        self._free_rows.extend(picks)
        self._limiter.deletes += count

    # ------------------------------------------------------------------ delete / update
    def _delete(self, row: int) -> None:
        self._keys[row] = -1
        self._size -= 1
        self._store.release(self._steps[row, :self._length[row]])
        self._sampler.delete(row)
        self._remover.delete(row)
        self._free_rows.append(row)
        self._limiter.deletes += 1

    def _update(self, row: int, priority: float) -> None:
        self._priority[row] = priority
        self._sampler.update(row, priority)
        self._remover.update(row, priority)

    def mutate_priorities(self, updates=None, deletes=None) -> None:
        """Delete `deletes` (keys), then set `updates` ({key: priority}); unknown keys are ignored."""
        updates = dict(updates or {})
        keys = prios = None
        if len(updates) > 8:  # many: as arrays (anything unusual takes the loop below, and its errors)
            try:
                keys = np.fromiter(updates.keys(), np.int64, len(updates))
                prios = np.fromiter(updates.values(), np.float64, len(updates))
                if not (prios >= 0).all():  # NaN or negative
                    keys = prios = None
            except (TypeError, ValueError, OverflowError):
                keys = prios = None
        if prios is None:
            for key, p in updates.items():
                sel._check_priority(p)
        with self._cond:
            self._pull()
            for key in deletes or ():
                row = self._row_of(key)
                if row is not None:
                    self._delete(row)
            if prios is not None:
                rows = keys % self._num_rows
                known = (keys >= 0) & (rows < len(self._keys))
                known[known] = self._keys[rows[known]] == keys[known]
                rows, prios = rows[known], prios[known]
            else:
                rows, prios = [], []
                for key, p in updates.items():
                    row = self._row_of(key)
                    if row is not None:
                        rows.append(row)
                        prios.append(float(p))
            if len(rows) > 8 and hasattr(self._sampler, "update_many") and not isinstance(
                    self._remover, sel._HeapState):
                self._priority[rows] = prios
                self._sampler.update_many(rows, prios)
                if hasattr(self._remover, "update_many"):
                    self._remover.update_many(rows, prios)
                elif type(self._remover).update is not sel._SelectorState.update:
                    for row, p in zip(np.asarray(rows).tolist(), np.asarray(prios).tolist()):
                        self._remover.update(row, p)
            else:
                for row, p in zip(np.asarray(rows).tolist(), np.asarray(prios, np.float64).tolist()):
                    self._update(row, p)
            if self._waiting:
                self._cond.notify_all()

    def reset(self) -> None:
        """Remove every item and reset the rate limiter's counters."""
        with self._cond:
            self._committed.clear()  # flushed items count as inserted: they go with the rest
            self._keys[:] = -1
            self._size = 0
            self._free_rows.clear()
            self._next_row = 0
            self._sampler.clear()
            self._remover.clear()
            if self._store is not None:
                self._store.clear()
            self._limiter.reset()
            self._cond.notify_all()

    # ------------------------------------------------------------------ sample
    def sample(self, num_samples: int = 1, timeout_ms: int | None = None):
        """Up to `num_samples` items as `(rows_info, data)`: waits up to `timeout_ms` for the first one;
        the rest come only while the rate limiter allows them without waiting.

        Returns `(SampleInfo of arrays [n], list of flat data per item)` through `_gather`.
        """
        if num_samples < 1:
            raise ValueError(f"num_samples ({num_samples}) must be a positive integer")
        deadline = deadline_of(timeout_ms)
        with self._cond:
            self._wait(lambda: self._limiter.can_sample(1), deadline, "sample")
            if self._sampler.batchable and self._max_times_sampled == 0:
                n = self._limiter.num_samples_allowed(num_samples)
                rows, probs = self._sampler.sample_batch(n)
                meta = np.take(self._meta, rows)  # whole records (faster than fancy indexing them)
                times = meta["times"] + 1
                order = rows.argsort(kind="stable")
                sorted_rows = rows[order]
                starts = np.empty(n, np.bool_)  # where a run of equal rows starts
                starts[:1] = True
                np.not_equal(sorted_rows[1:], sorted_rows[:-1], out=starts[1:])
                if starts.all():
                    self._times[rows] = times
                else:  # an item drawn k times: its draws report times + 1, ..., times + k
                    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
                    times[order] += np.arange(n) - first
                    last = np.append(starts[1:], True)
                    self._times[sorted_rows[last]] = times[order[last]]
                self._limiter.samples += n
                sizes = np.empty(n, np.int64)
                sizes.fill(self._size)
                info = SampleInfo(meta["key"], probs, sizes, meta["priority"], times)
                data = self._gather(rows, meta["length"], meta["steps"])
            else:
                info, data = self._sample_one_by_one(num_samples)
            if self._waiting:
                self._cond.notify_all()
            return info, data

    def _sample_one_by_one(self, num_samples):
        keys, probs, sizes, prios, times, datas = [], [], [], [], [], []
        for i in range(num_samples):
            if i and not self._limiter.can_sample(1):
                break
            row, prob = self._sampler.sample()
            self._times[row] += 1
            self._limiter.samples += 1
            keys.append(self._keys[row])
            probs.append(prob)
            sizes.append(self._size)
            prios.append(self._priority[row])
            times.append(self._times[row])
            datas.append(self._gather(np.array([row])))
            if self._times[row] == self._max_times_sampled:
                self._delete(row)
        info = SampleInfo(np.array(keys, np.int64), np.array(probs), np.array(sizes, np.int64),
                          np.array(prios), np.array(times, np.int32))
        return info, _concat(datas)

    def _gather(self, rows: np.ndarray, lengths=None, steps=None):
        """Flat column arrays `[n, T, ...]` (or `[n, ...]` for squeezed items) for `rows`."""
        if lengths is None:
            lengths = self._length[rows]
        if len(rows) and (lengths != lengths[0]).any():
            return _Ragged([self._gather(rows[i:i + 1]) for i in range(len(rows))])
        length = int(lengths[0]) if len(rows) else 0
        cols = self._store.gather((self._steps[rows] if steps is None else steps)[:, :length])
        if len(rows) and self._squeeze[rows[0]]:
            cols = [c[:, 0] for c in cols]
        return cols

    def unflatten(self, flat):
        return jax.tree.unflatten(self._treedef, flat)

    # ------------------------------------------------------------------ state (checkpoints)
    def get_state(self) -> dict:
        """The table's contents as NumPy arrays: items in insertion order (`keys`, `priorities`,
        `times_sampled`, `lengths`, `squeeze`), `steps` (each item's step indices, concatenated),
        `column_<i>` (the steps' data per leaf), `rate_limiter` (inserts, samples, deletes) and
        `structure` (the pickled item structure)."""
        with self._cond:
            self._pull()
            rows = np.nonzero(self._keys >= 0)[0]
            rows = rows[np.argsort(self._order[rows], kind="stable")]
            lengths = self._length[rows]
            state = {
                "keys": self._keys[rows], "priorities": self._priority[rows],
                "times_sampled": self._times[rows], "lengths": lengths,
                "squeeze": self._squeeze[rows],
                "rate_limiter": np.array(self._limiter.state(), np.int64),
                "structure": np.frombuffer(pickle.dumps(self._treedef), np.uint8).copy(),
            }
            if self._store is not None and len(rows):
                slots = self._item_slots(rows)
                unique, first, inverse = np.unique(slots, return_index=True, return_inverse=True)
                order = np.argsort(first)  # number steps by first use: the state is canonical
                rank = np.empty_like(order)
                rank[order] = np.arange(len(order))
                state["steps"] = rank[inverse].astype(np.int64)
                for i, col in enumerate(self._store.gather(unique[order])):
                    state[f"column_{i}"] = col
            else:
                state["steps"] = np.zeros(0, np.int64)
            return state

    def _item_slots(self, rows: np.ndarray) -> np.ndarray:
        lengths = self._length[rows]
        if len(rows) and np.all(lengths == lengths[0]):
            return self._steps[rows, :lengths[0]].ravel()
        return np.concatenate([self._steps[r, :n] for r, n in zip(rows.tolist(), lengths.tolist())])

    def set_state(self, state: dict) -> None:
        """Replace the contents with `state` (from `get_state`, possibly of another server)."""
        keys = np.asarray(state["keys"], np.int64)
        n = len(keys)
        if n > self._max_size:
            raise ValueError(f"table {self._name!r}: the state holds {n} items, max_size is {self._max_size}")
        treedef = pickle.loads(np.asarray(state["structure"]).tobytes())
        if n and self._sig_treedef is not None and treedef != self._sig_treedef:
            raise ValueError(f"table {self._name!r}: the state's structure {treedef} does not match the "
                             f"signature {self._sig_treedef}")
        self.reset()
        with self._cond:
            self._checked = self._checked_treedef = None
            if n:
                ncols = sum(1 for k in state if k.startswith("column_"))
                columns = [np.asarray(state[f"column_{i}"]) for i in range(ncols)]
                steps = np.asarray(state["steps"], np.int64)
                lengths = np.asarray(state["lengths"], np.int32)
                num_steps = len(columns[0])
                store = StepStore([c.shape[1:] for c in columns], [c.dtype for c in columns],
                                  initial_capacity=max(1, num_steps))
                for dst, src in zip(store.columns, columns):
                    dst[:num_steps] = src
                store.used = num_steps
                store.refs[:num_steps] = np.bincount(steps, minlength=num_steps)
                self._store, self._treedef = store, treedef
                self._grow_steps(int(lengths.max()))
                num_rows = self._num_rows
                self._ensure_rows(num_rows)
                rows = keys % num_rows  # keys made by a table of this size name their rows
                if np.any(keys < 0) or len(np.unique(rows)) != n:
                    rows = np.arange(n)
                    keys = rows * num_rows + rows
                if np.all(lengths == lengths[0]):
                    self._steps[rows, :lengths[0]] = steps.reshape(n, lengths[0])
                else:
                    offsets = np.concatenate([[0], np.cumsum(lengths)])
                    for i, row in enumerate(rows.tolist()):
                        self._steps[row, :lengths[i]] = steps[offsets[i]:offsets[i + 1]]
                priorities = np.asarray(state["priorities"], np.float64)
                self._length[rows], self._keys[rows], self._priority[rows] = lengths, keys, priorities
                self._times[rows] = state["times_sampled"]
                self._squeeze[rows] = state["squeeze"]
                self._order[rows] = np.arange(n)
                self._insert_count = int(keys.max() // num_rows) + 1
                self._size = n
                self._next_row = num_rows
                self._free_rows = np.setdiff1d(np.arange(num_rows), rows)[::-1].tolist()
                self._sampler.insert_many(rows, priorities)
                self._remover.insert_many(rows, priorities)
            self._limiter.set_state(state["rate_limiter"])
            self._cond.notify_all()


def _move(source: collections.deque, target: collections.deque, own: bool = False) -> None:
    """Move the items now in `source` to the end of `target` (one at a time: the thread of the
    writer that owns `source` may be appending to it meanwhile; at once when this is that thread, `own`)."""
    if own:
        target.extend(source)
        source.clear()
        return
    popleft, append = source.popleft, target.append
    for _ in range(len(source)):
        append(popleft())


class _Ragged(list):
    """Items of different lengths: one flat column list per item."""


def _meta_dtype(max_length: int) -> np.dtype:
    return np.dtype([("key", np.int64), ("priority", np.float64), ("times", np.int32), ("length", np.int32),
                     ("steps", np.int32, (max_length,))])


def _concat(datas):
    if not datas:
        return []
    if any(isinstance(d, _Ragged) for d in datas) or len({d[0].shape[1:] for d in datas if d}) > 1:
        out = _Ragged()
        for d in datas:
            out.extend(d if isinstance(d, _Ragged) else [d])
        return out
    return [np.concatenate(cols) for cols in zip(*datas)]


def _paths(treedef) -> list[str]:
    dummy = jax.tree.unflatten(treedef, list(range(treedef.num_leaves)))
    return [jax.tree_util.keystr(p) or "<root>" for p, _ in jax.tree_util.tree_flatten_with_path(dummy)[0]]


_uids = itertools.count(1)  # step ids of appended steps; next() is atomic under the GIL


def fresh_uid() -> int:
    return next(_uids)


def _occurrence(rows: np.ndarray) -> np.ndarray:
    """For each position, how many earlier positions hold the same row."""
    n = len(rows)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    starts = np.r_[True, sorted_rows[1:] != sorted_rows[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - first
    return rank


def check_priority(priority) -> float:
    return sel._check_priority(priority)
