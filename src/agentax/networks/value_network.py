"""`ValueNetwork`: observation -> a scalar value estimate (Flax)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn

from agentax.networks.encoding import flatten_observation


class ValueNetwork(nn.Module):
    """An MLP (`fc_layer_params`, `activation_fn`, default ReLU) from an observation to one value.

    `kernel_initializer` initializes the hidden layers and `output_kernel_initializer` the
    output layer (None: Flax's default, LeCun normal)."""

    observation_spec: Any
    fc_layer_params: Sequence[int] = (75, 40)
    activation_fn: Callable = nn.relu
    kernel_initializer: Callable | None = None
    output_kernel_initializer: Callable | None = None

    @nn.compact
    def __call__(self, observation):
        x = flatten_observation(observation, self.observation_spec)
        hidden = {} if self.kernel_initializer is None else {"kernel_init": self.kernel_initializer}
        for units in self.fc_layer_params:
            x = self.activation_fn(nn.Dense(units, **hidden)(x))
        output = {} if self.output_kernel_initializer is None else {"kernel_init": self.output_kernel_initializer}
        return nn.Dense(1, **output)(x)[..., 0]
