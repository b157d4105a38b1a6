"""`NormalProjectionNetwork`: hidden features -> a `Normal` over a continuous action spec (Flax).

Mirror of `tf_agents.networks.normal_projection_network.NormalProjectionNetwork`. The
interface every continuous projection follows (so `ActorDistributionNetwork` takes any of
them as `continuous_projection_net`): a callable `(sample_spec: BoundedArraySpec) -> flax
Module`; the module, called on features `[..., F]`, returns a distribution pytree with
`sample(key, dtype)`, `log_prob(value)` (summed over the action's last axis), `mode(dtype)`
and `entropy()`.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from agentax.networks.distributions import Normal
from agentax.specs import array_spec


def tanh_squash_to_spec(inputs, spec: array_spec.BoundedArraySpec):
    """`tanh(inputs)` scaled into `[spec.minimum, spec.maximum]` (TF-Agents' `tanh_squash_to_spec`)."""
    low, high = spec_bounds(spec)
    return (high + low) / 2.0 + (high - low) / 2.0 * jnp.tanh(inputs)


def identity_to_spec(inputs, spec: array_spec.BoundedArraySpec):
    """The means as they come (actions may leave the bounds; the policy clips what it executes)."""
    del spec
    return inputs


def spec_bounds(spec: array_spec.BoundedArraySpec):
    """`(minimum, maximum)` of `spec` as float32 vectors over the flattened action."""
    shape = tuple(spec.shape)
    low = jnp.broadcast_to(jnp.asarray(spec.minimum, jnp.float32), shape).reshape(-1)
    high = jnp.broadcast_to(jnp.asarray(spec.maximum, jnp.float32), shape).reshape(-1)
    return low, high


def softplus_std(x):
    """TF-Agents' default std transform, softplus, with a floor of 1e-3 (keeps log-probabilities finite)."""
    return nn.softplus(x) + 1e-3


def check_continuous_spec(sample_spec, owner: str) -> array_spec.BoundedArraySpec:
    if not isinstance(sample_spec, array_spec.ArraySpec) or array_spec.is_discrete(sample_spec):
        raise TypeError(f"{owner}: `sample_spec` must be a continuous (float) BoundedArraySpec, got {sample_spec!r}")
    return array_spec.BoundedArraySpec.from_spec(sample_spec)


class NormalProjectionNetwork(nn.Module):
    """Features -> independent `Normal`s over `sample_spec`'s flattened action `[..., size]`.

    As TF-Agents': the means are a dense layer (kernel `VarianceScaling(init_means_output_factor)`,
    `activation_fn`) passed through `mean_transform(means, sample_spec)` (default: tanh squashed
    into the bounds); the std is `std_transform` of a state-independent bias (initialized to
    `std_bias_initializer_value`) or, with `state_dependent_std`, of a second dense layer.
    Differences: `std_transform`'s default adds 1e-3 to softplus (as agentax's actor always has),
    and `scale_distribution` (TF-Agents' tanh-bijector option) is not here; a tanh-squashed
    distribution is its own projection (see SAC's `TanhNormalProjectionNetwork`).
    Parameters: `mean` (dense), `log_std` (the bias; or dense `std` when state-dependent).
    """

    sample_spec: Any
    activation_fn: Callable | None = None
    init_means_output_factor: float = 0.1
    std_bias_initializer_value: float = 0.0
    mean_transform: Callable = tanh_squash_to_spec
    std_transform: Callable = softplus_std
    state_dependent_std: bool = False

    @nn.compact
    def __call__(self, inputs):
        spec = check_continuous_spec(self.sample_spec, "NormalProjectionNetwork")
        size = int(np.prod(spec.shape))
        kernel = nn.initializers.variance_scaling(self.init_means_output_factor, "fan_in", "truncated_normal")
        means = nn.Dense(size, kernel_init=kernel, name="mean")(inputs)
        if self.activation_fn is not None:
            means = self.activation_fn(means)
        means = self.mean_transform(means, spec)
        if self.state_dependent_std:
            raw_std = nn.Dense(size, kernel_init=kernel,
                               bias_init=nn.initializers.constant(self.std_bias_initializer_value), name="std")(inputs)
        else:
            raw_std = self.param("log_std", nn.initializers.constant(self.std_bias_initializer_value), (size,))
        return Normal(means, jnp.broadcast_to(self.std_transform(raw_std), means.shape))
