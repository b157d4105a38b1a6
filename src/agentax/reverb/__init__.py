"""Reverb's Python API without TensorFlow: `from agentax import reverb` replaces `import reverb`.

Tables with selectors and rate limiters, an in-process server, a client, the
trajectory writer, checkpoints. See each module for the rules it mirrors.
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
