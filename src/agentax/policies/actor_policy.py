"""`ActorPolicy` (samples from an actor network) and `GreedyPolicy` (takes its mode)."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from agentax.policies.jax_policy import JaxPolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.policy_step import PolicyStep


class ActorPolicy(JaxPolicy):
    """Samples actions from `actor_network(observation)`, a distribution.

    `params` are the network's Flax variables. With `emit_log_probability=True`
    the info carries `{'log_probability': ...}` of the sampled action.
    Actions have the spec's dtype as JAX represents it (int64 -> int32).
    """

    def __init__(self, time_step_spec, action_spec, actor_network: nn.Module, params=None,
                 emit_log_probability: bool = False):
        info_spec = {"log_probability": array_spec.ArraySpec((), jnp.float32)} if emit_log_probability else ()
        super().__init__(time_step_spec, action_spec, info_spec=info_spec, params=params)
        self.actor_network = actor_network
        self._action_dtype = array_spec.jax_dtype(array_spec.flatten(action_spec)[0].dtype)
        self._emit_log_probability = emit_log_probability

    def distribution(self, params, time_step: ts.TimeStep, policy_state=()):
        """The `PolicyStep` whose `action` is the action distribution."""
        return PolicyStep(self.actor_network.apply(params, time_step.observation), policy_state, ())

    def _action(self, params, time_step, policy_state, key) -> PolicyStep:
        if key is None:
            raise ValueError(f"{type(self).__name__}.action: `key` must be a jax.random key, got None")
        dist = self.distribution(params, time_step, policy_state).action
        action = dist.sample(key, self._action_dtype)
        info = {"log_probability": dist.log_prob(action)} if self._emit_log_probability else ()
        return PolicyStep(action, policy_state, info)


class GreedyPolicy(JaxPolicy):
    """The mode of a distribution-producing policy (deterministic; `key` is unused)."""

    def __init__(self, policy: ActorPolicy):
        super().__init__(policy.time_step_spec, policy.action_spec, policy.policy_state_spec, params=None)
        self.wrapped_policy = policy

    @property
    def params(self):
        return self.wrapped_policy.params

    @params.setter
    def params(self, value):
        if value is not None:
            self.wrapped_policy.params = value

    def distribution(self, params, time_step, policy_state=()):
        return self.wrapped_policy.distribution(params, time_step, policy_state)

    def _action(self, params, time_step, policy_state, key) -> PolicyStep:
        dist = self.distribution(params, time_step, policy_state).action
        return PolicyStep(dist.mode(self.wrapped_policy._action_dtype), policy_state, ())
