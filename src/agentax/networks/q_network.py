"""`QNetwork`: observation -> one Q-value per action (Flax)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax

from agentax.networks.encoding_network import DEFAULT_KERNEL_INIT, EncodingNetwork
from agentax.specs import array_spec


def num_actions_of(action_spec, owner: str) -> int:
    """The number of actions of a single scalar discrete spec, or a clear error naming `owner`."""
    leaves = array_spec.flatten(action_spec)
    if len(leaves) != 1:
        raise ValueError(f"{owner}: `action_spec` must be a single spec, got {action_spec}")
    spec = leaves[0]
    if not (array_spec.is_discrete(spec) and isinstance(spec, array_spec.BoundedArraySpec)):
        raise ValueError(f"{owner}: `action_spec` must be a bounded integer spec, got {spec}")
    if spec.shape != ():
        raise ValueError(f"{owner}: only scalar actions are supported, got `action_spec` of shape {spec.shape}")
    return int(spec.maximum) - int(spec.minimum) + 1


def uniform_init(minval: float, maxval: float):
    """Kernel initializer: uniform in `[minval, maxval)`."""

    def init(key, shape, dtype=jax.numpy.float32):
        return jax.random.uniform(key, shape, dtype, minval, maxval)

    return init


class QNetwork(nn.Module):
    """`EncodingNetwork` (conv layers, then `fc_layer_params`) and a dense layer of one
    Q-value per action: `[..., num_actions]`. The last layer starts small (kernel uniform
    in +-0.03, bias -0.2), as TF-Agents'."""

    input_tensor_spec: Any
    action_spec: Any
    fc_layer_params: Sequence[int] | None = (75, 40)
    conv_layer_params: Sequence[tuple[int, int, int]] | None = None
    activation_fn: Callable = nn.relu
    kernel_initializer: Callable = DEFAULT_KERNEL_INIT

    @property
    def num_actions(self) -> int:
        return num_actions_of(self.action_spec, type(self).__name__)

    def encode(self, observation):
        """Features of `observation` (call inside `__call__`)."""
        return EncodingNetwork(self.input_tensor_spec, self.conv_layer_params, self.fc_layer_params,
                               self.activation_fn, self.kernel_initializer, name="encoder")(observation)

    def head(self, units: int):
        return nn.Dense(units, kernel_init=uniform_init(-0.03, 0.03), bias_init=nn.initializers.constant(-0.2),
                        name="q_values")

    @nn.compact
    def __call__(self, observation):
        return self.head(self.num_actions)(self.encode(observation))
