"""`CategoricalQPolicy`: acts on a C51 network's expected values (mirror of TF-Agents')."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from agentax.policies.q_policy import QPolicy


class CategoricalQPolicy(QPolicy):
    """A `QPolicy` whose Q-values are the means of the network's return distributions:
    `sum(softmax(logits) * support)`, the support being `num_atoms` evenly spaced values
    from `min_q_value` to `max_q_value`."""

    def __init__(self, time_step_spec, action_spec, q_network: nn.Module, min_q_value: float, max_q_value: float,
                 observation_and_action_constraint_splitter=None, emit_log_probability: bool = False,
                 params=None, seed: int = 0):
        num_atoms = getattr(q_network, "num_atoms", None)
        if num_atoms is None:
            raise TypeError(f"CategoricalQPolicy: `q_network` must have `num_atoms` (a CategoricalQNetwork), "
                            f"got {type(q_network).__name__}")
        if not min_q_value < max_q_value:
            raise ValueError(f"CategoricalQPolicy: `min_q_value` must be < `max_q_value`, got "
                             f"{min_q_value} and {max_q_value}")
        super().__init__(time_step_spec, action_spec, q_network, emit_log_probability=emit_log_probability,
                         observation_and_action_constraint_splitter=observation_and_action_constraint_splitter,
                         params=params, seed=seed)
        self.support = jnp.linspace(min_q_value, max_q_value, num_atoms, dtype=jnp.float32)

    def network_q_values(self, params, network_observation):
        logits = self.q_network.apply(params, network_observation)
        return jnp.sum(jax.nn.softmax(logits) * self.support, axis=-1)
