"""`ActorDistributionNetwork`: observation -> a distribution over actions (Flax)."""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from agentax.networks.distributions import Categorical, Normal
from agentax.networks.encoding import flatten_observation
from agentax.specs import array_spec


def _single_bounded_spec(action_spec) -> array_spec.BoundedArraySpec:
    leaves = array_spec.flatten(action_spec)
    if len(leaves) != 1:
        raise ValueError(f"ActorDistributionNetwork: `action_spec` must be a single spec, got {action_spec}")
    spec = array_spec.BoundedArraySpec.from_spec(leaves[0])
    if array_spec.is_discrete(spec) and spec.shape != ():
        raise ValueError(f"ActorDistributionNetwork: a discrete `action_spec` must be a scalar, got shape {spec.shape}")
    return spec


class ActorDistributionNetwork(nn.Module):
    """An MLP (`fc_layer_params`, ReLU) then a distribution fitted to `action_spec`:
    a `Categorical` for a scalar discrete spec, a `Normal` whose mean is squashed
    into the bounds for a continuous one."""

    observation_spec: Any
    action_spec: Any
    fc_layer_params: Sequence[int] = (100,)

    @nn.compact
    def __call__(self, observation):
        spec = _single_bounded_spec(self.action_spec)
        x = flatten_observation(observation, self.observation_spec)
        for units in self.fc_layer_params:
            x = nn.relu(nn.Dense(units)(x))
        if array_spec.is_discrete(spec):
            small = nn.initializers.variance_scaling(0.01, "fan_in", "truncated_normal")
            logits = nn.Dense(spec.num_values, kernel_init=small, name="logits")(x)
            return Categorical(logits, int(spec.minimum))
        size = int(np.prod(spec.shape))
        low = jnp.broadcast_to(jnp.asarray(spec.minimum, jnp.float32), spec.shape).reshape(-1)
        high = jnp.broadcast_to(jnp.asarray(spec.maximum, jnp.float32), spec.shape).reshape(-1)
        mean = jnp.tanh(nn.Dense(size, name="mean")(x))
        loc = low + (mean + 1.0) * (high - low) / 2.0
        log_std = self.param("log_std", nn.initializers.zeros, (size,))
        scale = jnp.broadcast_to(nn.softplus(log_std) + 1e-3, loc.shape)
        return Normal(loc, scale)
