"""`RandomJaxPolicy`: uniform random actions within the action spec, compiled."""

from __future__ import annotations

import jax.numpy as jnp

from agentax.policies.jax_policy import JaxPolicy
from agentax.specs import tensor_spec
from agentax.trajectories.policy_step import PolicyStep


class RandomJaxPolicy(JaxPolicy):
    """Samples each action uniformly from `action_spec`; batch dims follow the time step."""

    def __init__(self, time_step_spec, action_spec, policy_state_spec=(), **kwargs):
        super().__init__(time_step_spec, action_spec, policy_state_spec, **kwargs)

    def _action(self, params, time_step, policy_state, key) -> PolicyStep:
        if key is None:
            raise ValueError("RandomJaxPolicy.action: `key` must be a jax.random key, got None")
        action = tensor_spec.sample_spec_nest(self._action_spec, key, jnp.shape(time_step.step_type))
        return PolicyStep(action, policy_state, ())
