"""`VariableContainer`: policy parameters on a one-slot Reverb table (mirror of TF-Agents'
`tf_agents.experimental.distributed.reverb_variable_container.ReverbVariableContainer`).

The learner `push`es `{POLICY_KEY: params, TRAIN_STEP_KEY: train_step}`; collectors `pull()` the
newest. `version()` (agentax) is the table's insert count, one cheap `server_info` call, so a
collector pulls only when it changed. Differences from TF-Agents: JAX has no variables to
assign, so `update(variables)` assigns into a nest of `agentax.utils.common.Variable`s and
returns the pulled values; agentax tables learn their structure from the first push, so
no table signature is required. Works with any `reverb.Client` address: in-process or a
`ReplayServer` actor reached through `agentax.distributed.connect`.
"""

from __future__ import annotations

from typing import Iterable

import jax
import numpy as np

from agentax import reverb

DEFAULT_TABLE = "variables"
TRAIN_STEP_KEY = "train_step"
POLICY_KEY = "policy_variables"


def variables_table(name: str = DEFAULT_TABLE) -> reverb.Table:
    """The one-slot table a `VariableContainer` expects (`max_size=1`, a push replaces the last)."""
    return reverb.Table(name, sampler=reverb.selectors.Uniform(), remover=reverb.selectors.Fifo(), max_size=1,
                        rate_limiter=reverb.rate_limiters.MinSize(1))


class VariableContainer:
    """`push(values)`, `pull()`, `update(variables)` on tables of `max_size=1` at `server_address`."""

    def __init__(self, server_address: str, table_names: Iterable[str] = (DEFAULT_TABLE,)):
        self._client = reverb.Client(server_address)
        server_info = self._client.server_info()
        self._tables = []
        for table in table_names:
            if table not in server_info:
                raise KeyError(f"Could not find the table {table}. Available tables: {list(server_info)}")
            if server_info[table].max_size != 1:
                raise ValueError(f"The max_size of the table {table} is {server_info[table].max_size} which "
                                 f"different from the expected capacity 1.")
            self._tables.append(table)

    def _check(self, table: str) -> None:
        if table not in self._tables:
            raise KeyError(f"Could not find the table {table}. Available tables: {self._tables}")

    def push(self, values, table: str = DEFAULT_TABLE) -> None:
        """Store `values` (a nest of arrays) as the table's one item."""
        self._check(table)
        self._client.insert(jax.tree.map(np.asarray, jax.device_get(values)), {table: 1.0})

    def pull(self, table: str = DEFAULT_TABLE, timeout_ms: int | None = None):
        """The last pushed nest (waits for a first push, up to `timeout_ms`)."""
        self._check(table)
        sample = next(self._client.sample(table, 1, emit_timesteps=False, unpack_as_table_signature=True,
                                          timeout_ms=timeout_ms))
        return jax.tree.map(lambda x: x[0], sample.data)  # the item's one step (TF-Agents: `sample.data[0]`)

    def update(self, variables, table: str = DEFAULT_TABLE):
        """Assign the pulled values to `variables` (a nest of `common.Variable`, same structure); returns them."""
        values = self.pull(table)
        jax.tree.map(lambda variable, value: variable.assign(value), variables, values,
                     is_leaf=lambda x: hasattr(x, "assign"))
        return values

    def version(self, table: str = DEFAULT_TABLE) -> int:
        """agentax: how many pushes the table has seen (changes with every push)."""
        self._check(table)
        return int(self._client.server_info()[table].rate_limiter_info["insert_count"])
