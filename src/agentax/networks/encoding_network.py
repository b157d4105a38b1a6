"""`EncodingNetwork`: an observation nest -> features (optional conv layers, then dense), Flax."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from agentax.networks.encoding import flatten_observation
from agentax.specs import array_spec

# TF-Agents' default kernel initializer for encoding layers (He, truncated normal).
DEFAULT_KERNEL_INIT = nn.initializers.variance_scaling(2.0, "fan_in", "truncated_normal")


class EncodingNetwork(nn.Module):
    """Conv layers (`conv_layer_params`: `(filters, kernel_size, stride)` each, on an
    image observation `[..., H, W, C]`), flattened, then dense layers (`fc_layer_params`).

    A nest of observations (a dict, a tuple) is flattened and concatenated into one
    vector (conv layers need a single image observation). Any outer (batch) dims work.
    """

    input_tensor_spec: Any
    conv_layer_params: Sequence[tuple[int, int, int]] | None = None
    fc_layer_params: Sequence[int] | None = (75, 40)
    activation_fn: Callable = nn.relu
    kernel_initializer: Callable = DEFAULT_KERNEL_INIT

    @nn.compact
    def __call__(self, observation):
        if self.conv_layer_params:
            x = self._conv(observation)
        else:
            x = flatten_observation(observation, self.input_tensor_spec)
        for units in self.fc_layer_params or ():
            x = self.activation_fn(nn.Dense(units, kernel_init=self.kernel_initializer)(x))
        return x

    def _conv(self, observation):
        specs = array_spec.flatten(self.input_tensor_spec)
        if len(specs) != 1 or len(specs[0].shape) != 3:
            raise ValueError(f"{type(self).__name__}: `conv_layer_params` needs a single image observation "
                             f"[H, W, C], got `input_tensor_spec` {self.input_tensor_spec}")
        image = jnp.asarray(jax.tree.leaves(observation)[0], jnp.float32)
        outer = image.shape[:-3]
        x = image.reshape((-1,) + image.shape[-3:])
        for filters, kernel_size, stride in self.conv_layer_params:
            x = self.activation_fn(nn.Conv(filters, (kernel_size, kernel_size), (stride, stride), padding="VALID",
                                           kernel_init=self.kernel_initializer)(x))
        return x.reshape(outer + (-1,))
