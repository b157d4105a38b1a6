"""Flax networks for agents."""

from agentax.networks.actor_distribution_network import ActorDistributionNetwork
from agentax.networks.value_network import ValueNetwork

__all__ = ["ActorDistributionNetwork", "ValueNetwork"]
