"""`QPolicy`: acts on a Q-network's values (mirror of `tf_agents.policies.q_policy`)."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from agentax.networks.distributions import Categorical
from agentax.networks.q_network import num_actions_of
from agentax.policies.actor_policy import ActorPolicy
from agentax.specs import array_spec
from agentax.trajectories.policy_step import PolicyStep

NEG_INF = float(jnp.finfo(jnp.float32).min)
"""The logit of an action the constraint mask forbids (probability 0, never the argmax)."""


def mask_logits(logits, mask):
    """`logits` where `mask` is true, `NEG_INF` elsewhere (`mask` None: unchanged)."""
    if mask is None:
        return logits
    return jnp.where(jnp.asarray(mask).astype(bool), logits, NEG_INF)


class QPolicy(ActorPolicy):
    """The action distribution is a categorical with the Q-values as logits (as TF-Agents':
    `action` samples from it; wrap in `GreedyPolicy` for the argmax).

    `observation_and_action_constraint_splitter(observation) -> (network_input, mask)`
    feeds the network its part and forbids the actions whose `mask` is 0. `params` are
    the Q-network's Flax variables. `emit_log_probability` adds the action's
    log-probability under that categorical to the info.
    """

    def __init__(self, time_step_spec, action_spec, q_network: nn.Module, emit_log_probability: bool = False,
                 observation_and_action_constraint_splitter=None, params=None, seed: int = 0):
        self.num_actions = num_actions_of(action_spec, type(self).__name__)
        super().__init__(time_step_spec, action_spec, q_network, params=params,
                         emit_log_probability=emit_log_probability, clip=False, seed=seed)
        self.q_network = q_network
        self.observation_and_action_constraint_splitter = observation_and_action_constraint_splitter
        self.minimum = int(array_spec.flatten(action_spec)[0].minimum)

    @property
    def emit_log_probability(self) -> bool:
        return self._emit_log_probability

    def split(self, observation):
        """`(network_input, mask)`; mask is None without a splitter."""
        if self.observation_and_action_constraint_splitter is None:
            return observation, None
        return self.observation_and_action_constraint_splitter(observation)

    def network_q_values(self, params, network_observation):
        """Q-values `[..., num_actions]` of the network's part of an observation."""
        return self.q_network.apply(params, network_observation)

    def masked_q_values(self, params, observation):
        """Q-values of `observation` with forbidden actions at `NEG_INF`."""
        network_observation, mask = self.split(observation)
        return mask_logits(self.network_q_values(params, network_observation), mask)

    def distribution(self, params, time_step, policy_state=()):
        return PolicyStep(Categorical(self.masked_q_values(params, time_step.observation), self.minimum),
                          policy_state, ())
