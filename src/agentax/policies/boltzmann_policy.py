"""`BoltzmannPolicy`: samples from a policy's logits divided by a temperature (mirror of
`tf_agents.policies.boltzmann_policy`, compiled)."""

from __future__ import annotations

import jax.numpy as jnp

from agentax.networks.distributions import Categorical
from agentax.policies.jax_policy import WrappedPolicy
from agentax.policies.q_policy import QPolicy
from agentax.trajectories.policy_step import PolicyStep


class BoltzmannPolicy(WrappedPolicy):
    """Samples `Categorical(logits / temperature)` of `policy`'s distribution (a `QPolicy`:
    softmax over Q-values / T; the closer T is to 0, the greedier). `params` are the wrapped
    policy's; with its `emit_log_probability` the info carries the sampled action's
    log-probability under the tempered distribution."""

    def __init__(self, policy: QPolicy, temperature: float = 1.0, seed: int = 0):
        if not float(temperature) > 0.0:
            raise ValueError(f"BoltzmannPolicy: `temperature` must be > 0, got {temperature}")
        self.temperature = float(temperature)
        super().__init__(policy, policy.info_spec, seed=seed)

    def distribution(self, params, time_step, policy_state=()):
        dist = self.wrapped_policy.distribution(params, time_step, policy_state).action
        return PolicyStep(Categorical(dist.logits / self.temperature, dist.offset), policy_state, ())

    def _action(self, params, time_step, policy_state, key) -> PolicyStep:
        if key is None:
            raise ValueError("BoltzmannPolicy.action: `key` must be a jax.random key, got None")
        dist = self.distribution(params, time_step, policy_state).action
        dtype = self.wrapped_policy._dtypes[0]
        action = dist.sample(key, dtype)
        info = ()
        if getattr(self.wrapped_policy, "emit_log_probability", False):
            info = {"log_probability": dist.log_prob(action).astype(jnp.float32)}
        return PolicyStep(action, policy_state, info)
