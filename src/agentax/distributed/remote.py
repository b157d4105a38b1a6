"""A `reverb.Client` for a `ReplayServer` actor: `client = connect(handle)`.

`connect` registers a `RemoteServer` (the service methods `reverb.Client` calls, each
one Ray call with a timeout) under an address, so `reverb.Client(address)`,
`ReverbReplayBuffer(..., server_address=address)`, the `reverb_utils` observers and
`Learner` run unchanged against the actor. A `Client` pickled into another process
reconnects there once that process has called `connect(handle, address)`.

Fault handling: calls that are safe to repeat (sample, server_info, mutate_priorities,
reset, get/set_state, structure) are retried while the server actor restarts (each retry
logged) until `restart_timeout_s`; a call with no answer in its timeout raises
`reverb.errors.DeadlineExceededError`, a server that stays down `ServerUnavailableError`:
never a hang. `timeout_ms=None` ("wait forever" in Reverb) waits at most `call_timeout_s`
here (agentax: every remote call has a timeout).

`RemoteTrajectoryWriter` keeps steps here and sends them in chunks (one Ray call per
`chunk_steps` steps, and on `flush`/`close`), so collection does not pay a round trip
per step; see its docstring for what differs from the in-process writer.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections import deque

import jax
import numpy as np

from agentax.reverb import server as server_lib
from agentax.reverb._flatten import flattener as _flattener
from agentax.reverb.client import Client
from agentax.reverb.errors import DeadlineExceededError
from agentax.reverb.table import check_priority
from agentax.reverb.trajectory_writer import check_configure

_log = logging.getLogger("agentax.distributed")
_ARRAYS = (np.ndarray, np.generic)
_addresses = itertools.count()


class ServerUnavailableError(RuntimeError):
    """The replay server actor did not come back within the restart timeout."""


def _ray():
    import ray
    return ray


def call(ref, timeout_s: float, what: str):
    """`ray.get(ref)` within `timeout_s`: the actor's own exception re-raised as itself, no answer in time
    a `DeadlineExceededError`."""
    ray = _ray()
    try:
        return ray.get(ref, timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        raise DeadlineExceededError(f"{what}: no answer within {timeout_s:.1f} s") from None
    except ray.exceptions.RayTaskError as err:
        cause = getattr(err, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise


class RemoteServer:
    """Stand-in for a `reverb.Server` that lives in a `ReplayServer` actor."""

    def __init__(self, handle, address: str, *, call_timeout_s: float = 60.0, restart_timeout_s: float = 120.0,
                 chunk_steps: int = 256, owner: str = "driver", prefetch_tables=()):
        self.handle, self.address, self.owner = handle, address, owner
        self.prefetch_tables = frozenset(prefetch_tables)
        self._prefetched: dict = {}  # (table, n, wait_ms) -> the next sample's ref, asked for in advance
        self.call_timeout_s, self.restart_timeout_s = float(call_timeout_s), float(restart_timeout_s)
        self.chunk_steps = int(chunk_steps)
        self._tables: dict[str, _RemoteTable] = {}
        self.retries = 0

    def __repr__(self) -> str:
        return f"RemoteServer({self.address!r})"

    def _call(self, method: str, *args, timeout_s: float | None = None, retry: bool = True):
        ray = _ray()
        timeout_s = self.call_timeout_s if timeout_s is None else timeout_s
        give_up = time.monotonic() + self.restart_timeout_s
        logged = 0.0
        while True:
            if not ray.is_initialized() and isinstance(self.handle, ray.actor.ActorHandle):
                # after ray.shutdown(), `.remote()` would start a new local cluster (Ray's auto-init), owned by this
                # thread: a retrying dataset thread did so, and when it ended Linux killed that cluster's processes
                # (Ray starts them with PR_SET_PDEATHSIG), so the process died 60 s later, exit status 1
                raise ServerUnavailableError(f"replay server {self.address}: {method}: Ray is not running")
            try:
                return call(getattr(self.handle, method).remote(*args), timeout_s, f"replay server {method}")
            except ray.exceptions.RayActorError as err:
                if not retry or time.monotonic() > give_up:
                    raise ServerUnavailableError(f"replay server {self.address}: {method} failed and the server "
                                                 f"did not come back within {self.restart_timeout_s:.0f} s: "
                                                 f"{type(err).__name__}") from err
                self.retries += 1
                if time.monotonic() - logged > 10:
                    logged = time.monotonic()
                    _log.warning("replay server %s unavailable during %s (%s); retrying while Ray restarts it",
                                 self.address, method, type(err).__name__)
                time.sleep(0.25)

    @staticmethod
    def _timeout(timeout_ms, margin_s: float, cap_s: float) -> tuple[int, float]:
        """(the server's wait in ms, this side's wait in s) for a Reverb `timeout_ms` (None: `cap_s`)."""
        wait_ms = int(cap_s * 1000) if timeout_ms is None else int(timeout_ms)
        return wait_ms, wait_ms / 1000 + margin_s

    # -------------------------------------------------------------- the service reverb.Client calls
    def table(self, name: str) -> "_RemoteTable":
        table = self._tables.get(name)
        if table is None:
            info = self.server_info()
            if name not in info:
                raise ValueError(f"Could not find table {name!r}. The following tables exist: "
                                 f"{', '.join(repr(n) for n in info)}.")
            table = self._tables[name] = _RemoteTable(self, name)
        return table

    def insert(self, data, priorities: dict, timeout_ms: int | None = None) -> None:
        wait_ms, wait_s = self._timeout(timeout_ms, 10.0, self.call_timeout_s)
        self._call("insert", jax.device_get(data), priorities, wait_ms, timeout_s=wait_s, retry=False)

    def sample(self, table: str, num_samples: int = 1, timeout_ms: int | None = None):
        """`num_samples` items. For a table in `prefetch_tables` the next call's sample of the same size is
        asked for as this one returns (as Reverb keeps samples in flight), so a round trip overlaps the
        caller's work; that sample is drawn one call early (never for a variables table: a pull must be fresh)."""
        wait_ms, wait_s = self._timeout(timeout_ms, 10.0, self.call_timeout_s)
        key = (table, num_samples, wait_ms)
        ref = self._prefetched.pop(key, None)
        result = None
        if ref is not None:
            ray = _ray()
            try:
                result = call(ref, wait_s, "replay server sample")
            except (DeadlineExceededError, ray.exceptions.RayActorError):
                result = None  # an empty table then, or a restart: ask again below
        if result is None:
            result = self._call("sample", table, num_samples, wait_ms, timeout_s=wait_s)
        if table in self.prefetch_tables:
            self._prefetched = {key: self.handle.sample.remote(table, num_samples, wait_ms)}
        return result

    def mutate_priorities(self, table: str, updates=None, deletes=None) -> None:
        self._call("mutate_priorities", table, updates, deletes)

    def reset(self, table: str) -> None:
        self._call("reset", table)

    def server_info(self) -> dict:
        return self._call("server_info")

    def get_state(self) -> dict:
        return self._call("get_state", timeout_s=max(self.call_timeout_s, 600.0))

    def set_state(self, state: dict) -> None:
        self._call("set_state", state, timeout_s=max(self.call_timeout_s, 600.0))

    def checkpoint(self) -> str:
        return self._call("checkpoint", timeout_s=max(self.call_timeout_s, 600.0))

    def trajectory_writer(self, num_keep_alive_refs: int) -> "RemoteTrajectoryWriter":
        return RemoteTrajectoryWriter(self, num_keep_alive_refs, self.chunk_steps)

    def drop_writers(self, owner: str) -> int:
        return self._call("drop_writers", owner)

    def ping(self) -> dict:
        return self._call("ping")


class _RemoteTable:
    """What `reverb.Client` and `ReverbReplayBuffer` read of a table: its name and `unflatten`."""

    def __init__(self, server: RemoteServer, name: str):
        self._server, self.name, self._treedef = server, name, None

    def unflatten(self, flat):
        if self._treedef is None:
            self._treedef = self._server._call("structure", self.name)
            if self._treedef is None:
                raise ValueError(f"table {self.name!r} holds no item yet, so its structure is unknown")
        return jax.tree.unflatten(self._treedef, flat)


def connect(handle, address: str | None = None, **options) -> Client:
    """A `reverb.Client` for the `ReplayServer` actor `handle` (registered under `address`, made up if None).

    `options` go to `RemoteServer` (call_timeout_s, restart_timeout_s, chunk_steps, owner, prefetch_tables).
    """
    if address is None:
        address = f"ray-replay-{uuid.uuid4().hex[:8]}-{next(_addresses)}:0"
    if not isinstance(address, str) or ":" not in address:
        raise ValueError(f"`address` must be a 'name:port' string, got {address!r}")
    server_lib._REMOTE[address] = RemoteServer(handle, address, **options)
    return Client(address)


def disconnect(address: str) -> None:
    server_lib._REMOTE.pop(address, None)


# ---------------------------------------------------------------------------------------------- writer
class _Column:
    """References to consecutive steps of one column (global step indices [first, stop))."""

    __slots__ = ("_writer", "_column", "_first", "_stop", "is_squeezed")

    def __init__(self, writer, column: int, first: int, stop: int, squeeze: bool = False):
        self._writer, self._column, self._first, self._stop, self.is_squeezed = writer, column, first, stop, squeeze

    def __len__(self) -> int:
        return self._stop - self._first

    def __getitem__(self, val) -> "_Column":
        return _index(self._writer, self._column, self._first, self._stop, val)

    def numpy(self) -> np.ndarray:
        values = self._writer._values(self._first, self._stop)
        if values is None:
            raise RuntimeError("Cannot convert TrajectoryColumn with expired data references to numpy array.")
        column = [v[self._column] for v in values]
        return column[0] if self.is_squeezed else np.stack(column)


def _index(writer, column: int, first: int, stop: int, val) -> _Column:
    if isinstance(val, int):
        n = stop - first
        if not -n <= val < n:
            raise IndexError(f"step index {val} out of range for {n} steps")
        g = first + (val % n)
        return _Column(writer, column, g, g + 1, squeeze=True)
    if isinstance(val, slice):
        lo, hi, step = val.indices(stop - first)
        if step != 1:
            raise ValueError("agentax.distributed: an item's steps must be consecutive (slice step 1)")
        return _Column(writer, column, first + lo, first + max(lo, hi))
    raise TypeError(f"TrajectoryColumn indices must be integers or slices, not {type(val)}")


class _History:
    __slots__ = ("_writer", "_column")

    def __init__(self, writer, column: int):
        self._writer, self._column = writer, column

    def __len__(self) -> int:
        return self._writer.episode_steps

    def __getitem__(self, val) -> _Column:
        w = self._writer
        return _index(w, self._column, w._episode_start, w._n, val)


class RemoteTrajectoryWriter:
    """Reverb's `TrajectoryWriter` API for a server in another process, sending chunks of steps.

    Steps wait here until `chunk_steps` of them are buffered (or `flush`/`close`); one Ray
    call then carries the steps (stacked by column) and the items and episode ends created
    between them, and the server replays them onto an in-process writer. A chunk goes
    while the next one is being collected (at most one in flight).

    Differences from the in-process writer (each for fewer round trips or for faults):
    - `end_episode` does not wait: it is queued with the steps (items reach the table at
      the next chunk or `flush`); `flush()` sends everything and waits until inserted;
      `send()` (agentax) sends everything without waiting (a collector's task ends so).
    - `append` takes the in-process writer's generated flattener (`reverb._flatten`) for
      steps laid out exactly like the first, the general checks otherwise.
    - A chunk lost with the server (its process died, or no answer within the timeout)
      is dropped, never re-sent (it may have been applied, or checkpointed), and logged;
      the next chunk opens a new writer on the restarted server, re-sending the last
      `num_keep_alive_refs` steps of the episode as context (no items), so later items are
      whole. A chunk the restarted server reports it never saw is re-sent that way.
    - An item's steps must be consecutive; a writer dropped without `flush`/`close` loses
      what it had not sent.
    """

    def __init__(self, server: RemoteServer, num_keep_alive_refs: int, chunk_steps: int = 256):
        if num_keep_alive_refs < 1:
            raise ValueError(f"num_keep_alive_refs ({num_keep_alive_refs}) must be a positive integer")
        if chunk_steps < 1:
            raise ValueError(f"chunk_steps must be >= 1, got {chunk_steps}")
        self._server = server
        self._keep = int(num_keep_alive_refs)
        self._chunk = int(chunk_steps)
        self._recent: deque = deque(maxlen=self._keep + 2 * self._chunk + 1)  # (global step, flat values)
        self._n = 0                  # steps appended
        self._episode_start = 0      # global index of the episode's first step
        self._sent = 0               # first step not sent
        self._unsent_episode_start = 0
        self._events: list = []      # (step position in the unsent chunk, op, args)
        self._treedef = self._layout = self._example = self._fast_flatten = None
        self._writer_id: str | None = None
        self._inflight = None        # (ref, chunk) of the chunk sent last, not acknowledged
        self._pending_items = 0
        self._known_tables: set = set()
        self._closed = False
        self._priority = (None, None)
        self.lost_items = 0          # items dropped with a lost chunk
        self.wait_seconds = 0.0      # time spent waiting for the server's answers

    def __enter__(self) -> "RemoteTrajectoryWriter":
        return self

    def __exit__(self, *_):
        self.flush()

    # -------------------------------------------------------------- steps
    def append(self, data, *, partial_step: bool = False) -> None:
        if self._closed or partial_step:
            self._check_open()
            raise NotImplementedError("agentax's TrajectoryWriter does not support partial_step")
        fast = self._fast_flatten  # laid out exactly like the first step: its leaves, no checks needed
        values = None if fast is None else fast(data)
        if values is None:
            values = self._checked_values(data)
        self._recent.append((self._n, values))
        self._n += 1
        if self._n - self._sent >= self._chunk:
            self._send(flush=False)

    def _checked_values(self, data) -> list:
        """The leaves of `data`, checked against (on the first step: fixing) the writer's layout."""
        values, treedef = jax.tree_util.tree_flatten(data)
        values = [x if isinstance(x, _ARRAYS) else np.asarray(x) for x in values]
        if self._treedef is None:
            self._treedef, self._example = treedef, jax.tree.unflatten(treedef, values)
            self._layout = [(np.shape(v), np.asarray(v).dtype) for v in values]
            self._fast_flatten = _flattener(self._example, treedef)
        elif treedef != self._treedef:
            raise ValueError(f"append: the data's structure {treedef} differs from the first step's {self._treedef}")
        else:
            for i, (v, (shape, dtype)) in enumerate(zip(values, self._layout)):
                if np.shape(v) != shape or v.dtype != dtype:
                    raise ValueError(f"append: leaf {i} has shape {np.shape(v)} dtype {v.dtype}, but its first step "
                                     f"had shape {shape} dtype {dtype}")
        return values

    def _values(self, first: int, stop: int, alive_only: bool = True):
        """The flat values of steps [first, stop); None when expired (older than the last `keep` steps)."""
        oldest = self._recent[0][0] if self._recent else self._n
        if first < (max(oldest, self._n - self._keep) if alive_only else oldest):
            return None
        return [self._recent[g - oldest][1] for g in range(first, stop)]

    @property
    def history(self):
        if self._treedef is None:
            raise RuntimeError("history cannot be accessed before `append` is called at least once.")
        return jax.tree.unflatten(self._treedef, [_History(self, i) for i in range(len(self._layout))])

    @property
    def episode_steps(self) -> int:
        return self._n - self._episode_start

    def configure(self, path, *, num_keep_alive_refs: int, max_chunk_length: int | None) -> None:
        """Accepted for compatibility; validates like Reverb."""
        check_configure(num_keep_alive_refs, max_chunk_length)

    # -------------------------------------------------------------- items
    def _check_table(self, table: str) -> None:
        if table not in self._known_tables:
            self._server.table(table)  # a clear ValueError for an unknown table, here rather than remotely
            self._known_tables.add(table)

    def _checked_priority(self, priority) -> float:
        if priority is not self._priority[0]:
            self._priority = (priority, check_priority(priority))
        return self._priority[1]

    def create_item_last(self, table: str, priority: float, num_steps: int) -> None:
        """An item of every leaf's last `num_steps` steps (agentax's shortcut, as in-process)."""
        self._check_open()
        if not 1 <= num_steps <= self.episode_steps:
            raise ValueError(f"num_steps ({num_steps}) must be in [1, {self.episode_steps}] (episode steps)")
        if num_steps > self._keep:
            raise ValueError(f"create_item: the trajectory references steps that have expired (only the last "
                             f"num_keep_alive_refs={self._keep} steps can be referenced)")
        self._check_table(table)
        self._events.append((self._n - self._sent, "last", (table, self._checked_priority(priority), num_steps)))
        self._pending_items += 1

    def create_item(self, table: str, priority: float, trajectory) -> None:
        self._check_open()
        columns, treedef = jax.tree.flatten(trajectory, is_leaf=lambda x: isinstance(x, _Column))
        if not columns or not all(isinstance(c, _Column) for c in columns):
            raise TypeError(f"All leaves of `trajectory` must be `TrajectoryColumn` but got {trajectory}")
        first = columns[0]
        for c in columns[1:]:
            if (c._first, c._stop, c.is_squeezed) != (first._first, first._stop, first.is_squeezed):
                raise ValueError("agentax: all columns of an item must reference the same steps "
                                 "(e.g. every leaf sliced as history[...][-n:])")
        if first._stop <= first._first or first._first < max(self._episode_start, self._n - self._keep):
            raise ValueError(f"create_item: the trajectory references no steps or steps that have expired (only "
                             f"the last num_keep_alive_refs={self._keep} steps of the episode can be referenced)")
        self._check_table(table)
        structure = jax.tree.unflatten(treedef, [c._column for c in columns])
        self._events.append((self._n - self._sent, "item", (table, self._checked_priority(priority), first._first,
                                                            first._stop, first.is_squeezed, structure)))
        self._pending_items += 1

    @property
    def num_pending_items(self) -> int:
        """Items created but not acknowledged by the server yet."""
        return self._pending_items

    # -------------------------------------------------------------- sending
    def _chunk_payload(self, start: bool, base_step: int, events: list, episode_start: int, stop: int) -> dict:
        """The chunk of steps [base_step, stop); `start` adds up to `keep` earlier steps of the episode as context."""
        first = max(episode_start, base_step - self._keep) if start else base_step
        values = self._values(first, stop, alive_only=False) if stop > first else []
        if values is None:
            raise RuntimeError("agentax.distributed: the steps to re-send have expired")  # sized so it cannot happen
        shift = base_step - first
        return dict(base=first, columns=[np.stack(c) for c in zip(*values)] if values else None,
                    events=[(pos + shift, op, args) for pos, op, args in events],
                    items=sum(op != "end" for _, op, _ in events), episode_start=episode_start, step=base_step,
                    stop=stop, raw_events=events)

    def _send(self, flush: bool, close: bool = False) -> None:
        chunk = dict(step=self._sent, stop=self._n, raw_events=self._events, episode_start=self._unsent_episode_start)
        self._events, self._sent, self._unsent_episode_start = [], self._n, self._episode_start
        self._settle()
        self._submit(chunk, start=self._writer_id is None, flush=flush or close)
        if flush or close:
            self._settle()

    def _submit(self, chunk: dict, start: bool, flush: bool) -> None:
        if start:
            self._writer_id = f"{self._server.owner}/{uuid.uuid4().hex}"
        payload = self._chunk_payload(start, chunk["step"], chunk["raw_events"], chunk["episode_start"], chunk["stop"])
        s = self._server
        wait_ms = int(s.call_timeout_s * 1000)
        ref = s.handle.write.remote(self._writer_id, s.owner, start, self._keep, self._example if start else None,
                                    payload["base"], payload["columns"], payload["events"],
                                    wait_ms if flush else None, self._closed)
        self._inflight = (ref, payload, wait_ms, flush)

    def _settle(self) -> None:
        """Wait for the chunk in flight; handle a lost server or a writer it does not know."""
        while self._inflight is not None:
            ray = _ray()
            ref, payload, wait_ms, flush = self._inflight
            self._inflight = None
            start = time.perf_counter()
            try:
                result = call(ref, wait_ms / 1000 + self._server.call_timeout_s, "replay server write")
                self.wait_seconds += time.perf_counter() - start
            except (ray.exceptions.RayActorError, DeadlineExceededError) as err:
                self._pending_items -= payload["items"]
                self.lost_items += payload["items"]
                self._writer_id = None
                _log.warning("replay server lost a chunk of %d steps and %d items (%s): dropped, not re-sent; the "
                             "next chunk opens a new writer", payload["stop"] - payload["step"], payload["items"],
                             type(err).__name__)
                continue
            if result["status"] == "ok":
                self._pending_items -= payload["items"]
                continue
            _log.warning("replay server does not know this writer (it restarted): re-sending the chunk with context")
            self._submit(dict(step=payload["step"], stop=payload["stop"], raw_events=payload["raw_events"],
                              episode_start=payload["episode_start"]), start=True, flush=flush)

    def flush(self, block_until_num_items: int = 0, timeout_ms: int | None = None) -> None:
        """Send what is buffered and wait until the server has inserted it."""
        if block_until_num_items < 0:
            raise ValueError(f"block_until_num_items must be >= 0, got {block_until_num_items}")
        if self._pending_items <= block_until_num_items and self._inflight is None:
            return
        if self._n > self._sent or self._events:
            self._send(flush=True)
        else:
            self._settle()

    def send(self) -> None:
        """agentax.distributed: send what is buffered now, without waiting for the server's answer (it is
        waited for, with the timeout, before the next chunk goes or at `flush`/`close`), so a collector's
        task ends without a round trip; its items reach the table a moment later, whole."""
        self._check_open()
        if self._n > self._sent or self._events:
            self._send(flush=False)

    def end_episode(self, clear_buffers: bool = True, timeout_ms: int | None = None) -> None:
        """Queue the end of the episode (see the class docstring); with `clear_buffers` a new history starts."""
        self._check_open()
        self._events.append((self._n - self._sent, "end", bool(clear_buffers)))
        if clear_buffers:
            self._episode_start = self._n

    def close(self) -> None:
        """Send what is buffered (its items are inserted), then forget the writer; it cannot be used again."""
        if self._closed:
            return
        self._closed = True
        if self._writer_id is None and not self._events and self._n == self._sent:
            return
        try:
            self._send(flush=False, close=True)
        except Exception as err:  # noqa: BLE001 - closing never raises for a lost server
            _log.warning("closing a remote trajectory writer: %s", err)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the TrajectoryWriter was closed")
