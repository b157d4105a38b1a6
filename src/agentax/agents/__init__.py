"""Agents: `JaxAgent` (the interface) and one folder per agent."""

from agentax.agents.jax_agent import JaxAgent, LossInfo
from agentax.agents.reinforce.reinforce_agent import ReinforceAgent

__all__ = ["JaxAgent", "LossInfo", "ReinforceAgent"]
