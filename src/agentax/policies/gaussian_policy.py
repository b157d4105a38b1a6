"""`GaussianPolicy`: another policy's actions plus Gaussian noise (mirror of
`tf_agents.policies.gaussian_policy`, compiled), TD3's collect policy."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from agentax.policies.actor_policy import clip_to_spec
from agentax.policies.jax_policy import JaxPolicy, WrappedPolicy
from agentax.specs import array_spec
from agentax.trajectories.policy_step import PolicyStep


def check_continuous(policy: JaxPolicy, owner: str, what: str) -> None:
    """Refuse a policy whose actions are not all float (noise needs continuous actions)."""
    if not isinstance(policy, JaxPolicy):
        raise TypeError(f"{owner}: `wrapped_policy` must be a JaxPolicy (e.g. an ActorPolicy), "
                        f"got {type(policy).__name__}")
    for spec in array_spec.flatten(policy.action_spec):
        if array_spec.is_discrete(spec):
            raise ValueError(f"{owner}: {what} is applicable only to continuous actions, got action spec {spec}")


def check_number(owner: str, name: str, value, low: float, high: float | None = None) -> float:
    """`value` as a float in `[low, high]`, or a clear error naming it."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and value >= low and (high is None or value <= high)
    if not ok:
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{owner}: `{name}` must be a finite number {bound}, got {value!r}")
    return float(value)


class GaussianPolicy(WrappedPolicy):
    """`wrapped_policy`'s action plus `N(0, scale^2)` noise on every element, then (with
    `clip=True`, the default) clipped into the action spec's bounds.

    `scale` is in the action's own units (TF-Agents'; Stable-Baselines3 scales its noise
    to `[-1, 1]`-normalized actions instead). Parameters, policy state and info are the
    wrapped policy's; `key` is split between the wrapped policy and the noise.
    """

    def __init__(self, wrapped_policy: JaxPolicy, scale: float = 1.0, clip: bool = True, seed: int = 0):
        check_continuous(wrapped_policy, "GaussianPolicy", "Gaussian noise")
        self.scale = check_number("GaussianPolicy", "scale", scale, 0.0)
        self._clip = bool(clip)
        super().__init__(wrapped_policy, info_spec=wrapped_policy.info_spec, seed=seed)

    def _action(self, params, time_step, policy_state, key) -> PolicyStep:
        if key is None:
            raise ValueError("GaussianPolicy.action: `key` must be a jax.random key, got None")
        wrapped_key, noise_key = jax.random.split(key)
        step = self.wrapped_policy.action(params, time_step, policy_state, wrapped_key)
        leaves, treedef = jax.tree.flatten(step.action)
        keys = jax.random.split(noise_key, len(leaves))
        noisy = [a + (self.scale * jax.random.normal(k, jnp.shape(a))).astype(a.dtype) for a, k in zip(leaves, keys)]
        action = jax.tree.unflatten(treedef, noisy)
        if self._clip:
            action = clip_to_spec(action, self.action_spec)
        return PolicyStep(action, step.state, step.info)
