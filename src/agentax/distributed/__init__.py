"""Distributed collection on Ray, in the shape of TF-Agents' `experimental.distributed` examples.

- `start_replay_server(make_tables, checkpoint_dir, checkpoint_every)`: an `agentax.reverb.Server`
  in a Ray actor that checkpoints itself and restores after a restart (`ReplayServer`);
- `connect(handle)`: a `reverb.Client` for it (same API as in-process; the trajectory writer sends
  chunks of steps), so observers, `ReverbReplayBuffer` and `Learner` run unchanged;
- `VariableContainer`: push/pull/update of policy parameters on a one-slot table, versioned;
- `start_collectors(...)`: `Collector` actors running `train.Actor`, restarted by Ray;
- `DistributedTrainer`: the learner loop behind `agentax train AGENT --distributed`.

Ray (the `agentax[distributed]` extra) is imported when these are first used; nothing else in agentax
imports it (`agentax train` only with `--distributed`).
"""

from agentax.distributed.collector import Collector, start_collectors
from agentax.distributed.remote import RemoteServer, RemoteTrajectoryWriter, ServerUnavailableError, connect, disconnect
from agentax.distributed.replay_server import ReplayServer, start_replay_server
from agentax.distributed.trainer import DistributedTrainer, init_ray
from agentax.distributed.variable_container import (DEFAULT_TABLE, POLICY_KEY, TRAIN_STEP_KEY, VariableContainer,
                                                    variables_table)

__all__ = ["Collector", "DEFAULT_TABLE", "DistributedTrainer", "POLICY_KEY", "RemoteServer", "RemoteTrajectoryWriter",
           "ReplayServer", "ServerUnavailableError", "TRAIN_STEP_KEY", "VariableContainer", "connect", "disconnect",
           "init_ray", "start_collectors", "start_replay_server", "variables_table"]
