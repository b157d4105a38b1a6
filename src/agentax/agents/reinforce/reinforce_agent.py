"""`ReinforceAgent`: policy gradient with returns-to-go, the loss of TF-Agents' agent.

A `JaxAgent`: the pure core is `init(key) -> ReinforceState` and
`train_step(state, experience, key, weights) -> (ReinforceState, LossInfo)`;
`gamma`, `entropy_regularization` and `value_estimation_loss_coef` live in the
state's `hparams` (and the learning rate in the optimizer state when the
optimizer is built with `optax.inject_hyperparams`), so runs can be `vmap`ped
over them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentax.agents.jax_agent import JaxAgent, LossInfo
from agentax.policies.actor_policy import ActorPolicy, GreedyPolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory


class ReinforceLossInfo(NamedTuple):
    policy_gradient_loss: Any
    entropy_regularization_loss: Any
    value_estimation_loss: Any


class ReinforceState(NamedTuple):
    actor_params: Any
    value_params: Any
    opt_state: Any
    hparams: dict       # gamma, entropy_regularization, value_estimation_loss_coef
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


class ReinforceAgent(JaxAgent):
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
                 train_step_counter=None, seed: int = 0):
        _check_coefficient("gamma", gamma, upper=1.0)
        _check_coefficient("entropy_regularization", entropy_regularization or 0.0)
        _check_coefficient("value_estimation_loss_coef", value_estimation_loss_coef)
        _check_coefficient("gradient_clipping", gradient_clipping or 0.0)
        self.actor_network = actor_network
        self.value_network = value_network
        self.normalize_returns = normalize_returns
        self.use_entropy = bool(entropy_regularization)
        self.hparams = {"gamma": float(gamma), "entropy_regularization": float(entropy_regularization or 0.0),
                        "value_estimation_loss_coef": float(value_estimation_loss_coef)}
        if gradient_clipping:
            optimizer = optax.chain(optax.clip_by_global_norm(gradient_clipping), optimizer)
        self.optimizer = optimizer
        collect_policy = ActorPolicy(time_step_spec, action_spec, actor_network, clip=True)
        super().__init__(time_step_spec, action_spec, GreedyPolicy(collect_policy), collect_policy,
                         train_sequence_length=None, train_step_counter=train_step_counter, seed=seed)

    # ---- the pure core
    def init(self, key) -> ReinforceState:
        actor_key, value_key = jax.random.split(key)
        observation = array_spec.zeros_from_spec(self.time_step_spec.observation)
        actor_params = self.actor_network.init(actor_key, observation)
        value_params = self.value_network.init(value_key, observation) if self.value_network else None
        opt_state = self.optimizer.init((actor_params, value_params))
        hparams = {k: jnp.asarray(v, jnp.float32) for k, v in self.hparams.items()}
        return ReinforceState(actor_params, value_params, opt_state, hparams, jnp.asarray(0, jnp.int32))

    def policy_params(self, state: ReinforceState):
        return state.actor_params

    def loss_fn(self, actor_params, value_params, hparams, experience: Trajectory, weights=None) -> LossInfo:
        """Pure: the REINFORCE loss of `experience` (`[batch, time]`); `weights` masks steps (e.g. padding)."""
        is_last = experience.next_step_type == ts.StepType.LAST
        is_boundary = experience.step_type == ts.StepType.LAST
        non_last = (~is_last).astype(jnp.float32)
        returns = jax.lax.stop_gradient(discounted_returns(experience.reward, non_last * experience.discount
                                                           * hparams["gamma"]))
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

        policy = self.collect_policy
        dist = self.actor_network.apply(actor_params, experience.observation)
        action_log_prob = policy.log_prob(dist, experience.action) * (~is_boundary).astype(jnp.float32)
        policy_gradient_loss = -jnp.sum(action_log_prob * jax.lax.stop_gradient(advantages) * weights) / num_episodes

        entropy_loss = jnp.float32(0.0)
        if self.use_entropy:
            entropy_loss = (-jnp.sum(policy.entropy(dist) * weights) / jnp.maximum(jnp.sum(stat_weights), 1.0)
                            * hparams["entropy_regularization"])
        value_loss = jnp.float32(0.0)
        if value_preds is not None:
            value_loss = (jnp.sum((returns - value_preds) ** 2 * weights) * hparams["value_estimation_loss_coef"]
                          / num_episodes)
        total = policy_gradient_loss + entropy_loss + value_loss
        return LossInfo(total, ReinforceLossInfo(policy_gradient_loss, entropy_loss, value_loss))

    def train_step(self, state: ReinforceState, experience: Trajectory, key=None, weights=None):
        """Pure: one gradient step on `experience` (`key` is unused); returns the new state and the loss."""

        def loss_fn(params):
            info = self.loss_fn(params[0], params[1], state.hparams, experience, weights)
            return info.loss, info

        params = (state.actor_params, state.value_params)
        grads, info = jax.grad(loss_fn, has_aux=True)(params)
        updates, opt_state = self.optimizer.update(grads, state.opt_state, params)
        actor_params, value_params = optax.apply_updates(params, updates)
        return state._replace(actor_params=actor_params, value_params=value_params, opt_state=opt_state,
                              step=state.step + 1), info

    # ---- the stateful shell
    def _check_experience(self, experience) -> None:
        super()._check_experience(experience)
        if not np.any(np.asarray(experience.next_step_type) == ts.StepType.LAST):
            raise ValueError("ReinforceAgent.train: `experience` holds no complete episode "
                             "(no step with next_step_type == LAST); REINFORCE needs whole episodes")

    def loss(self, experience, weights=None) -> LossInfo:
        """The loss of `experience` with the current parameters (no update)."""
        state, experience, weights = self._loss_inputs(experience, weights)
        return self.loss_fn(state.actor_params, state.value_params, state.hparams, experience, weights)


def _check_coefficient(name: str, value, upper: float | None = None) -> None:
    """A finite, non-negative coefficient (at most `upper`), or a clear error naming it."""
    if value is None or not np.isfinite(value) or value < 0 or (upper is not None and value > upper):
        bound = f"in [0, {upper}]" if upper is not None else "finite and >= 0"
        raise ValueError(f"ReinforceAgent: `{name}` must be {bound}, got {value}")
