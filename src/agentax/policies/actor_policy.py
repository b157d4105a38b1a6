"""`ActorPolicy` (samples from an actor network) and `GreedyPolicy` (takes its mode)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from agentax.networks.distributions import Deterministic
from agentax.policies.jax_policy import JaxPolicy, WrappedPolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.policy_step import PolicyStep


def _is_distribution(x) -> bool:
    return hasattr(x, "log_prob") and hasattr(x, "sample")


def _spec_leaves(action_spec):
    leaves, treedef = jax.tree.flatten(action_spec, is_leaf=lambda x: isinstance(x, array_spec.ArraySpec))
    return leaves, treedef


def clip_to_spec(action, action_spec):
    """Clip each continuous leaf of `action` into its spec's bounds (discrete leaves unchanged)."""
    specs, treedef = _spec_leaves(action_spec)
    leaves = treedef.flatten_up_to(action)
    clipped = []
    for spec, value in zip(specs, leaves):
        if isinstance(spec, array_spec.BoundedArraySpec) and not array_spec.is_discrete(spec):
            value = jnp.clip(value, jnp.asarray(spec.minimum, value.dtype), jnp.asarray(spec.maximum, value.dtype))
        clipped.append(value)
    return jax.tree.unflatten(treedef, clipped)


class ActorPolicy(JaxPolicy):
    """Samples actions from `actor_network(observation)`: a distribution, or a nest of them
    matching `action_spec` leaf for leaf.

    `params` are the network's Flax variables. As in TF-Agents, `clip=True` clips
    sampled continuous actions into the spec's bounds (REINFORCE and PPO train on what
    was taken). With `emit_log_probability=True` the info carries
    `{'log_probability': ...}` of the action, summed over the action's leaves.
    Actions have each spec's dtype as JAX represents it (int64 -> int32).
    """

    def __init__(self, time_step_spec, action_spec, actor_network: nn.Module, params=None,
                 emit_log_probability: bool = False, clip: bool = True, seed: int = 0):
        info_spec = {"log_probability": array_spec.ArraySpec((), jnp.float32)} if emit_log_probability else ()
        super().__init__(time_step_spec, action_spec, info_spec=info_spec, params=params, seed=seed)
        self.actor_network = actor_network
        self._specs, self._treedef = _spec_leaves(action_spec)
        self._dtypes = [array_spec.jax_dtype(spec.dtype) for spec in self._specs]
        self._emit_log_probability = emit_log_probability
        self._clip = clip

    def _needs_params(self) -> bool:
        return True

    def distribution(self, params, time_step: ts.TimeStep, policy_state=()):
        """The `PolicyStep` whose `action` is the action distribution (nest); an actor network
        that returns actions (DDPG's `ActorNetwork`) gives `Deterministic` ones, as in TF-Agents."""
        output = self.actor_network.apply(params, time_step.observation)
        output = jax.tree.map(lambda x: x if _is_distribution(x) else Deterministic(x), output,
                              is_leaf=_is_distribution)
        return PolicyStep(output, policy_state, ())

    def distribution_leaves(self, distribution) -> list:
        """The distributions of `distribution`, one per action spec leaf (checked)."""
        leaves = jax.tree.leaves(distribution, is_leaf=_is_distribution)
        if len(leaves) != len(self._specs):
            raise ValueError(f"{type(self).__name__}: the actor network returns {len(leaves)} distribution(s) "
                             f"but `action_spec` has {len(self._specs)} leaves: {self.action_spec}")
        return leaves

    def log_prob(self, distribution, action):
        """Log-probability of `action` (a nest like the spec), summed over its leaves."""
        dists = self.distribution_leaves(distribution)
        actions = self._treedef.flatten_up_to(action)
        return sum(d.log_prob(a) for d, a in zip(dists, actions))

    def entropy(self, distribution):
        """Entropy summed over the action's leaves."""
        return sum(d.entropy() for d in self.distribution_leaves(distribution))

    def _action(self, params, time_step, policy_state, key) -> PolicyStep:
        if key is None:
            raise ValueError(f"{type(self).__name__}.action: `key` must be a jax.random key, got None")
        distribution = self.distribution(params, time_step, policy_state).action
        dists = self.distribution_leaves(distribution)
        keys = jax.random.split(key, len(dists))
        action = jax.tree.unflatten(self._treedef, [d.sample(k, dtype) for d, k, dtype
                                                     in zip(dists, keys, self._dtypes)])
        if self._clip:
            action = clip_to_spec(action, self.action_spec)
        info = {"log_probability": self.log_prob(distribution, action)} if self._emit_log_probability else ()
        return PolicyStep(action, policy_state, info)


class GreedyPolicy(WrappedPolicy):
    """The mode of a distribution-producing policy (deterministic; `key` is unused)."""

    def __init__(self, policy: ActorPolicy):
        super().__init__(policy)

    def distribution(self, params, time_step, policy_state=()):
        return self.wrapped_policy.distribution(params, time_step, policy_state)

    def _action(self, params, time_step, policy_state, key) -> PolicyStep:
        wrapped = self.wrapped_policy
        dists = wrapped.distribution_leaves(self.distribution(params, time_step, policy_state).action)
        action = jax.tree.unflatten(wrapped._treedef, [d.mode(dtype) for d, dtype in zip(dists, wrapped._dtypes)])
        return PolicyStep(action, policy_state, ())
