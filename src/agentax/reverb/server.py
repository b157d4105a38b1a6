"""`Server`: hosts tables in this process; `Client(f'localhost:{server.port}')` reaches it.

The server owns the tables and does every operation (the "service"); the
client forwards calls to it, so a client for a server in another process can
later take its place without changing callers.
"""

from __future__ import annotations

import collections
import socket
import threading
import weakref

import jax
import numpy as np

from agentax.reverb import checkpointers as ckpt
from agentax.reverb.replay_sample import ReplaySample, SampleInfo
from agentax.reverb.table import NewItem, Table, check_priority, fresh_uid
from agentax.reverb.trajectory_writer import TrajectoryWriter

_SERVERS: "weakref.WeakValueDictionary[int, Server]" = weakref.WeakValueDictionary()
_SERVERS_LOCK = threading.Lock()
_REMOTE: dict = {}
"""address -> a stand-in with the `Server` service methods for a server in another process
(`agentax.distributed` registers one per replay-server actor), so `Client(address)` reaches it."""


def _pick_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_server(address: str) -> "Server":
    """The in-process server serving `address` (`host:port`), or a registered remote stand-in."""
    remote = _REMOTE.get(address)
    if remote is not None:
        return remote
    try:
        port = int(str(address).rsplit(":", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(f"server address {address!r} is not of the form 'host:port'") from None
    with _SERVERS_LOCK:
        server = _SERVERS.get(port)
        known = sorted(_SERVERS.keys())
    if server is None:
        raise ValueError(f"no agentax.reverb.Server serves {address!r} in this process "
                         f"(serving ports: {known or 'none'})")
    return server


class Server:
    """`Server(tables, port=None, checkpointer=None)`: restores the checkpointer's latest checkpoint, if any."""

    def __init__(self, tables: list[Table] | None = None, port: int | None = None,
                 checkpointer: ckpt.CheckpointerBase | None = None):
        if not tables:
            raise ValueError("At least one table must be provided")
        names = collections.Counter(t.name for t in tables)
        duplicates = [n for n, c in names.items() if c > 1]
        if duplicates:
            raise ValueError(f"Multiple items in tables have the same name: {', '.join(duplicates)}")
        self._tables = {t.name: t for t in tables}
        self._checkpointer = checkpointer
        self._checkpoint_lock = threading.Lock()
        with _SERVERS_LOCK:
            if port is None:
                port = _pick_port()
                while port in _SERVERS:  # a port the OS freed but a live in-process server still serves
                    port = _pick_port()
            port = int(port)
            if port in _SERVERS:
                raise ValueError(f"port {port} is already served by another agentax.reverb.Server")
            _SERVERS[port] = self
        self._port = port
        if checkpointer is not None:
            state = checkpointer.load_latest()
            if state is not None:
                self.set_state(state)

    @property
    def port(self) -> int:
        return self._port

    def stop(self) -> None:
        """Stop serving: waiting calls raise `CancelledError`; the address is freed."""
        for t in self._tables.values():
            t.close()
        with _SERVERS_LOCK:
            if _SERVERS.get(self._port) is self:
                del _SERVERS[self._port]

    def in_process_client(self):
        from agentax.reverb.client import Client
        return Client(f"localhost:{self._port}")

    localhost_client = in_process_client

    # -------------------------------------------------------------- the service
    def table(self, name: str) -> Table:
        table = self._tables.get(name)
        if table is None:
            raise ValueError(f"Could not find table {name!r}. The following tables exist: "
                             f"{', '.join(repr(n) for n in self._tables)}.")
        return table

    def insert(self, data, priorities: dict, timeout_ms: int | None = None) -> None:
        if not priorities:
            raise ValueError("priorities must contain at least one item")
        targets = [(self.table(name), check_priority(p)) for name, p in priorities.items()]
        flat, treedef = jax.tree.flatten(data)
        step = [(fresh_uid(), [np.asarray(x) for x in flat])]
        for target, priority in targets:
            target.insert(NewItem(priority, step, tuple(range(len(flat))), treedef), timeout_ms)

    def sample(self, table: str, num_samples: int = 1, timeout_ms: int | None = None):
        """`(SampleInfo of arrays [n], flat columns)` for up to `num_samples` items (see `Table.sample`)."""
        return self.table(table).sample(num_samples, timeout_ms)

    def mutate_priorities(self, table: str, updates=None, deletes=None) -> None:
        self.table(table).mutate_priorities(updates, deletes)

    def reset(self, table: str) -> None:
        self.table(table).reset()

    def server_info(self) -> dict:
        return {name: t.info() for name, t in self._tables.items()}

    def trajectory_writer(self, num_keep_alive_refs: int) -> TrajectoryWriter:
        return TrajectoryWriter(self, num_keep_alive_refs)

    def get_state(self) -> dict:
        """Every table's contents as NumPy arrays: `{table_name: {field: array}}`."""
        return {name: t.get_state() for name, t in self._tables.items()}

    def set_state(self, state: dict) -> None:
        """Replace the contents of the tables named in `state` (from `get_state` or a checkpoint)."""
        for name, fields in state.items():
            self.table(name).set_state(fields)

    def checkpoint(self) -> str:
        """Write every table to the checkpointer (a temporary folder if none was given); returns the path."""
        with self._checkpoint_lock:
            if self._checkpointer is None:
                self._checkpointer = ckpt.default_checkpointer()
            return self._checkpointer.save(self.get_state())


__all__ = ["Server", "ReplaySample", "SampleInfo", "find_server"]
