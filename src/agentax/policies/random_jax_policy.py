"""`RandomJaxPolicy`: uniform random actions within the action spec, compiled."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from agentax.policies.jax_policy import JaxPolicy
from agentax.specs import array_spec
from agentax.trajectories.policy_step import PolicyStep


def sample_uniform(spec: array_spec.ArraySpec, key, outer_dims: tuple[int, ...]):
    """One uniform sample of `spec` (with `outer_dims`), inside its bounds."""
    bounded = array_spec.BoundedArraySpec.from_spec(spec)
    shape = tuple(outer_dims) + spec.shape
    if array_spec.is_discrete(spec):
        low = jnp.broadcast_to(bounded.minimum.astype(np.int64), spec.shape)
        high = jnp.broadcast_to(bounded.maximum.astype(np.int64), spec.shape) + 1
        return jax.random.randint(key, shape, low, high, dtype=spec.dtype)
    limit = float(np.finfo(np.float32).max) / 2
    low = jnp.clip(jnp.asarray(bounded.minimum, jnp.float32), -limit, limit)
    high = jnp.clip(jnp.asarray(bounded.maximum, jnp.float32), -limit, limit)
    return jax.random.uniform(key, shape, spec.dtype, low, high)


class RandomJaxPolicy(JaxPolicy):
    """Samples each action uniformly from `action_spec`; batch dims follow the time step."""

    def __init__(self, time_step_spec, action_spec, policy_state_spec=()):
        super().__init__(time_step_spec, action_spec, policy_state_spec)

    def _action(self, params, time_step, policy_state, key) -> PolicyStep:
        if key is None:
            raise ValueError("RandomJaxPolicy.action: `key` must be a jax.random key, got None")
        outer = jnp.shape(time_step.step_type)
        leaves, treedef = jax.tree.flatten(self._action_spec, is_leaf=lambda x: isinstance(x, array_spec.ArraySpec))
        keys = jax.random.split(key, len(leaves))
        actions = [sample_uniform(spec, k, outer) for spec, k in zip(leaves, keys)]
        return PolicyStep(jax.tree.unflatten(treedef, actions), policy_state, ())
