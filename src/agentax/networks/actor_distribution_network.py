"""`ActorDistributionNetwork`: observation -> a distribution over actions (Flax)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn

from agentax.networks.distributions import Categorical
from agentax.networks.encoding import flatten_observation
from agentax.networks.normal_projection_network import NormalProjectionNetwork
from agentax.specs import array_spec


def _single_bounded_spec(action_spec) -> array_spec.BoundedArraySpec:
    leaves = array_spec.flatten(action_spec)
    if len(leaves) != 1:
        raise ValueError(f"ActorDistributionNetwork: `action_spec` must be a single spec, got {action_spec}")
    spec = array_spec.BoundedArraySpec.from_spec(leaves[0])
    if array_spec.is_discrete(spec) and spec.shape != ():
        raise ValueError(f"ActorDistributionNetwork: a discrete `action_spec` must be a scalar, got shape {spec.shape}")
    return spec


def normal_projection_net(sample_spec) -> nn.Module:
    """The default `continuous_projection_net`: TF-Agents' `NormalProjectionNetwork` defaults
    (tanh-squashed means, state-independent softplus std, `init_means_output_factor=0.1`)."""
    return NormalProjectionNetwork(sample_spec)


class ActorDistributionNetwork(nn.Module):
    """An MLP (`fc_layer_params`, `activation_fn`) then a distribution fitted to `action_spec`:
    a `Categorical` for a scalar discrete spec, `continuous_projection_net(spec)`'s distribution
    for a continuous one.

    As TF-Agents', `continuous_projection_net` is a callable `(sample_spec: BoundedArraySpec)
    -> flax Module`; the module, called on the hidden features, returns a distribution pytree
    with `sample(key, dtype)`, `log_prob(value)` (summed over the action's last axis),
    `mode(dtype)` and `entropy()`. None (the default) is a `NormalProjectionNetwork` whose
    parameters (`mean`, `log_std`) sit at this network's top level; a given projection's
    parameters sit under `projection`. `kernel_initializer` initializes the hidden layers
    (None: Flax's default, LeCun normal); `logits_init_output_factor` scales the discrete head's
    initial kernel (TF-Agents' `CategoricalProjectionNetwork` default is 0.1; agentax keeps 0.01
    by default, which starts closer to uniform).
    """

    observation_spec: Any
    action_spec: Any
    fc_layer_params: Sequence[int] = (100,)
    activation_fn: Callable = nn.relu
    kernel_initializer: Callable | None = None
    continuous_projection_net: Callable[[Any], nn.Module] | None = None
    logits_init_output_factor: float = 0.01

    @nn.compact
    def __call__(self, observation):
        spec = _single_bounded_spec(self.action_spec)
        x = flatten_observation(observation, self.observation_spec)
        dense = {} if self.kernel_initializer is None else {"kernel_init": self.kernel_initializer}
        for units in self.fc_layer_params:
            x = self.activation_fn(nn.Dense(units, **dense)(x))
        if array_spec.is_discrete(spec):
            small = nn.initializers.variance_scaling(self.logits_init_output_factor, "fan_in", "truncated_normal")
            logits = nn.Dense(spec.num_values, kernel_init=small, name="logits")(x)
            return Categorical(logits, int(spec.minimum))
        if self.continuous_projection_net is None:
            # Shares this module's scope: parameters `mean` and `log_std` at the top level.
            projection = normal_projection_net(spec).clone(parent=self, name="projection")
            nn.share_scope(self, projection)
        else:
            projection = self.continuous_projection_net(spec)
            if not isinstance(projection, nn.Module):
                raise TypeError(f"ActorDistributionNetwork: `continuous_projection_net` must return a flax Module "
                                f"for the action spec, got {type(projection).__name__}")
            projection = projection.clone(parent=self, name="projection")
        return projection(x)
