"""`CriticNetwork`: `(observation, action) -> Q(observation, action)` (TF-Agents'
`tf_agents.agents.ddpg.critic_network.CriticNetwork`, in Flax), the critic of DDPG,
TD3 and SAC."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from agentax.networks.encoding import flatten_observation
from agentax.networks.q_network import uniform_init
from agentax.specs import array_spec

# TF-Agents' defaults: hidden kernels VarianceScaling(1/3, fan_in, uniform), the value
# layer uniform in +-0.003 (biases zero).
DEFAULT_KERNEL_INIT = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


DEFAULT_LAST_KERNEL_INIT = uniform_init(-0.003, 0.003)


def _check_specs(input_tensor_spec, owner: str):
    if not (isinstance(input_tensor_spec, (tuple, list)) and len(input_tensor_spec) == 2):
        raise ValueError(f"{owner}: `input_tensor_spec` must be a pair (observation_spec, action_spec), "
                         f"got {input_tensor_spec!r}")
    observation_spec, action_spec = input_tensor_spec
    actions = array_spec.flatten(action_spec)
    if len(actions) != 1:
        raise ValueError(f"{owner}: only a single action is supported, got `action_spec` {action_spec}")
    if array_spec.is_discrete(actions[0]):
        raise ValueError(f"{owner}: the action spec must be continuous (float), got {actions[0]}")
    return observation_spec, actions[0]


class CriticNetwork(nn.Module):
    """Observation layers (`observation_conv_layer_params`, then `observation_fc_layer_params`),
    action layers (`action_fc_layer_params`), their outputs concatenated, joint layers
    (`joint_fc_layer_params`), then one linear unit (through `output_activation_fn` if given).

    `input_tensor_spec` is `(observation_spec, action_spec)`, as in TF-Agents. Call it
    TF-Agents' way, `critic.apply(params, (observation, action))`, or as
    `critic.apply(params, observation, action)`; any outer (batch) dims work and the result
    has exactly those dims (TF-Agents flattens to `[B]`, the same for a batch).

    Differences from TF-Agents: the dropout-layer arguments are left out (no dropout in
    agentax's agents); an observation nest is flattened and concatenated (TF-Agents accepts a
    single observation only), and conv layers need a single image observation.
    """

    input_tensor_spec: Any
    observation_conv_layer_params: Sequence[tuple[int, int, int]] | None = None
    observation_fc_layer_params: Sequence[int] | None = None
    action_fc_layer_params: Sequence[int] | None = None
    joint_fc_layer_params: Sequence[int] | None = None
    activation_fn: Callable = nn.relu
    output_activation_fn: Callable | None = None
    kernel_initializer: Callable | None = None
    last_kernel_initializer: Callable | None = None

    @property
    def observation_spec(self):
        return self.input_tensor_spec[0]

    @property
    def action_spec(self):
        return self.input_tensor_spec[1]

    @nn.compact
    def __call__(self, inputs, action=None):
        if action is None:
            if not (isinstance(inputs, (tuple, list)) and len(inputs) == 2):
                raise TypeError(f"{type(self).__name__}: call with (observation, action) or observation, action; "
                                f"got a single {type(inputs).__name__}")
            observation, action = inputs
        else:
            observation = inputs
        observation_spec, action_spec = _check_specs(self.input_tensor_spec, type(self).__name__)
        kernel_init = self.kernel_initializer or DEFAULT_KERNEL_INIT
        last_init = self.last_kernel_initializer or DEFAULT_LAST_KERNEL_INIT

        action = jnp.asarray(action, jnp.float32)
        outer = action.shape[:action.ndim - len(action_spec.shape)]
        action = action.reshape(outer + (-1,))
        if self.observation_conv_layer_params:
            from agentax.networks.encoding_network import EncodingNetwork
            obs = EncodingNetwork(observation_spec, self.observation_conv_layer_params, (), self.activation_fn,
                                  kernel_init, name="observation_conv")(observation)
        else:
            obs = flatten_observation(observation, observation_spec)
        for i, units in enumerate(self.observation_fc_layer_params or ()):
            obs = self.activation_fn(nn.Dense(units, kernel_init=kernel_init, name=f"observation_fc_{i}")(obs))
        for i, units in enumerate(self.action_fc_layer_params or ()):
            action = self.activation_fn(nn.Dense(units, kernel_init=kernel_init, name=f"action_fc_{i}")(action))
        joint = jnp.concatenate([obs, action], axis=-1)
        for i, units in enumerate(self.joint_fc_layer_params or ()):
            joint = self.activation_fn(nn.Dense(units, kernel_init=kernel_init, name=f"joint_fc_{i}")(joint))
        value = nn.Dense(1, kernel_init=last_init, name="value")(joint)
        if self.output_activation_fn is not None:
            value = self.output_activation_fn(value)
        return value[..., 0]
