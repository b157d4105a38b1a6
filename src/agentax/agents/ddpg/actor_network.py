"""`ActorNetwork`: observation -> a deterministic action inside the action spec's bounds
(TF-Agents' `tf_agents.agents.ddpg.actor_network.ActorNetwork`, in Flax), the actor of DDPG
and TD3.

As in TF-Agents, the last layer is `tanh` scaled into `[minimum, maximum]`, so actions at
the bounds themselves are approached, never returned exactly.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from agentax.networks.encoding_network import EncodingNetwork
from agentax.networks.q_network import uniform_init
from agentax.specs import array_spec

# TF-Agents' defaults: hidden kernels VarianceScaling(1/3, fan_in, uniform), the action
# layer uniform in +-0.003 (biases zero).
DEFAULT_KERNEL_INIT = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
DEFAULT_LAST_KERNEL_INIT = uniform_init(-0.003, 0.003)


def single_action_spec(output_tensor_spec, owner: str) -> array_spec.BoundedArraySpec:
    """The one bounded float action spec of `output_tensor_spec`, or a clear error."""
    specs = array_spec.flatten(output_tensor_spec)
    if len(specs) != 1:
        raise ValueError(f"{owner}: only a single action is supported, got `output_tensor_spec` {output_tensor_spec}")
    spec = specs[0]
    if array_spec.is_discrete(spec) or not np.issubdtype(np.dtype(spec.dtype), np.floating):
        raise ValueError(f"{owner}: only float actions are supported, got {spec}")
    if not isinstance(spec, array_spec.BoundedArraySpec):
        raise ValueError(f"{owner}: the action spec must be bounded (a BoundedArraySpec), got {spec}")
    low, high = np.asarray(spec.minimum, np.float64), np.asarray(spec.maximum, np.float64)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low <= high)):
        raise ValueError(f"{owner}: the action spec needs finite bounds with minimum <= maximum, got {spec}")
    return spec


class ActorNetwork(nn.Module):
    """Conv layers (`conv_layer_params`), dense layers (`fc_layer_params`), then a dense
    layer of the action's size through `tanh`, scaled into the action spec's bounds
    (`(max + min) / 2 + (max - min) / 2 * tanh(.)`, TF-Agents' `scale_to_spec`).

    `actor.apply(params, observation)` returns actions of shape `outer + action_shape` for
    any outer (batch) dims. Differences from TF-Agents: the dropout arguments are left out;
    an observation nest is flattened and concatenated (TF-Agents takes one observation).
    """

    input_tensor_spec: Any
    output_tensor_spec: Any
    fc_layer_params: Sequence[int] | None = None
    conv_layer_params: Sequence[tuple[int, int, int]] | None = None
    activation_fn: Callable = nn.relu
    kernel_initializer: Callable | None = None
    last_kernel_initializer: Callable | None = None

    @nn.compact
    def __call__(self, observation):
        spec = single_action_spec(self.output_tensor_spec, type(self).__name__)
        features = EncodingNetwork(self.input_tensor_spec, self.conv_layer_params, tuple(self.fc_layer_params or ()),
                                   self.activation_fn, self.kernel_initializer or DEFAULT_KERNEL_INIT,
                                   name="input_mlp")(observation)
        size = int(np.prod(spec.shape, dtype=np.int64))
        output = jnp.tanh(nn.Dense(size, kernel_init=self.last_kernel_initializer or DEFAULT_LAST_KERNEL_INIT,
                                   name="action")(features))
        low = np.broadcast_to(np.asarray(spec.minimum, np.float32), spec.shape)
        high = np.broadcast_to(np.asarray(spec.maximum, np.float32), spec.shape)
        output = output.reshape(output.shape[:-1] + tuple(spec.shape))
        actions = (high + low) / 2.0 + (high - low) / 2.0 * output
        return actions.astype(array_spec.jax_dtype(spec.dtype))
