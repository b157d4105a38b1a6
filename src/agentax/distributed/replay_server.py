"""`ReplayServer`: an `agentax.reverb.Server` hosted in a Ray actor (TF-Agents' `reverb_server` job).

`start_replay_server(make_tables, checkpoint_dir=..., checkpoint_every=K)` starts it
(`max_restarts=-1`: Ray restarts it whenever its process dies) and returns the actor
handle; `agentax.distributed.connect(handle)` gives the address a `reverb.Client` uses.

Every `checkpoint_every` inserted items (one-step inserts and writer items) the server
writes its tables through `reverb.checkpointers.DefaultCheckpointer(checkpoint_dir)`
(keeping the newest `keep_checkpoints`); a restarted server restores the newest one in
its constructor (as `reverb.Server(tables, checkpointer=...)` does) and logs it.

Trajectory writers in other processes send whole chunks (`write`): steps stacked by
column and the item/episode events between them, replayed here onto an in-process
`reverb.TrajectoryWriter`, so every item is whole or absent. Chunks are applied under
one lock that checkpoints also take, so a checkpoint never holds part of a chunk.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import warnings
from pathlib import Path

_log = logging.getLogger("agentax.distributed")

START, UNKNOWN_WRITER = "start", "unknown_writer"


class _Writer:
    """One remote writer's server half: its in-process writer and where its steps stand."""

    __slots__ = ("writer", "treedef", "next_step", "episode_start", "owner")

    def __init__(self, writer, treedef, base: int, owner: str):
        self.writer, self.treedef, self.owner = writer, treedef, owner
        self.next_step = self.episode_start = base


class ReplayServer:
    """The actor body (use `start_replay_server`): thin methods over `reverb.Server`."""

    def __init__(self, make_tables, checkpoint_dir: str | None = None, checkpoint_every: int = 0,
                 keep_checkpoints: int = 2):
        import ray

        from agentax import reverb

        try:
            if not ray.is_initialized():  # get_runtime_context() would start a cluster
                raise RuntimeError("not in a Ray process")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        except Exception:  # noqa: BLE001 - not in an actor (e.g. a ReplayServer object in a test)
            self.restarted = False
        self._checkpoint_dir = checkpoint_dir
        self._checkpointer = reverb.checkpointers.DefaultCheckpointer(checkpoint_dir) if checkpoint_dir else None
        restored = None if self._checkpointer is None else self._checkpointer.latest_path()
        self._server = reverb.Server(make_tables(), checkpointer=self._checkpointer)
        self.restored_from = None if restored is None else str(restored)
        self.restored_size = {name: info.current_size for name, info in self._server.server_info().items()}
        self._checkpoint_every = int(checkpoint_every)
        self._keep = max(1, int(keep_checkpoints))
        self._since_checkpoint = 0
        self._lock = threading.Lock()
        self._writers: dict[str, _Writer] = {}
        if self.restarted:
            _log.warning("replay server restarted (pid %d); restored %s; table sizes %s", os.getpid(),
                         self.restored_from or "nothing (no checkpoint yet)", self.restored_size)

    # -------------------------------------------------------------- about the actor
    def ping(self) -> dict:
        return {"pid": os.getpid(), "restarted": self.restarted, "restored_from": self.restored_from,
                "restored_size": sum(self.restored_size.values())}

    # -------------------------------------------------------------- reverb.Server's service
    def insert(self, data, priorities: dict, timeout_ms: int | None = None) -> None:
        self._server.insert(data, priorities, timeout_ms)
        self._count(len(priorities))

    def sample(self, table: str, num_samples: int = 1, timeout_ms: int | None = None):
        return self._server.sample(table, num_samples, timeout_ms)

    def mutate_priorities(self, table: str, updates=None, deletes=None) -> None:
        self._server.mutate_priorities(table, updates, deletes)

    def reset(self, table: str) -> None:
        self._server.reset(table)

    def server_info(self) -> dict:
        return self._server.server_info()

    def structure(self, table: str):
        """The table's item structure (a treedef), None before its first item."""
        return getattr(self._server.table(table), "_treedef", None)

    def get_state(self) -> dict:
        with self._lock:
            return self._server.get_state()

    def set_state(self, state: dict) -> None:
        with self._lock:
            self._server.set_state(state)

    def checkpoint(self) -> str:
        with self._lock:
            return self._checkpoint_locked()

    def _checkpoint_locked(self) -> str:
        path = self._server.checkpoint()
        self._since_checkpoint = 0
        if self._checkpointer is not None:  # keep the newest few
            root = Path(self._checkpoint_dir)
            done = sorted(p for p in root.iterdir() if not p.name.startswith(".") and (p / "tables.npz").is_file())
            for old in done[:-self._keep]:
                shutil.rmtree(old, ignore_errors=True)
        return path

    def _count(self, items: int) -> None:
        self._since_checkpoint += items
        if self._checkpoint_every > 0 and self._since_checkpoint >= self._checkpoint_every:
            with self._lock:
                if self._since_checkpoint >= self._checkpoint_every:
                    start = time.perf_counter()
                    path = self._checkpoint_locked()
                    _log.info("replay checkpoint %s (%.2f s)", path, time.perf_counter() - start)

    # -------------------------------------------------------------- remote trajectory writers
    def write(self, writer_id: str, owner: str, start: bool, keep: int, example, base: int, columns,
              events: list, flush_timeout_ms: int | None, close: bool) -> dict:
        """Apply one chunk of a remote writer; see `RemoteTrajectoryWriter` for the format.

        Returns `{"status": "ok", "items": n}` or, for a chunk that continues a writer this
        server does not know (it restarted since), `{"status": "unknown_writer"}`, with nothing applied.
        """
        import jax

        from agentax.reverb.errors import DeadlineExceededError

        items = 0
        with self._lock:
            w = self._writers.get(writer_id)
            if w is None or start:
                if not start:
                    return {"status": UNKNOWN_WRITER}
                w = self._writers[writer_id] = _Writer(self._server.trajectory_writer(keep),
                                                       jax.tree.structure(example), base, owner)
            elif base != w.next_step:
                return {"status": UNKNOWN_WRITER}
            writer, treedef = w.writer, w.treedef
            steps = 0 if columns is None else len(columns[0])
            done = 0
            for pos, op, args in events + [(steps, None, None)]:
                while done < pos:
                    writer.append(jax.tree.unflatten(treedef, [c[done] for c in columns]))
                    done += 1
                    w.next_step += 1
                if op == "last":
                    table, priority, n = args
                    writer.create_item_last(table, priority, n)
                    items += 1
                elif op == "item":
                    table, priority, first, stop, squeeze, structure = args
                    history = jax.tree.leaves(writer.history)
                    lo, hi = first - w.episode_start, stop - w.episode_start
                    pick = (lambda c: history[c][lo]) if squeeze else (lambda c: history[c][lo:hi])
                    writer.create_item(table, priority, jax.tree.map(pick, structure))
                    items += 1
                elif op == "end":
                    try:  # items a rate limiter holds back stay pending (delivered later), never lost
                        writer.end_episode(clear_buffers=args, timeout_ms=0)
                    except DeadlineExceededError:
                        pass
                    if args:
                        w.episode_start = w.next_step
            if flush_timeout_ms is not None or close:
                writer.flush(0, flush_timeout_ms)
            if close:
                writer.close()
                del self._writers[writer_id]
        self._count(items)
        return {"status": "ok", "items": items}

    def drop_writers(self, owner: str) -> int:
        """Close the writers of `owner` (a collector that restarted): their created items are kept."""
        with self._lock:
            gone = [k for k, w in self._writers.items() if w.owner == owner]
            for k in gone:
                self._writers.pop(k).writer.close()
        return len(gone)


def start_replay_server(make_tables, checkpoint_dir: str | None = None, checkpoint_every: int = 0, *,
                        name: str | None = None, max_restarts: int = -1, max_concurrency: int = 32,
                        num_cpus: float = 0, env_vars: dict | None = None):
    """Start a `ReplayServer` actor; `make_tables()` builds its tables (called again on every restart)."""
    import ray

    if not callable(make_tables):
        raise TypeError(f"`make_tables` must be a callable returning a list of reverb.Table, got {make_tables!r}")
    cls = ray.remote(ReplayServer)
    options = dict(max_restarts=max_restarts, max_task_retries=0, max_concurrency=max_concurrency,
                   num_cpus=num_cpus, runtime_env={"env_vars": {"JAX_PLATFORMS": "cpu", **(env_vars or {})}})
    if name is not None:
        options["name"] = name
    return cls.options(**options).remote(make_tables, checkpoint_dir, checkpoint_every)
