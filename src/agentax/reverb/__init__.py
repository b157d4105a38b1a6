"""Reverb's Python API without TensorFlow: `from agentax import reverb` replaces `import reverb`.

Tables with selectors and rate limiters, an in-process server, a client, the
trajectory writer, checkpoints. See each module for the rules it mirrors.

Replay contents as arrays (for an agent checkpoint): `server.get_state()` (or
`client.get_state()`) returns `{table_name: {field: np.ndarray}}` holding every
item, its priority and times sampled, the step data and the rate limiter's
counters; `server.set_state(state)` puts them back into tables of the same names.
`client.checkpoint()` writes the same arrays atomically through the server's
checkpointer, and `Server(tables, checkpointer=checkpointers.DefaultCheckpointer(path))`
restores the newest checkpoint under `path`.
"""

from agentax.reverb import checkpointers, errors, rate_limiters, selectors
from agentax.reverb.client import Client
from agentax.reverb.replay_sample import ReplaySample, SampleInfo
from agentax.reverb.server import Server
from agentax.reverb.table import Table, TableInfo
from agentax.reverb.trajectory_writer import TrajectoryColumn, TrajectoryWriter

item_selectors = selectors

__all__ = ["Client", "ReplaySample", "SampleInfo", "Server", "Table", "TableInfo", "TrajectoryColumn",
           "TrajectoryWriter", "checkpointers", "errors", "item_selectors", "rate_limiters", "selectors"]
