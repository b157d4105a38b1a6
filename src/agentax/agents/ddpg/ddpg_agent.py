"""`DdpgAgent`: deep deterministic policy gradient (Lillicrap et al., 2015), TF-Agents' losses.

A `JaxAgent`: the pure core is `init(key) -> DdpgState` and
`train_step(state, experience, key, weights) -> (DdpgState, LossInfo)` on `[batch, 2]`
trajectories; `gamma`, `reward_scale_factor`, `target_update_tau` (and `dqda_clipping` when
set) live in the state's `hparams`, the learning rates in the optimizer states (optimizers
built with `optax.inject_hyperparams`), so runs can be `vmap`ped over them. `Td3Agent`
(`agents/td3/td3_agent.py`) is this agent with twin critics, target policy smoothing and a
delayed actor.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentax.agents.actor_critic import (OptimizerHyperparameters, Transition, as_transition,
                                         check_target_network, critic_td_loss, masked_mean)
from agentax.agents.dqn.dqn_agent import clip_gradient_norms
from agentax.agents.jax_agent import JaxAgent, LossInfo
from agentax.policies.actor_policy import ActorPolicy
from agentax.policies.gaussian_policy import check_number
from agentax.policies.jax_policy import JaxPolicy
from agentax.policies.ou_noise_policy import OUNoisePolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory
from agentax.utils.losses import element_wise_huber_loss, element_wise_squared_loss
from agentax.utils.target_update import periodic_soft_update


class DdpgInfo(NamedTuple):
    """`LossInfo.extra` of DDPG (and TD3: `Td3Info`)."""

    actor_loss: Any
    critic_loss: Any


class DdpgState(NamedTuple):
    actor_params: Any
    critic_params: Any           # a tuple: (critic,) for DDPG, (critic 1, critic 2) for TD3
    target_actor_params: Any
    target_critic_params: Any    # like critic_params
    actor_opt_state: Any
    critic_opt_state: Any        # one optimizer over all critics, as TF-Agents
    hparams: dict
    step: Any


def default_optimizer(learning_rate: float) -> optax.GradientTransformation:
    """Adam with an injected (sweepable) learning rate."""
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)


def dqda_actor_loss(critic_fn: Callable, actions, dqda_clipping=None):
    """TF-Agents' deterministic policy-gradient loss per example: with `dqda = dQ/da` at the
    actor's `actions` (clipped element-wise to `[-dqda_clipping, dqda_clipping]` when given),
    `mean over action elements of (stop_gradient(dqda + a) - a)^2`. Its gradient in the
    actor's parameters is `-2 dqda da/dtheta` (averaged), i.e. ascent on Q.

    `critic_fn(actions) -> [B]` Q-values; `actions` are `[B, ...]`."""
    dqda = jax.grad(lambda a: jnp.sum(critic_fn(a)))(actions)
    if dqda_clipping is not None:
        dqda = jnp.clip(dqda, -dqda_clipping, dqda_clipping)
    loss = element_wise_squared_loss(jax.lax.stop_gradient(dqda + actions), actions)
    return jnp.mean(loss.reshape(loss.shape[0], -1), axis=1)


class DdpgAgent(OptimizerHyperparameters, JaxAgent):
    """DDPG on `[batch, 2]` trajectories, as TF-Agents computes it.

    Constructor arguments keep TF-Agents' names and meaning. `actor_network` maps an
    observation to an action (an `ActorNetwork`); `critic_network` maps `(observation,
    action)` to `[B]` Q-values (a `CriticNetwork`); target networks default to the same
    modules, starting as copies. `actor_optimizer` / `critic_optimizer` default to Adam
    1e-4 / 1e-3 (TF-Agents' DDPG examples), with injected learning rates.

    One train step (TF-Agents' order): the critic loss
    `mean(l(y, Q(s, a)))`, `y = reward_scale_factor * r + gamma * discount * Q'(s', mu'(s'))`
    (`l = td_errors_loss_fn`, Huber by default), one critic update; then the actor loss
    (`dqda_actor_loss`, with the updated critic), one actor update; then every
    `target_update_period` train steps (the `period`-th call first, as TF-Agents' `Periodically`) the
    target actor and critic move `target_update_tau` of the way to the online ones.
    `dqda_clipping` None or 0 means no clipping (TF-Agents' docstring; its code would clip to
    0). `gradient_clipping` clips each gradient array by its norm, as TF-Agents does.

    `policy` is the actor, clipped to the action bounds; `collect_policy` adds
    Ornstein-Uhlenbeck noise (`ou_stddev`, `ou_damping`; damping 1 is plain Gaussian noise)
    and clips (`OUNoisePolicy`, whose process is reset at each episode start).

    Differences from TF-Agents: boundary transitions (LAST -> FIRST, which the replay holds
    between episodes) are masked out of both losses, as agentax's DQN and SAC do (TF-Agents
    trains on them, a TODO there); recurrent actors and the debug/summary flags are left out.
    """

    _OPTIMIZERS = {"actor_learning_rate": "actor_opt_state", "critic_learning_rate": "critic_opt_state"}
    _INFO = DdpgInfo

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, actor_network: nn.Module,
                 critic_network: nn.Module, actor_optimizer: optax.GradientTransformation | None = None,
                 critic_optimizer: optax.GradientTransformation | None = None, ou_stddev: float = 1.0,
                 ou_damping: float = 1.0, target_actor_network: nn.Module | None = None,
                 target_critic_network: nn.Module | None = None, target_update_tau: float = 1.0,
                 target_update_period: int = 1, dqda_clipping: float | None = None,
                 td_errors_loss_fn: Callable | None = None, gamma: float = 1.0, reward_scale_factor: float = 1.0,
                 gradient_clipping: float | None = None, train_step_counter=None, seed: int = 0):
        name = type(self).__name__
        self.ou_stddev = check_number(name, "ou_stddev", ou_stddev, 0.0)
        self.ou_damping = check_number(name, "ou_damping", ou_damping, 0.0, 1.0)
        self._setup(time_step_spec, action_spec, actor_network, (critic_network,), actor_optimizer,
                    critic_optimizer, target_actor_network, (target_critic_network,), target_update_tau,
                    target_update_period, 1, dqda_clipping, td_errors_loss_fn, gamma, reward_scale_factor,
                    gradient_clipping, {})
        super().__init__(time_step_spec, action_spec, self._make_policy(True), self._make_collect_policy(),
                         train_sequence_length=2, train_step_counter=train_step_counter, seed=seed)

    def _make_collect_policy(self) -> JaxPolicy:
        return OUNoisePolicy(self._make_policy(False), ou_stddev=self.ou_stddev, ou_damping=self.ou_damping,
                             clip=True)

    # ---- what DDPG and TD3 share
    def _setup(self, time_step_spec, action_spec, actor_network, critic_networks, actor_optimizer,
               critic_optimizer, target_actor_network, target_critic_networks, target_update_tau,
               target_update_period, actor_update_period, dqda_clipping, td_errors_loss_fn, gamma,
               reward_scale_factor, gradient_clipping, extra_hparams: dict) -> None:
        name = type(self).__name__
        for spec in array_spec.flatten(action_spec):
            if array_spec.is_discrete(spec):
                raise ValueError(f"{name}: the action spec must be continuous (float), got {spec}")
        check_number(name, "gamma", gamma, 0.0, 1.0)
        check_number(name, "target_update_tau", target_update_tau, 0.0, 1.0)
        check_number(name, "reward_scale_factor", reward_scale_factor, -np.inf)
        for label, period in (("target_update_period", target_update_period),
                              ("actor_update_period", actor_update_period)):
            if not (isinstance(period, (int, np.integer)) and not isinstance(period, bool) and period >= 1):
                raise ValueError(f"{name}: `{label}` must be an integer >= 1, got {period!r}")
        if dqda_clipping is not None:
            check_number(name, "dqda_clipping", dqda_clipping, 0.0)
        if gradient_clipping is not None:
            check_number(name, "gradient_clipping", gradient_clipping, 0.0)
        for label, network in (("actor_network", actor_network), ("critic_network", critic_networks[0])):
            if not isinstance(network, nn.Module):
                raise TypeError(f"{name}: `{label}` must be a flax.linen Module (e.g. "
                                f"{'ActorNetwork' if label == 'actor_network' else 'CriticNetwork'}), "
                                f"got {type(network).__name__}")
        self.actor_network = actor_network
        self.target_actor_network = target_actor_network or actor_network
        self.critic_networks = tuple(critic_networks)
        self.target_critic_networks = tuple(t or c for t, c in zip(target_critic_networks, critic_networks))
        self.target_update_period = int(target_update_period)
        self.actor_update_period = int(actor_update_period)
        self.td_errors_loss_fn = td_errors_loss_fn or element_wise_huber_loss
        self.dqda_clipping = float(dqda_clipping) if dqda_clipping else None
        self.hparams = {"gamma": float(gamma), "reward_scale_factor": float(reward_scale_factor),
                        "target_update_tau": float(target_update_tau), **extra_hparams}
        if self.dqda_clipping is not None:
            self.hparams["dqda_clipping"] = self.dqda_clipping

        def optimizer(given, learning_rate):
            opt = given or default_optimizer(learning_rate)
            return optax.chain(clip_gradient_norms(gradient_clipping), opt) if gradient_clipping is not None else opt

        self.actor_optimizer = optimizer(actor_optimizer, 1e-4)
        self.critic_optimizer = optimizer(critic_optimizer, 1e-3)
        self._time_step_spec_for_policies = time_step_spec
        self._action_spec_for_policies = action_spec

    def _make_policy(self, clip: bool) -> ActorPolicy:
        return ActorPolicy(self._time_step_spec_for_policies, self._action_spec_for_policies, self.actor_network,
                           clip=clip)

    # ---- the pure core
    def init(self, key) -> DdpgState:
        observation = array_spec.zeros_from_spec(self.time_step_spec.observation, (1,))
        action = array_spec.zeros_from_spec(self.action_spec, (1,))
        name = type(self).__name__
        actor_key, *critic_keys = jax.random.split(key, 1 + len(self.critic_networks))
        actor_params = self.actor_network.init(actor_key, observation)
        check_target_network(name, "target_actor_network", self.target_actor_network, key, observation, actor_params)
        critic_params = tuple(net.init(k, (observation, action)) for net, k in zip(self.critic_networks, critic_keys))
        for i, (target, params) in enumerate(zip(self.target_critic_networks, critic_params)):
            check_target_network(name, "target_critic_network" + (f"_{i + 1}" if i else ""), target, key,
                                 (observation, action), params)
        hparams = {k: jnp.asarray(v, jnp.float32) for k, v in self.hparams.items()}
        return DdpgState(actor_params, critic_params, jax.tree.map(jnp.copy, actor_params),
                         jax.tree.map(jnp.copy, critic_params), self.actor_optimizer.init(actor_params),
                         self.critic_optimizer.init(critic_params), hparams, jnp.asarray(0, jnp.int32))

    def policy_params(self, state: DdpgState):
        return state.actor_params

    def target_actions(self, target_actor_params, hparams, next_observation, key):
        """The target actor's actions at `next_observation` (TD3 adds clipped noise)."""
        return self.target_actor_network.apply(target_actor_params, next_observation)

    def critic_loss(self, critic_params, target_critic_params, target_actor_params, hparams,
                    transition: Transition, key=None, weights=None):
        """Pure: TF-Agents' critic loss, summed over the critics; targets use the minimum of
        the target critics (one for DDPG)."""
        next_actions = self.target_actions(target_actor_params, hparams, transition.next_observation, key)
        target_input = (transition.next_observation, next_actions)
        target_q = jnp.min(jnp.stack([net.apply(p, target_input) for net, p
                                      in zip(self.target_critic_networks, target_critic_params)]), axis=0)
        td_targets = jax.lax.stop_gradient(hparams["reward_scale_factor"] * transition.reward
                                           + hparams["gamma"] * transition.discount * target_q)
        q_values = [net.apply(p, (transition.observation, transition.action))
                    for net, p in zip(self.critic_networks, critic_params)]
        return masked_mean(critic_td_loss(self.td_errors_loss_fn, td_targets, q_values), transition.valid, weights)

    def actor_loss(self, actor_params, critic_params, hparams, transition: Transition, weights=None):
        """Pure: `dqda_actor_loss` through the (first) critic, averaged over the batch."""
        actions = self.actor_network.apply(actor_params, transition.observation)
        critic = lambda a: self.critic_networks[0].apply(critic_params[0], (transition.observation, a))  # noqa: E731
        per_example = dqda_actor_loss(critic, actions, hparams.get("dqda_clipping"))
        return masked_mean(per_example, transition.valid, weights)

    def train_step(self, state: DdpgState, experience: Trajectory, key=None, weights=None):
        """Pure: a critic update, an actor update (every `actor_update_period` train steps, the
        first included), then the periodic target update."""
        transition = as_transition(experience)
        hparams = state.hparams
        key = jax.random.PRNGKey(0) if key is None else key

        critic_loss, grads = jax.value_and_grad(self.critic_loss)(
            state.critic_params, state.target_critic_params, state.target_actor_params, hparams, transition, key,
            weights)
        updates, critic_opt_state = self.critic_optimizer.update(grads, state.critic_opt_state, state.critic_params)
        critic_params = optax.apply_updates(state.critic_params, updates)

        actor_loss, grads = jax.value_and_grad(self.actor_loss)(state.actor_params, critic_params, hparams,
                                                                transition, weights)

        def update_actor(_):
            updates, opt_state = self.actor_optimizer.update(grads, state.actor_opt_state, state.actor_params)
            return optax.apply_updates(state.actor_params, updates), opt_state

        if self.actor_update_period == 1:
            actor_params, actor_opt_state = update_actor(None)
        else:
            actor_params, actor_opt_state = jax.lax.cond(
                state.step % self.actor_update_period == 0, update_actor,
                lambda _: (state.actor_params, state.actor_opt_state), None)

        tau = hparams["target_update_tau"]
        target_critic_params = periodic_soft_update(critic_params, state.target_critic_params, state.step, tau,
                                                    self.target_update_period)
        target_actor_params = periodic_soft_update(actor_params, state.target_actor_params, state.step, tau,
                                                   self.target_update_period)
        state = state._replace(actor_params=actor_params, critic_params=critic_params,
                               target_actor_params=target_actor_params, target_critic_params=target_critic_params,
                               actor_opt_state=actor_opt_state, critic_opt_state=critic_opt_state,
                               step=state.step + 1)
        return state, LossInfo(actor_loss + critic_loss, self._INFO(actor_loss, critic_loss))

    # ---- the stateful shell
    def loss(self, experience, weights=None, key=None) -> LossInfo:
        """Both losses of `experience` with the current parameters (no update)."""
        s, experience, weights = self._loss_inputs(experience, weights)
        key = jax.random.PRNGKey(0) if key is None else key
        transition = as_transition(experience)
        critic = self.critic_loss(s.critic_params, s.target_critic_params, s.target_actor_params, s.hparams,
                                  transition, key, weights)
        actor = self.actor_loss(s.actor_params, s.critic_params, s.hparams, transition, weights)
        return LossInfo(actor + critic, self._INFO(actor, critic))
