"""Flax networks for agents."""

from agentax.networks.actor_distribution_network import ActorDistributionNetwork
from agentax.networks.value_network import ValueNetwork

__all__ = ["ActorDistributionNetwork", "ValueNetwork"]

from agentax.networks.categorical_q_network import CategoricalQNetwork  # noqa: E402
from agentax.networks.encoding_network import EncodingNetwork  # noqa: E402
from agentax.networks.q_network import QNetwork  # noqa: E402
from agentax.networks.sequential import Sequential  # noqa: E402

__all__ += ["CategoricalQNetwork", "EncodingNetwork", "QNetwork", "Sequential"]
