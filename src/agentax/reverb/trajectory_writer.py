"""`TrajectoryWriter`: append steps, create items that reference them (Reverb's writer API).

Each `append` records one step; `history` gives, per leaf, a column of the
steps since the last `end_episode`; `create_item(table, priority, trajectory)`
makes an item from slices of those columns. Only the last
`num_keep_alive_refs` steps can still be referenced.

Created items wait in the writer and go into their table in vectorised groups
(Reverb too sends items in chunks); the table pulls them in before anything
reads it (a sample, `server_info`, ...), so they are never invisible to a
reader, and a rate limiter that blocks inserts keeps them pending.
`flush`/`end_episode` wait for them (with a timeout); `close()` inserts what
the limiters allow and drops the rest, so a writer stopped mid-episode leaves no
half-written item: items are whole or absent. A writer dropped without `close`
still delivers its items. Each leaf keeps the shape and
dtype of its first `append` (as Reverb's columns do).

Differences from Reverb, each a clear error rather than silent: the structure
of appended data is fixed by the first `append`; `partial_step` is not
supported; all columns of one item must reference the same steps (as every
TF-Agents observer does); `append` returns None.
"""

from __future__ import annotations

import jax
import numpy as np

from agentax.reverb import table as table_lib
from agentax.reverb._flatten import flattener as _flattener
from agentax.reverb.errors import DeadlineExceededError

_ARRAYS = (np.ndarray, np.generic)
_flatten = jax.tree_util.tree_flatten
_uids = table_lib._uids
_GROUP = table_lib.GROUP
_NewItem = table_lib.NewItem
_tuple_new = tuple.__new__


class TrajectoryColumn:
    """References to steps of one column (`squeeze`: a single step without a time dimension)."""

    __slots__ = ("_writer", "_column", "_uids", "is_squeezed")

    def __init__(self, writer, column: int, uids: tuple, squeeze: bool = False):
        if squeeze and len(uids) != 1:
            raise ValueError(f"Columns must contain exactly one data reference when squeeze set, got {len(uids)}")
        self._writer, self._column, self._uids, self.is_squeezed = writer, column, tuple(uids), squeeze

    def __len__(self) -> int:
        return len(self._uids)

    def __getitem__(self, val) -> "TrajectoryColumn":
        if isinstance(val, int):
            return TrajectoryColumn(self._writer, self._column, (self._uids[val],), squeeze=True)
        if isinstance(val, slice):
            return TrajectoryColumn(self._writer, self._column, self._uids[val])
        raise TypeError(f"TrajectoryColumn indices must be integers or slices, not {type(val)}")

    def numpy(self) -> np.ndarray:
        """The referenced data, stacked (or the single value when squeezed)."""
        alive = self._writer._alive
        if any(uid not in alive for uid in self._uids):
            raise RuntimeError("Cannot convert TrajectoryColumn with expired data references to numpy array.")
        values = [alive[uid][self._column] for uid in self._uids]
        return values[0] if self.is_squeezed else np.stack(values)


class _ColumnHistory:
    """The steps of one column since the last `end_episode`, indexable like a list."""

    __slots__ = ("_writer", "_column")

    def __init__(self, writer, column: int):
        self._writer, self._column = writer, column

    def __len__(self) -> int:
        return len(self._writer._episode)

    def __getitem__(self, val) -> TrajectoryColumn:
        episode = self._writer._episode
        if isinstance(val, int):
            return TrajectoryColumn(self._writer, self._column, (episode[val],), squeeze=True)
        if isinstance(val, slice):
            return TrajectoryColumn(self._writer, self._column, tuple(episode[val]))
        raise TypeError(f"_ColumnHistory indices must be integers, not {type(val)}")


class TrajectoryWriter:
    """Made by `Client.trajectory_writer(num_keep_alive_refs)`; use from one thread."""

    def __init__(self, server, num_keep_alive_refs: int):
        if num_keep_alive_refs < 1:
            raise ValueError(f"num_keep_alive_refs ({num_keep_alive_refs}) must be a positive integer")
        self._server = server
        self._keep = int(num_keep_alive_refs)
        self._treedef = None
        self._episode: list[int] = []
        # (uid, values) of the steps appended, oldest first; the last `num_keep_alive_refs` are alive (a
        # list trimmed when it reaches `_trim_at`, so that the last n are a slice)
        self._order: list = []
        self._trim_at = 4 * self._keep + 60
        self._feeds: dict = {}            # table -> Feed of items created but not inserted
        self._closed = False
        self._targets: dict = {}
        self._accepted: set = set()
        self._last_priority = (None, None)
        self._layout = None
        self._fast_flatten = None
        self._prepared: dict = {}          # (table, num_steps) -> (target, pending) for create_item_last
        self._last_fast = (None, None, None)  # the last create_item_last call that took the fast path

    def __enter__(self) -> "TrajectoryWriter":
        return self

    def __exit__(self, *_):
        self.flush()

    # -------------------------------------------------------------- steps
    def append(self, data, *, partial_step: bool = False) -> None:
        """Record one step (a nest of arrays)."""
        if partial_step:
            self._check_open()
            raise NotImplementedError("agentax's TrajectoryWriter does not support partial_step")
        self.append_create_last(data, (), None, 0)

    def append_create_last(self, data, tables, priority: float, num_steps: int) -> None:
        """Fused shortcut (agentax): `append(data)`, then `create_item_last(table, priority, num_steps)`
        for each of `tables` (in order): one call per env step for the observer (the remote writer lacks it)."""
        if self._closed:
            self._check_open()
        fast = self._fast_flatten
        values = None if fast is None else fast(data)  # None: not exactly like the first step
        if values is None:
            values = self._values(data)
        uid = next(_uids)
        order = self._order
        order.append((uid, values))
        if len(order) > self._trim_at:
            del order[:-self._keep]
        episode = self._episode
        episode.append(uid)
        for table in tables:
            last = self._last_fast
            if table is last[0] and num_steps == last[1] and priority is last[2] and num_steps <= len(episode):
                # create_item_last's common case (see there), without its call
                target, pending, checked = last[3:]
                pending.append(_tuple_new(_NewItem, (checked, tuple(order[-num_steps:]), self._all_columns,
                                                     self._treedef, False)))
                if len(pending) >= _GROUP or target._waiting:
                    target.feed_grew(pending)
            else:
                self.create_item_last(table, priority, num_steps)

    @property
    def _alive(self) -> dict:
        """uid -> values of the last `num_keep_alive_refs` steps (those items can still reference)."""
        return dict(self._order[-self._keep:])

    def _values(self, data) -> list:
        """The leaves of `data`, checked against (on the first step: fixing) the writer's layout."""
        values, treedef = _flatten(data)
        if self._treedef is None:
            values = [np.asarray(x) if not isinstance(x, _ARRAYS) else x for x in values]
            self._treedef = treedef
            self._layout = [(type(v), v.shape, v.dtype) for v in values]
            self._all_columns = tuple(range(len(values)))
            self._fast_flatten = _flattener(jax.tree.unflatten(treedef, values), treedef)
        elif treedef != self._treedef:
            raise ValueError(f"append: the data's structure {treedef} differs from the first step's "
                             f"{self._treedef}")
        for v, (kind, shape, dtype) in zip(values, self._layout):
            # a NumPy scalar of the first step's type has its dtype and shape (); arrays are checked
            if type(v) is not kind or kind is np.ndarray and (v.dtype != dtype or v.shape != shape):
                return self._conform(values)
        return values

    def _conform(self, values) -> list:
        """`values` as arrays of the first step's shapes and dtypes, or a ValueError naming the leaf."""
        values = [np.asarray(x) if not isinstance(x, _ARRAYS) else x for x in values]
        paths = None
        for i, (v, (_, shape, dtype)) in enumerate(zip(values, self._layout)):
            if v.shape != shape or v.dtype != dtype:
                paths = paths or table_lib._paths(self._treedef)
                raise ValueError(f"append: leaf {paths[i]} has shape {v.shape} dtype {v.dtype}, but its first "
                                 f"step had shape {shape} dtype {dtype}")
        return values

    @property
    def history(self):
        """Per leaf, a `_ColumnHistory` of the steps since the last `end_episode`."""
        if self._treedef is None:
            raise RuntimeError("history cannot be accessed before `append` is called at least once.")
        return jax.tree.unflatten(self._treedef, [_ColumnHistory(self, i) for i in self._all_columns])

    @property
    def episode_steps(self) -> int:
        return len(self._episode)

    def configure(self, path, *, num_keep_alive_refs: int, max_chunk_length: int | None) -> None:
        """Accepted for compatibility (there are no chunks here); validates like Reverb."""
        check_configure(num_keep_alive_refs, max_chunk_length)

    # -------------------------------------------------------------- items
    def create_item(self, table: str, priority: float, trajectory) -> None:
        """Create an item in `table` referencing `trajectory` (a nest of `TrajectoryColumn`s)."""
        self._check_open()
        columns, treedef = jax.tree.flatten(trajectory, is_leaf=lambda x: isinstance(x, TrajectoryColumn))
        if not columns or not all(isinstance(c, TrajectoryColumn) for c in columns):
            raise TypeError(f"All leaves of `trajectory` must be `TrajectoryColumn` but got {trajectory}")
        first = columns[0]
        for c in columns[1:]:
            if c._uids != first._uids or c.is_squeezed != first.is_squeezed:
                raise ValueError("agentax: all columns of an item must reference the same steps "
                                 "(e.g. every leaf sliced as history[...][-n:])")
        self._enqueue(table, priority, first._uids, tuple(c._column for c in columns), treedef,
                      first.is_squeezed)

    def create_item_last(self, table: str, priority: float, num_steps: int) -> None:
        """Shortcut (agentax): an item of every leaf's last `num_steps` steps, structured like the data;
        the same as `create_item(table, priority, tree.map(lambda c: c[-num_steps:], history))`."""
        if self._closed:
            self._check_open()
        episode = self._episode
        if not 1 <= num_steps <= len(episode):
            raise ValueError(f"num_steps ({num_steps}) must be in [1, {len(episode)}] (episode steps)")
        last = self._last_fast
        if table is last[0] and num_steps == last[1] and priority is last[2]:
            target, pending, checked = last[3:]
        else:
            prepared = self._prepared.get((table, num_steps))
            if prepared is None or priority is not self._last_priority[0] or num_steps > self._keep:
                self._enqueue(table, priority, episode[-num_steps:], None, self._treedef, False)
                return
            target, pending = prepared
            checked = self._last_priority[1]
            self._last_fast = (table, num_steps, priority, target, pending, checked)
        # the common case, as _enqueue does it (the table checked items of this shape): the last
        # num_steps steps of the episode are the last appended, alive as num_steps <= num_keep_alive_refs
        steps = tuple(self._order[-num_steps:])  # as append_create_last builds it
        pending.append(_tuple_new(_NewItem, (checked, steps, self._all_columns, self._treedef, False)))
        if len(pending) >= _GROUP or target._waiting:
            target.feed_grew(pending)

    def _enqueue(self, table, priority, uids, columns, treedef, squeeze) -> None:
        if priority is not self._last_priority[0]:
            self._last_priority = (priority, table_lib.check_priority(priority))
        priority = self._last_priority[1]
        target = self._targets.get(table)
        if target is None:
            target = self._targets[table] = self._server.table(table)
        alive = self._alive
        try:
            steps = [(uid, alive[uid]) for uid in uids]
        except KeyError:
            raise ValueError(f"create_item: the trajectory references steps that have expired (only the last "
                             f"num_keep_alive_refs={self._keep} steps can be referenced)") from None
        if columns is None:
            columns = self._all_columns
        item = table_lib.NewItem(priority, steps, columns, treedef, squeeze)
        shape_key = (target, len(steps)) if columns is self._all_columns and treedef is self._treedef \
            and not squeeze else (target, columns, treedef, len(steps), squeeze)
        if shape_key not in self._accepted:
            target.prepare(item)
            self._accepted.add(shape_key)
        feed = self._feeds.get(target)
        if feed is None:
            feed = self._feeds[target] = table_lib.Feed(self)
            target.register_feed(feed)
        pending = feed.pending
        if columns is self._all_columns and treedef is self._treedef and not squeeze:
            self._prepared[(table, len(steps))] = (target, pending)
        pending.append(item)
        if len(pending) >= _GROUP or target._waiting:
            target.feed_grew(pending)

    @property
    def num_pending_items(self) -> int:
        """Items created but not in their tables yet."""
        return sum(len(f.pending) for f in self._feeds.values())

    def flush(self, block_until_num_items: int = 0, timeout_ms: int | None = None) -> None:
        """Block until at most `block_until_num_items` items are pending; `DeadlineExceededError` after
        `timeout_ms` (the items stay pending)."""
        if block_until_num_items < 0:
            raise ValueError(f"block_until_num_items must be >= 0, got {block_until_num_items}")
        deadline = table_lib.deadline_of(timeout_ms)
        for target, feed in self._feeds.items():
            if not feed.pending:
                continue
            excess = self.num_pending_items - block_until_num_items if block_until_num_items else len(feed.pending)
            if excess <= 0:
                return
            try:
                target.insert_pending(feed.pending, deadline, keep=max(0, len(feed.pending) - excess))
            except DeadlineExceededError:
                raise DeadlineExceededError(
                    f"flush: {self.num_pending_items} items still pending after {timeout_ms} ms") from None

    def end_episode(self, clear_buffers: bool = True, timeout_ms: int | None = None) -> None:
        """Flush every pending item, then (with `clear_buffers`) start a new history."""
        try:
            self.flush(0, timeout_ms)
        finally:
            if clear_buffers:
                self._episode = []

    def close(self) -> None:
        """Insert what the limiters allow now, drop the rest; the writer cannot be used again."""
        if not self._closed:
            for target, feed in self._feeds.items():
                with target._cond:
                    target._insert_from(feed.pending)
                    feed.pending.clear()
                target.unregister_feed(feed)
            self._closed = True
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the TrajectoryWriter was closed")


def check_configure(num_keep_alive_refs: int, max_chunk_length: int | None) -> None:
    """`TrajectoryWriter.configure`'s argument checks, as Reverb's."""
    if num_keep_alive_refs < 1:
        raise ValueError(f"num_keep_alive_refs ({num_keep_alive_refs}) must be a positive integer")
    if max_chunk_length is not None and not 1 <= max_chunk_length <= num_keep_alive_refs:
        raise ValueError(f"max_chunk_length ({max_chunk_length}) must be None or a positive integer <= "
                         f"num_keep_alive_refs ({num_keep_alive_refs})")
