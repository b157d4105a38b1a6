"""C51's training config and presets (`agentax train c51`): DQN's fields, the support and atoms."""

from __future__ import annotations

import dataclasses

from agentax.agents.dqn.config import DqnConfig
from agentax.train.config import check, check_positive_int


@dataclasses.dataclass
class C51Config(DqnConfig):
    """C51 (categorical DQN): a distribution of returns over a fixed support, trained from a replay."""

    num_atoms: int = 51
    """atoms of each action's return distribution"""
    min_q_value: float = 0.0
    """lowest value of the support"""
    max_q_value: float = 100.0
    """highest value of the support (CartPole-v1 returns, discounted by 0.99, stay below 100)"""

    agent_name = "c51"

    def __post_init__(self):
        super().__post_init__()
        check_positive_int(self, "num_atoms")
        check(self.num_atoms >= 2, "num_atoms", "an integer >= 2", self.num_atoms)
        check(isinstance(self.min_q_value, (int, float)) and isinstance(self.max_q_value, (int, float))
              and self.min_q_value < self.max_q_value, "max_q_value", f"> min_q_value={self.min_q_value}",
              self.max_q_value)

    def agent_class(self):
        from agentax.agents.categorical_dqn.categorical_dqn_agent import CategoricalDqnAgent
        return CategoricalDqnAgent

    def make_network(self, time_step_spec, action_spec):
        from agentax.networks import CategoricalQNetwork
        return CategoricalQNetwork(time_step_spec.observation, action_spec,
                                   fc_layer_params=tuple(self.fc_layer_params), conv_layer_params=self.conv_layers(),
                                   num_atoms=self.num_atoms)

    def agent_kwargs(self) -> dict:
        return {**super().agent_kwargs(), "min_q_value": self.min_q_value, "max_q_value": self.max_q_value}


PRESETS = {"default": C51Config()}
"""'default' solves CartPole-v1 on the compiled trainer."""
CONFIG = C51Config
