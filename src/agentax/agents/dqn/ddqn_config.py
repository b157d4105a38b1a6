"""Double DQN's training config and presets (`agentax train ddqn`): DQN's fields, `DdqnAgent`."""

from __future__ import annotations

import dataclasses

from agentax.agents.dqn.config import PRESETS as DQN_PRESETS
from agentax.agents.dqn.config import DqnConfig


@dataclasses.dataclass
class DdqnConfig(DqnConfig):
    """Double DQN: DQN whose TD target evaluates the online network's greedy action with the target network."""

    agent_name = "ddqn"

    def agent_class(self):
        from agentax.agents.dqn.dqn_agent import DdqnAgent
        return DdqnAgent


PRESETS = {"default": DdqnConfig(**{f.name: getattr(DQN_PRESETS["default"], f.name)
                                     for f in dataclasses.fields(DqnConfig)})}
"""'default' solves CartPole-v1 on the compiled trainer (DQN's `default` preset's settings)."""
CONFIG = DdqnConfig
