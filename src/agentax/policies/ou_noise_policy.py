"""`OUNoisePolicy`: another policy's actions plus Ornstein-Uhlenbeck noise (mirror of
`tf_agents.policies.ou_noise_policy`, compiled), DDPG's collect policy."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agentax.policies.actor_policy import clip_to_spec
from agentax.policies.gaussian_policy import check_continuous, check_number
from agentax.policies.jax_policy import JaxPolicy, WrappedPolicy
from agentax.specs import array_spec
from agentax.trajectories.policy_step import PolicyStep


class OUNoisePolicy(WrappedPolicy):
    """`wrapped_policy`'s action plus the next value of a zero-mean Ornstein-Uhlenbeck
    process per action element, `x <- (1 - ou_damping) * x + N(0, ou_stddev^2)`
    (TF-Agents' `common.OUProcess`), then (with `clip=True`, the default) clipped into the
    action spec's bounds. `ou_damping=1` is uncorrelated Gaussian noise, 0 a random walk.

    The process value is carried as policy state: `policy_state_spec` is
    `(wrapped_policy.policy_state_spec, noise)` with `noise` shaped like the action, and
    it starts at 0 at every episode's FIRST step (per batch element). TF-Agents keeps one
    process in a variable, shared by every environment of the batch and never reset;
    here each environment has its own, so compiled, vmapped and Python runs agree.
    """

    def __init__(self, wrapped_policy: JaxPolicy, ou_stddev: float = 1.0, ou_damping: float = 1.0,
                 clip: bool = True, seed: int = 0):
        check_continuous(wrapped_policy, "OUNoisePolicy", "OU noise")
        self.ou_stddev = check_number("OUNoisePolicy", "ou_stddev", ou_stddev, 0.0)
        self.ou_damping = check_number("OUNoisePolicy", "ou_damping", ou_damping, 0.0, 1.0)
        self._clip = bool(clip)
        super().__init__(wrapped_policy, info_spec=wrapped_policy.info_spec, seed=seed)
        noise_spec = array_spec.map_spec(
            lambda s: array_spec.ArraySpec(s.shape, array_spec.jax_dtype(s.dtype), name="ou_noise"),
            wrapped_policy.action_spec)
        self._policy_state_spec = (wrapped_policy.policy_state_spec, noise_spec)

    def get_initial_state(self, batch_size: int | None = None):
        return (self.wrapped_policy.get_initial_state(batch_size), super().get_initial_state(batch_size)[1])

    def _action(self, params, time_step, policy_state, key) -> PolicyStep:
        if key is None:
            raise ValueError("OUNoisePolicy.action: `key` must be a jax.random key, got None")
        if not jax.tree.leaves(policy_state):  # called without a state: the process starts at 0
            outer = jnp.shape(time_step.step_type)
            policy_state = self.get_initial_state(outer[0] if outer else None)
        wrapped_state, noise_state = policy_state
        wrapped_key, noise_key = jax.random.split(key)
        step = self.wrapped_policy.action(params, time_step, wrapped_state, wrapped_key)
        leaves, treedef = jax.tree.flatten(step.action)
        states = treedef.flatten_up_to(noise_state)
        keys = jax.random.split(noise_key, len(leaves))
        new_states = [((1.0 - self.ou_damping) * x + self.ou_stddev * jax.random.normal(k, jnp.shape(x))).astype(x.dtype)
                      for x, k in zip(states, keys)]
        action = jax.tree.unflatten(treedef, [a + x.astype(a.dtype) for a, x in zip(leaves, new_states)])
        if self._clip:
            action = clip_to_spec(action, self.action_spec)
        return PolicyStep(action, (step.state, jax.tree.unflatten(treedef, new_states)), step.info)
