"""Agents: a policy to act, a collect policy to gather data, and `train(experience)`."""

from agentax.agents.reinforce.reinforce_agent import LossInfo, ReinforceAgent

__all__ = ["LossInfo", "ReinforceAgent"]
