"""Step storage of a table: one preallocated array per trajectory column (structure of arrays).

Items hold slot indices into these arrays, so overlapping sequences share their
steps, as Reverb's chunks do. A slot is reference-counted and freed when the
last item using it goes. Slots are found again by step id (`uid`, with the
column selection) for the most recent `recent` steps, which covers every step
a writer can still reference.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np


class StepStore:
    def __init__(self, shapes, dtypes, initial_capacity: int = 1024, recent: int = 1 << 16):
        self.shapes = [tuple(s) for s in shapes]
        self.dtypes = [np.dtype(d) for d in dtypes]
        self.capacity = int(initial_capacity)
        self.columns = [np.zeros((self.capacity,) + s, d) for s, d in zip(self.shapes, self.dtypes)]
        self.refs = np.zeros(self.capacity, np.int32)
        self.slot_id = np.full(self.capacity, -1, np.int64)
        self.used = 0          # slots handed out at least once (the high-water mark)
        self.free: list[int] = []
        self.recent: OrderedDict = OrderedDict()
        self.max_recent = recent

    def _grow(self) -> None:
        new = self.capacity * 2
        self.columns = [np.concatenate([c, np.zeros((new - self.capacity,) + c.shape[1:], c.dtype)])
                        for c in self.columns]
        self.refs = np.concatenate([self.refs, np.zeros(new - self.capacity, np.int32)])
        self.slot_id = np.concatenate([self.slot_id, np.full(new - self.capacity, -1, np.int64)])
        self.capacity = new

    def slot(self, step_id: int, values) -> int:
        """The slot holding step `step_id` (writing `values`, one per column, if new); adds a reference."""
        slot = self.recent.get(step_id)
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
            self.recent[step_id] = slot
            if len(self.recent) > self.max_recent:
                self.recent.popitem(last=False)
        self.refs[slot] += 1
        return slot

    def new_slot(self, step_id: int) -> int:
        """A free slot registered for `step_id` (no reference, nothing written yet)."""
        if self.free:
            slot = self.free.pop()
        else:
            if self.used == self.capacity:
                self._grow()
            slot = self.used
            self.used += 1
        self.slot_id[slot] = step_id
        self.recent[step_id] = slot
        if len(self.recent) > self.max_recent:
            self.recent.popitem(last=False)
        return slot

    def write(self, slots: list, flats: list, columns: tuple) -> None:
        """Write, for each slot, the values `flat[c]` of the selected columns."""
        if slots:
            for column, c in zip(self.columns, columns):
                column[slots] = [flat[c] for flat in flats]

    def release_many(self, slots: np.ndarray) -> None:
        np.subtract.at(self.refs, slots, 1)
        unique = np.unique(slots)
        for slot in unique[self.refs[unique] == 0].tolist():
            step_id = int(self.slot_id[slot])
            if self.recent.get(step_id) == slot:
                del self.recent[step_id]
            self.slot_id[slot] = -1
            self.free.append(slot)

    def release(self, slots) -> None:
        for slot in slots:
            slot = int(slot)
            self.refs[slot] -= 1
            if self.refs[slot] == 0:
                if self.recent.get(int(self.slot_id[slot])) == slot:
                    del self.recent[int(self.slot_id[slot])]
                self.slot_id[slot] = -1
                self.free.append(slot)

    def clear(self) -> None:
        self.refs[:] = 0
        self.slot_id[:] = -1
        self.used = 0
        self.free.clear()
        self.recent.clear()

    def gather(self, slots: np.ndarray) -> list[np.ndarray]:
        return [column[slots] for column in self.columns]

    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.columns) + self.refs.nbytes + self.slot_id.nbytes
