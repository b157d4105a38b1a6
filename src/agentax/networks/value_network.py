"""`ValueNetwork`: observation -> a scalar value estimate (Flax)."""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn

from agentax.networks.encoding import flatten_observation


class ValueNetwork(nn.Module):
    """An MLP (`fc_layer_params`, ReLU) from an observation to one value."""

    observation_spec: Any
    fc_layer_params: Sequence[int] = (75, 40)

    @nn.compact
    def __call__(self, observation):
        x = flatten_observation(observation, self.observation_spec)
        for units in self.fc_layer_params:
            x = nn.relu(nn.Dense(units)(x))
        return nn.Dense(1)(x)[..., 0]
