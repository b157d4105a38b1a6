"""Agents: `JaxAgent` (the interface) and one folder per agent."""

from agentax.agents.jax_agent import JaxAgent, LossInfo
from agentax.agents.reinforce.reinforce_agent import ReinforceAgent

__all__ = ["JaxAgent", "LossInfo", "ReinforceAgent"]

from agentax.agents.categorical_dqn.categorical_dqn_agent import CategoricalDqnAgent  # noqa: E402
from agentax.agents.dqn.dqn_agent import DdqnAgent, DqnAgent  # noqa: E402

__all__ += ["CategoricalDqnAgent", "DdqnAgent", "DqnAgent"]
