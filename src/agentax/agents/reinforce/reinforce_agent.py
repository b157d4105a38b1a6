"""`ReinforceAgent`: policy gradient with returns-to-go, the loss of TF-Agents' agent.

The pure core is `init(key) -> TrainState` and
`train_step(train_state, experience, weights) -> (TrainState, LossInfo)`, one
`jit`; the agent object holds the current `TrainState` for tutorial-style use
(`agent.train(experience)`, `agent.policy`, `agent.collect_policy`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentax.policies.actor_policy import ActorPolicy, GreedyPolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory, trajectory_spec


class LossInfo(NamedTuple):
    loss: Any
    extra: Any


class ReinforceLossInfo(NamedTuple):
    policy_gradient_loss: Any
    entropy_regularization_loss: Any
    value_estimation_loss: Any


class TrainState(NamedTuple):
    actor_params: Any
    value_params: Any
    opt_state: Any
    step: Any


def discounted_returns(rewards, discounts):
    """Returns-to-go along the last axis: G_t = r_t + discount_t * G_{t+1}."""

    def backward(carry, inputs):
        reward, discount = inputs
        carry = reward + discount * carry
        return carry, carry

    rewards_tm = jnp.moveaxis(rewards, -1, 0)
    discounts_tm = jnp.moveaxis(discounts, -1, 0)
    _, returns = jax.lax.scan(backward, jnp.zeros_like(rewards_tm[0]), (rewards_tm, discounts_tm), reverse=True)
    return jnp.moveaxis(returns, 0, -1)


def standard_normalize(values, weights):
    """(values - mean) / (std + eps), with statistics over entries whose weight is non-zero."""
    present = (weights > 0).astype(values.dtype)
    count = jnp.maximum(jnp.sum(present), 1.0)
    mean = jnp.sum(values * present) / count
    variance = jnp.sum(((values - mean) ** 2) * present) / count
    return (values - mean) / (jnp.sqrt(variance) + jnp.finfo(values.dtype).eps)


def _to_jax(x):
    x = np.asarray(x)
    return jnp.asarray(x.astype(array_spec.jax_dtype(x.dtype), copy=False))


class ReinforceAgent:
    """REINFORCE on batches of trajectories `[batch, time]`, as TF-Agents computes it.

    Within a batch row, discounts are zeroed at LAST so returns restart at each
    episode; boundary steps (LAST -> FIRST) and a trailing partial episode are
    masked out; the loss is summed over steps and divided by the number of
    complete episodes. With `value_network`, `returns - value` is the advantage
    and `value_estimation_loss_coef * sum((returns - value)^2) / episodes` is
    added. `normalize_returns` standardizes the advantages over the batch.
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, actor_network: nn.Module,
                 optimizer: optax.GradientTransformation, gamma: float = 1.0, normalize_returns: bool = True,
                 entropy_regularization: float | None = None, value_network: nn.Module | None = None,
                 value_estimation_loss_coef: float = 0.2, gradient_clipping: float | None = None,
                 train_step_counter: int = 0, seed: int = 0):
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"ReinforceAgent: `gamma` must be in [0, 1], got {gamma}")
        self.time_step_spec = time_step_spec
        self.action_spec = action_spec
        self.actor_network = actor_network
        self.value_network = value_network
        self.gamma = gamma
        self.normalize_returns = normalize_returns
        self.entropy_regularization = entropy_regularization
        self.value_estimation_loss_coef = value_estimation_loss_coef
        if gradient_clipping:
            optimizer = optax.chain(optax.clip_by_global_norm(gradient_clipping), optimizer)
        self.optimizer = optimizer
        self.seed = seed
        self._initial_step = int(train_step_counter)
        self.collect_policy = ActorPolicy(time_step_spec, action_spec, actor_network)
        self.policy = GreedyPolicy(self.collect_policy)
        self.collect_data_spec = trajectory_spec(time_step_spec, action_spec, self.collect_policy.info_spec)
        self.train_state: TrainState | None = None
        self._train_jit = jax.jit(self.train_step)

    # ---- the pure core
    def init(self, key) -> TrainState:
        actor_key, value_key = jax.random.split(key)
        observation = array_spec.zeros_from_spec(self.time_step_spec.observation)
        actor_params = self.actor_network.init(actor_key, observation)
        value_params = self.value_network.init(value_key, observation) if self.value_network else None
        opt_state = self.optimizer.init((actor_params, value_params))
        return TrainState(actor_params, value_params, opt_state, jnp.asarray(self._initial_step, jnp.int32))

    def loss(self, actor_params, value_params, experience: Trajectory, weights=None) -> LossInfo:
        """The REINFORCE loss of `experience` (`[batch, time]`); `weights` masks steps (e.g. padding)."""
        is_last = experience.next_step_type == ts.StepType.LAST
        is_boundary = experience.step_type == ts.StepType.LAST
        non_last = (~is_last).astype(jnp.float32)
        returns = jax.lax.stop_gradient(discounted_returns(experience.reward, non_last * experience.discount
                                                           * self.gamma))
        num_episodes = jnp.maximum(jnp.sum(is_last.astype(jnp.float32)), 1.0)
        # Mask the trailing partial episode of each row: steps with no is_last at or after them.
        valid = (jnp.cumsum(is_last[..., ::-1], axis=-1)[..., ::-1] > 0).astype(jnp.float32)
        stat_weights = jnp.ones_like(valid) if weights is None else weights
        weights = valid * stat_weights

        advantages = returns
        value_preds = None
        if self.value_network is not None:
            value_preds = self.value_network.apply(value_params, experience.observation)
            advantages = returns - value_preds
        if self.normalize_returns:
            advantages = standard_normalize(advantages, stat_weights)

        dist = self.actor_network.apply(actor_params, experience.observation)
        action_log_prob = dist.log_prob(experience.action) * (~is_boundary).astype(jnp.float32)
        policy_gradient_loss = -jnp.sum(action_log_prob * jax.lax.stop_gradient(advantages) * weights) / num_episodes

        entropy_loss = jnp.float32(0.0)
        if self.entropy_regularization:
            entropy_loss = (-jnp.sum(dist.entropy() * weights) / jnp.maximum(jnp.sum(stat_weights), 1.0)
                            * self.entropy_regularization)
        value_loss = jnp.float32(0.0)
        if value_preds is not None:
            value_loss = (jnp.sum((returns - value_preds) ** 2 * weights) * self.value_estimation_loss_coef
                          / num_episodes)
        total = policy_gradient_loss + entropy_loss + value_loss
        return LossInfo(total, ReinforceLossInfo(policy_gradient_loss, entropy_loss, value_loss))

    def train_step(self, train_state: TrainState, experience: Trajectory, weights=None):
        """Pure: one gradient step on `experience`; returns the new state and the `LossInfo`."""

        def loss_fn(params):
            info = self.loss(params[0], params[1], experience, weights)
            return info.loss, info

        params = (train_state.actor_params, train_state.value_params)
        grads, info = jax.grad(loss_fn, has_aux=True)(params)
        updates, opt_state = self.optimizer.update(grads, train_state.opt_state, params)
        actor_params, value_params = optax.apply_updates(params, updates)
        return TrainState(actor_params, value_params, opt_state, train_state.step + 1), info

    # ---- the stateful shell
    def initialize(self) -> None:
        """Create parameters and optimizer state (seeded by `seed`)."""
        self.set_train_state(self.init(jax.random.PRNGKey(self.seed)))

    def set_train_state(self, train_state: TrainState) -> None:
        self.train_state = train_state
        self.collect_policy.params = train_state.actor_params

    @property
    def train_step_counter(self) -> int:
        return int(self.train_state.step) if self.train_state is not None else self._initial_step

    def train(self, experience: Trajectory, weights=None) -> LossInfo:
        """One compiled gradient step on `experience` (`[batch, time]`, whole episodes)."""
        if self.train_state is None:
            self.initialize()
        if not np.any(np.asarray(experience.next_step_type) == ts.StepType.LAST):
            raise ValueError("ReinforceAgent.train: `experience` holds no complete episode "
                             "(no step with next_step_type == LAST); REINFORCE needs whole episodes")
        experience = jax.tree.map(_to_jax, experience)
        train_state, info = self._train_jit(self.train_state, experience,
                                            None if weights is None else jnp.asarray(weights, jnp.float32))
        self.set_train_state(train_state)
        return info
