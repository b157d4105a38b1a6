"""`Client(address)`: Reverb's Python client over an `agentax.reverb.Server`.

Every blocking call takes `timeout_ms` (None waits forever, as Reverb does) and
raises `errors.DeadlineExceededError` when it expires, leaving the table as it was.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from agentax.reverb.replay_sample import ReplaySample, SampleInfo
from agentax.reverb.server import find_server
from agentax.reverb.trajectory_writer import TrajectoryWriter


class Client:
    def __init__(self, server_address: str):
        self._server_address = server_address
        self._server = find_server(server_address)

    def __reduce__(self):
        return self.__class__, (self._server_address,)

    def __repr__(self) -> str:
        return f"Client, server_address={self._server_address}"

    @property
    def server_address(self) -> str:
        return self._server_address

    def insert(self, data, priorities: dict, timeout_ms: int | None = None) -> None:
        """Insert `data` as a one-step item into each table of `priorities` ({table: priority})."""
        self._server.insert(data, priorities, timeout_ms)

    def sample(self, table: str, num_samples: int = 1, *, emit_timesteps: bool = True,
               unpack_as_table_signature: bool = False,
               timeout_ms: int | None = None) -> Iterator:
        """Yield `num_samples` samples, one at a time, each waiting up to `timeout_ms`.

        With `emit_timesteps`, each is a list of `ReplaySample`, one per step; otherwise one
        `ReplaySample` whose data is the flat list of columns, or the item's structure when
        `unpack_as_table_signature` (agentax unpacks by the stored structure).
        """
        target = self._server.table(table)
        for _ in range(num_samples):
            info, data = self._server.sample(table, 1, timeout_ms)
            info = SampleInfo(int(info.key[0]), float(info.probability[0]), int(info.table_size[0]),
                              float(info.priority[0]), int(info.times_sampled[0]))
            columns = [c[0] for c in (data[0] if isinstance(data[0], list) else data)]
            unflatten = target.unflatten if unpack_as_table_signature else (lambda x: x)
            if emit_timesteps:
                if len({np.shape(c)[:1] for c in columns}) != 1 or np.ndim(columns[0]) == 0:
                    raise ValueError("Can't split non timestep trajectory into timesteps.")
                yield [ReplaySample(info, unflatten([c[t] for c in columns]))
                       for t in range(columns[0].shape[0])]
            else:
                yield ReplaySample(info, unflatten(columns))

    def mutate_priorities(self, table: str, updates: dict | None = None, deletes=None) -> None:
        """Delete `deletes`, then apply `updates` ({key: priority}); unknown keys are ignored."""
        self._server.mutate_priorities(table, updates, deletes)

    def reset(self, table: str) -> None:
        """Clear the table and reset its rate limiter."""
        self._server.reset(table)

    def server_info(self, timeout: int | None = None) -> dict:
        """`{table_name: TableInfo}` (current_size, max_size, rate_limiter_info, ...)."""
        return self._server.server_info()

    def checkpoint(self) -> str:
        """Write every table atomically through the server's checkpointer; returns the path."""
        return self._server.checkpoint()

    def trajectory_writer(self, num_keep_alive_refs: int, *,
                          get_signature_timeout_ms: int | None = 3000) -> TrajectoryWriter:
        return self._server.trajectory_writer(num_keep_alive_refs)

    def get_state(self) -> dict:
        """Every table's contents as NumPy arrays (see `Server.get_state`)."""
        return self._server.get_state()

    def set_state(self, state: dict) -> None:
        self._server.set_state(state)

    def sample_batch(self, table: str, num_samples: int, timeout_ms: int | None = None):
        """agentax: up to `num_samples` items in one call as `(SampleInfo of arrays, flat columns [n, ...])`."""
        return self._server.sample(table, num_samples, timeout_ms)
