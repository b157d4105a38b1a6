"""`EpsilonGreedyPolicy`: a policy's greedy action, or a uniformly random one with
probability epsilon (mirror of `tf_agents.policies.epsilon_greedy_policy`, compiled)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from agentax.policies.actor_policy import GreedyPolicy
from agentax.policies.jax_policy import JaxPolicy
from agentax.policies.q_policy import NEG_INF, QPolicy, mask_logits
from agentax.trajectories.policy_step import PolicyStep


class EpsilonGreedyParams(NamedTuple):
    """What `EpsilonGreedyPolicy` acts with: the wrapped policy's params and epsilon (traced,
    so a decaying epsilon never recompiles)."""

    policy: Any
    epsilon: Any


class EpsilonGreedyPolicy(JaxPolicy):
    """With probability `epsilon` (per batch element) a uniformly random allowed action, else
    the argmax of `policy`'s distribution (a `QPolicy` or any policy with a categorical).

    `epsilon` is a float or a schedule `epsilon(train_step)` (e.g. `optax.linear_schedule`);
    the agent resolves it into `params.epsilon` at each train step. Used on its own, the
    stateful `params` pairs the wrapped policy's params with `epsilon` (a schedule at step
    0, or the last value set). The random action respects the wrapped policy's
    `observation_and_action_constraint_splitter`. With `emit_log_probability` on the wrapped
    policy the info's log-probability is TF-Agents': 0 for a greedy action, `-log(allowed
    actions)` for a random one.
    """

    def __init__(self, policy: QPolicy, epsilon: float | Callable[[Any], Any], seed: int = 0):
        if not callable(epsilon) and not 0.0 <= float(epsilon) <= 1.0:
            raise ValueError(f"EpsilonGreedyPolicy: `epsilon` must be in [0, 1] or a schedule, got {epsilon}")
        self.wrapped_policy = policy
        self.epsilon = epsilon
        self._epsilon_value = jnp.asarray(epsilon(0) if callable(epsilon) else epsilon, jnp.float32)
        super().__init__(policy.time_step_spec, policy.action_spec, policy.policy_state_spec, policy.info_spec,
                         seed=seed)
        self._greedy = GreedyPolicy(policy)

    def epsilon_at(self, step):
        """Epsilon at train step `step` (pure)."""
        value = self.epsilon(step) if callable(self.epsilon) else self.epsilon
        return jnp.asarray(value, jnp.float32)

    @property
    def params(self):
        if self.wrapped_policy.params is None:
            return None
        return EpsilonGreedyParams(self.wrapped_policy.params, self._epsilon_value)

    @params.setter
    def params(self, value):
        if value is None:
            return
        if isinstance(value, EpsilonGreedyParams):
            self.wrapped_policy.params = value.policy
            self._epsilon_value = value.epsilon
        else:
            self.wrapped_policy.params = value

    def _needs_params(self) -> bool:
        return True

    def _action(self, params: EpsilonGreedyParams, time_step, policy_state, key) -> PolicyStep:
        if key is None:
            raise ValueError("EpsilonGreedyPolicy.action: `key` must be a jax.random key, got None")
        greedy = self._greedy._action(params.policy, time_step, policy_state, None)
        wrapped = self.wrapped_policy
        outer = jnp.shape(time_step.step_type)
        splitter = getattr(wrapped, "observation_and_action_constraint_splitter", None)
        mask = None if splitter is None else splitter(time_step.observation)[1]
        allowed = mask_logits(jnp.zeros(outer + (wrapped.num_actions,), jnp.float32), mask)
        random_key, explore_key = jax.random.split(key)
        random_action = (jax.random.categorical(random_key, allowed) + wrapped.minimum).astype(greedy.action.dtype)
        explore = jax.random.uniform(explore_key, outer) < params.epsilon
        action = jnp.where(explore, random_action, greedy.action)
        info = ()
        if getattr(wrapped, "emit_log_probability", False):
            num_allowed = jnp.sum(allowed > NEG_INF, axis=-1).astype(jnp.float32)
            info = {"log_probability": jnp.where(explore, -jnp.log(num_allowed), 0.0)}
        return PolicyStep(action, greedy.state, info)
