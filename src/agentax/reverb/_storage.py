"""Step storage of a table: one preallocated array per trajectory column (structure of arrays).

The columns are fields of one preallocated record array (packed, no padding), so
a sample reads each step's columns from one place (one cache line for a CartPole
step) and `np.take` copies whole records; `columns` are the per-leaf views.

Items hold slot indices into these arrays, so overlapping sequences share their
steps, as Reverb's chunks do. A slot is reference-counted and freed when the
last item using it goes. Slots are found again by step id (`uid`, with the
column selection) in a ring of `RING` entries indexed by the id's low bits (step
ids grow by one per appended step, so the ring holds the last `RING` steps stored,
which covers every step a writer can still reference): looked up, filled and
cleared for a whole group of steps at once in NumPy. A step whose entry was
overwritten (only by a step `RING` ids later) is stored again if referenced again:
more memory, the same data.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np

_first = operator.itemgetter(0)
RING = 1 << 16


def _ring_index(step_ids):
    """Where a step id (`uid << 16 | column selection`, an int or an int64 array) sits in the ring:
    consecutive uids of one column selection take consecutive entries."""
    return ((step_ids >> 16) + (step_ids & 0xFFFF) * 23_531) & (RING - 1)


class StepStore:
    def __init__(self, shapes, dtypes, initial_capacity: int = 1024):
        self.shapes = [tuple(s) for s in shapes]
        self.dtypes = [np.dtype(d) for d in dtypes]
        # numeric columns: a value's bytes are its data (its dtype and shape are the column's, checked
        # on append), so a group of values can be joined as bytes
        self.raw = [d.kind in "biufc" and d.isnative for d in self.dtypes]
        self.all_raw = all(self.raw)
        self.capacity = int(initial_capacity)
        self.record = np.dtype([(f"c{i}", d, s) for i, (s, d) in enumerate(zip(self.shapes, self.dtypes))])
        self._set_data(np.zeros(self.capacity, self.record))
        self.refs = np.zeros(self.capacity, np.int32)
        self.slot_id = np.full(self.capacity, -1, np.int64)
        self.used = 0          # slots handed out at least once (the high-water mark)
        self.free: list[int] = []
        self.ring_id = np.full(RING, -1, np.int64)  # the step id of each ring entry (-1: none)
        self.ring_slot = np.zeros(RING, np.int64)   # its slot

    def find(self, step_id: int) -> int | None:
        """The slot holding step `step_id`, or None."""
        i = _ring_index(step_id)
        return int(self.ring_slot[i]) if self.ring_id[i] == step_id else None

    def _grow(self) -> None:
        new = self.capacity * 2
        data = np.zeros(new, self.record)
        data[:self.capacity] = self.data
        self._set_data(data)
        self.refs = np.concatenate([self.refs, np.zeros(new - self.capacity, np.int32)])
        self.slot_id = np.concatenate([self.slot_id, np.full(new - self.capacity, -1, np.int64)])
        self.capacity = new

    def _set_data(self, data: np.ndarray) -> None:
        self.data = data
        self.columns = [data[name] for name in self.record.names]  # views, one per leaf

    def slot(self, step_id: int, values) -> int:
        """The slot holding step `step_id` (writing `values`, one per column, if new); adds a reference."""
        slot = self.find(step_id)
        if slot is None:
            if self.free:
                slot = self.free.pop()
            else:
                if self.used == self.capacity:
                    self._grow()
                slot = self.used
                self.used += 1
            for column, value in zip(self.columns, values):
                column[slot] = value
            self.slot_id[slot] = step_id
            i = _ring_index(step_id)
            self.ring_id[i], self.ring_slot[i] = step_id, slot
        self.refs[slot] += 1
        return slot

    def add_steps(self, step_ids: list, slots: list, flats: list, columns: tuple, used: int) -> None:
        """Fill `slots` (taken from `free` or below the new high-water mark `used`, already in
        the ring) for new steps `step_ids`: the values `flat[c]` of the selected columns of each
        `flats` entry. No references are added."""
        while used > self.capacity:
            self._grow()
        n = len(slots)
        # free slots (all below the old mark) are taken first: slots[0] at the old mark means none was
        fresh_only = n and slots[0] == self.used
        self.used = used
        if not n:
            return
        target = slice(slots[0], used) if fresh_only else slots
        self.slot_id[target] = step_ids
        ncols = len(self.columns)
        if self.all_raw and len(columns) == ncols == len(flats[0]) and columns == tuple(range(ncols)):
            try:  # whole records: the values' bytes, in column order, joined (one copy)
                self.data[target] = np.frombuffer(b"".join(itertools.chain.from_iterable(flats)), self.record)
                return
            except (TypeError, ValueError, BufferError):  # e.g. a non-contiguous array
                pass
        per_column = zip(*flats) if len(columns) == len(flats[0]) and columns == tuple(range(ncols)) \
            else ([flat[c] for flat in flats] for c in columns)
        for column, values, raw in zip(self.columns, per_column, self.raw):
            if raw:  # the values' bytes, joined: one copy (each value has the column's dtype and shape)
                try:
                    values = np.frombuffer(b"".join(values), column.dtype).reshape((n,) + column.shape[1:])
                except (TypeError, ValueError, BufferError):  # e.g. a non-contiguous array
                    values = list(values)
            column[target] = values

    def add_items(self, step_lists, colsel: int, columns: tuple) -> np.ndarray:
        """The slots `[k, length]` of the steps of `k` items of `length` steps each (`step_lists`: per
        item, its `(uid, flat_values)` pairs), with a reference added for each; steps not stored yet
        (by uid and column selection `colsel`) are written from `flat[c] for c in columns`.

        The same as `slot` for each step of each item in turn (new steps get slots in order of first
        use, from `free` first), but vectorised: the steps are deduplicated by uid and looked up in the
        ring in NumPy; Python touches only the new steps' values."""
        refs = list(itertools.chain.from_iterable(step_lists))
        uids = np.fromiter(map(_first, refs), np.int64, len(refs))
        unique, first, inverse = np.unique(uids, return_index=True, return_inverse=True)
        by_use = first.argsort()                  # distinct steps in order of first use
        rank = np.empty(len(by_use), np.int64)
        rank[by_use] = np.arange(len(by_use))
        step_ids = (unique[by_use] << 16) | colsel
        where = _ring_index(step_ids)
        distinct = self.ring_slot[where]
        new = np.flatnonzero(self.ring_id[where] != step_ids)
        if len(new):
            take = min(len(self.free), len(new))
            new_slots = self.free[len(self.free) - take:][::-1]  # popped from the end, as `slot` does
            del self.free[len(self.free) - take:]
            used = self.used + len(new) - take
            new_slots += range(self.used, used)
            distinct[new] = new_slots
            self.ring_id[where[new]] = step_ids[new]
            self.ring_slot[where[new]] = new_slots
            first_use = first[by_use[new]].tolist()
            self.add_steps(step_ids[new], new_slots, [refs[i][1] for i in first_use], columns, used)
        self.refs[distinct] += np.bincount(inverse.ravel(), minlength=len(distinct))[by_use].astype(np.int32)
        return distinct[rank[inverse]].reshape(len(step_lists), -1)

    def release_many(self, slots: np.ndarray) -> None:
        np.subtract.at(self.refs, slots, 1)
        unique = np.unique(slots)
        freed = unique[self.refs[unique] == 0]
        if len(freed):
            ids = self.slot_id[freed]
            where = _ring_index(ids)
            mine = (self.ring_id[where] == ids) & (self.ring_slot[where] == freed)
            self.ring_id[where[mine]] = -1
            self.slot_id[freed] = -1
            self.free.extend(freed.tolist())

    def release(self, slots) -> None:
        for slot in slots:
            slot = int(slot)
            self.refs[slot] -= 1
            if self.refs[slot] == 0:
                step_id = int(self.slot_id[slot])
                if self.find(step_id) == slot:
                    self.ring_id[_ring_index(step_id)] = -1
                self.slot_id[slot] = -1
                self.free.append(slot)

    def clear(self) -> None:
        self.refs[:] = 0
        self.slot_id[:] = -1
        self.used = 0
        self.free.clear()
        self.ring_id[:] = -1

    def gather(self, slots: np.ndarray) -> list[np.ndarray]:
        """Each column's values at `slots` (any shape of indices), as new contiguous arrays."""
        if len(self.columns) == 1:
            return [self.columns[0][slots]]
        records = np.take(self.data, slots)  # whole records: one read per step
        return [np.ascontiguousarray(records[name]) for name in self.record.names]

    def nbytes(self) -> int:
        return self.data.nbytes + self.refs.nbytes + self.slot_id.nbytes + self.ring_id.nbytes + self.ring_slot.nbytes
