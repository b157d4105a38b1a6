"""`SacAgent`: Soft Actor-Critic (Haarnoja et al., 2018/2019) with twin critics and a learned
temperature, the losses of TF-Agents' `tf_agents.agents.sac.sac_agent.SacAgent`.

A `JaxAgent`: the pure core is `init(key) -> SacState` and
`train_step(state, experience, key, weights) -> (SacState, LossInfo)`; `gamma`,
`reward_scale_factor`, `target_update_tau`, `target_entropy` and the three loss weights live
in the state's `hparams` (learning rates in the optimizer states when the optimizers are
built with `optax.inject_hyperparams`), so runs can be `vmap`ped over them.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentax.agents.dqn.dqn_agent import clip_gradient_norms
from agentax.agents.actor_critic import (OptimizerHyperparameters, Transition, as_transition, critic_td_loss,
                                         masked_mean)
from agentax.agents.jax_agent import JaxAgent, LossInfo
from agentax.networks.tanh_normal_projection_network import std_clip_transform  # noqa: F401  (TF-Agents' name here)
from agentax.policies.actor_policy import ActorPolicy, GreedyPolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory
from agentax.utils.losses import element_wise_squared_loss
from agentax.utils.target_update import periodic_soft_update


class SacLossInfo(NamedTuple):
    """`LossInfo.extra` of SAC (each already weighted by its loss weight)."""

    critic_loss: Any
    actor_loss: Any
    alpha_loss: Any


class SacState(NamedTuple):
    actor_params: Any
    critic_params: Any          # (critic 1, critic 2)
    target_critic_params: Any   # (target 1, target 2)
    log_alpha: Any              # scalar: the temperature is exp(log_alpha)
    actor_opt_state: Any
    critic_opt_state: Any
    alpha_opt_state: Any
    hparams: dict
    step: Any


def default_target_entropy(action_spec) -> float:
    """TF-Agents' default: `-dim(A) / 2` (the paper uses `-dim(A)`)."""
    return -float(sum(int(np.prod(s.shape)) for s in array_spec.flatten(action_spec))) / 2.0


class SacAgent(OptimizerHyperparameters, JaxAgent):
    """SAC on `[batch, 2]` trajectories, as TF-Agents computes it.

    Constructor arguments keep TF-Agents' names and meaning. `critic_network` maps
    the pair `(observation, action)` to `[B]` Q-values (a `CriticNetwork`); `critic_network_2` defaults
    to the same module with its own, independently initialized parameters (TF-Agents'
    `critic_network.copy()`), and the targets to the same modules, starting as copies. The
    `actor_network` maps an observation to an action distribution (e.g.
    `ActorDistributionNetwork(..., continuous_projection_net=TanhNormalProjectionNetwork)`);
    its samples must be reparameterized (differentiable in the parameters).

    One train step (TF-Agents' order): the critic loss
    `critic_loss_weight * mean(l(y, Q1) + l(y, Q2))` with
    `y = reward_scale_factor * r + gamma * discount * (min(Q1', Q2')(s', a') - alpha log pi(a'|s'))`,
    `a' ~ pi(s')`, targets from the target critics, `l = td_errors_loss_fn` (squared difference);
    one critic update; then the actor loss `mean(alpha log pi(a|s) - min(Q1, Q2)(s, a))` with the
    updated critics; one actor update; then the alpha loss
    `mean(log_alpha * stop_gradient(-log pi(a|s) - target_entropy))` (`exp(log_alpha)` in place of
    `log_alpha` when `use_log_alpha_in_alpha_loss=False`) with the updated actor; one alpha update;
    then every `target_update_period` train steps (the `period`-th call first, as TF-Agents'
    `Periodically`) the targets move
    `target_update_tau` of the way to the critics.

    `target_entropy=None` means TF-Agents' `-dim(A) / 2`, kept because a TF-Agents user porting
    code gets the same temperature schedule (TF-Agents found it steadier on gym/MuJoCo); the paper
    and Stable-Baselines3 use `-dim(A)` (the `zoo` preset passes it).

    Differences from TF-Agents: boundary transitions (LAST -> FIRST, which the replay holds
    between episodes) are masked out of all three losses, as agentax's DQN does (TF-Agents' SAC
    trains on them); `policy` is the greedy (mode) policy that evaluation and saved policies use
    (TF-Agents' `policy` samples, and its example wraps it in `GreedyPolicy` to evaluate);
    `collect_policy` samples. `actor_policy_ctor` and the debug/summary flags are left out;
    `gradient_clipping` clips each gradient array by its norm, as TF-Agents does.
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, critic_network: nn.Module,
                 actor_network: nn.Module, actor_optimizer: optax.GradientTransformation | None = None,
                 critic_optimizer: optax.GradientTransformation | None = None,
                 alpha_optimizer: optax.GradientTransformation | None = None, actor_loss_weight: float = 1.0,
                 critic_loss_weight: float = 0.5, alpha_loss_weight: float = 1.0,
                 critic_network_2: nn.Module | None = None, target_critic_network: nn.Module | None = None,
                 target_critic_network_2: nn.Module | None = None, target_update_tau: float = 1.0,
                 target_update_period: int = 1, td_errors_loss_fn: Callable | None = None, gamma: float = 1.0,
                 reward_scale_factor: float = 1.0, initial_log_alpha: float = 0.0,
                 use_log_alpha_in_alpha_loss: bool = True, target_entropy: float | None = None,
                 gradient_clipping: float | None = None, train_step_counter=None, seed: int = 0):
        name = type(self).__name__
        specs = array_spec.flatten(action_spec)
        for spec in specs:
            if array_spec.is_discrete(spec):
                raise ValueError(f"{name}: SAC needs continuous actions; got a discrete `action_spec` {spec}")
            if not isinstance(spec, array_spec.BoundedArraySpec):
                raise ValueError(f"{name}: `action_spec` must be bounded (BoundedArraySpec), got {spec}")
        if not isinstance(critic_network, nn.Module):
            raise TypeError(f"{name}: `critic_network` must be a flax Module, got {type(critic_network).__name__}")
        if not isinstance(actor_network, nn.Module):
            raise TypeError(f"{name}: `actor_network` must be a flax Module, got {type(actor_network).__name__}")
        for arg, value, low, high in (("gamma", gamma, 0.0, 1.0), ("target_update_tau", target_update_tau, 0.0, 1.0),
                                      ("reward_scale_factor", reward_scale_factor, None, None),
                                      ("initial_log_alpha", initial_log_alpha, None, None),
                                      ("actor_loss_weight", actor_loss_weight, None, None),
                                      ("critic_loss_weight", critic_loss_weight, None, None),
                                      ("alpha_loss_weight", alpha_loss_weight, None, None)):
            _check(name, arg, value, low, high)
        if target_entropy is not None:
            _check(name, "target_entropy", target_entropy, None, None)
        if not (isinstance(target_update_period, (int, np.integer)) and target_update_period >= 1):
            raise ValueError(f"{name}: `target_update_period` must be an integer >= 1, got {target_update_period!r}")
        if gradient_clipping is not None:
            _check(name, "gradient_clipping", gradient_clipping, 0.0, None)

        self.critic_network = critic_network
        # TF-Agents ignores target_critic_network_2 when critic_network_2 is not given.
        self.critic_network_2 = critic_network_2 or critic_network
        self.target_critic_network = target_critic_network or critic_network
        self.target_critic_network_2 = ((target_critic_network_2 if critic_network_2 is not None else None)
                                        or self.critic_network_2)
        self.actor_network = actor_network
        self.target_update_period = int(target_update_period)
        self.td_errors_loss_fn = td_errors_loss_fn or element_wise_squared_loss
        self.use_log_alpha_in_alpha_loss = bool(use_log_alpha_in_alpha_loss)
        self.initial_log_alpha = float(initial_log_alpha)
        self.target_entropy = (default_target_entropy(action_spec) if target_entropy is None
                               else float(target_entropy))
        self.hparams = {"gamma": float(gamma), "reward_scale_factor": float(reward_scale_factor),
                        "target_update_tau": float(target_update_tau), "target_entropy": self.target_entropy,
                        "actor_loss_weight": float(actor_loss_weight),
                        "critic_loss_weight": float(critic_loss_weight),
                        "alpha_loss_weight": float(alpha_loss_weight)}

        def optimizer(given):
            opt = given or optax.inject_hyperparams(optax.adam)(learning_rate=3e-4)
            return optax.chain(clip_gradient_norms(gradient_clipping), opt) if gradient_clipping is not None else opt

        self.actor_optimizer = optimizer(actor_optimizer)
        self.critic_optimizer = optimizer(critic_optimizer)
        self.alpha_optimizer = optimizer(alpha_optimizer)

        self._actor_policy = ActorPolicy(time_step_spec, action_spec, actor_network)
        super().__init__(time_step_spec, action_spec, GreedyPolicy(self._actor_policy), self._actor_policy,
                         train_sequence_length=2, train_step_counter=train_step_counter, seed=seed)

    # ---- the pure core
    def init(self, key) -> SacState:
        observation = array_spec.zeros_from_spec(self.time_step_spec.observation, (1,))
        action = array_spec.zeros_from_spec(self.action_spec, (1,))
        actor_key, key1, key2 = jax.random.split(key, 3)
        actor_params = self.actor_network.init(actor_key, observation)
        critic_params = (self.critic_network.init(key1, (observation, action)),
                         self.critic_network_2.init(key2, (observation, action)))
        for i, (net, params) in enumerate(((self.target_critic_network, critic_params[0]),
                                           (self.target_critic_network_2, critic_params[1]))):
            shapes = jax.eval_shape(net.init, key, (observation, action))
            if jax.tree.structure(shapes) != jax.tree.structure(params) or any(
                    a.shape != b.shape for a, b in zip(jax.tree.leaves(shapes), jax.tree.leaves(params))):
                raise ValueError(f"{type(self).__name__}: `target_critic_network{'_2' if i else ''}` must have "
                                 f"the same parameters as its critic (the target starts as a copy of it)")
        log_alpha = jnp.asarray(self.initial_log_alpha, jnp.float32)
        hparams = {k: jnp.asarray(v, jnp.float32) for k, v in self.hparams.items()}
        return SacState(actor_params, critic_params, jax.tree.map(jnp.copy, critic_params), log_alpha,
                        self.actor_optimizer.init(actor_params), self.critic_optimizer.init(critic_params),
                        self.alpha_optimizer.init(log_alpha), hparams, jnp.asarray(0, jnp.int32))

    def policy_params(self, state: SacState):
        return state.actor_params

    def actions_and_log_probs(self, actor_params, observation, key):
        """Reparameterized actions `pi(.|observation)` and their log-probabilities `[B]` (summed
        over the action's leaves)."""
        distribution = self.actor_network.apply(actor_params, observation)
        leaves = self._actor_policy.distribution_leaves(distribution)
        keys = jax.random.split(key, len(leaves))
        actions, log_probs = [], []
        for dist, k in zip(leaves, keys):
            if hasattr(dist, "sample_and_log_prob"):
                action, log_prob = dist.sample_and_log_prob(k)
            else:
                action = dist.sample(k)
                log_prob = dist.log_prob(action)
            actions.append(action)
            log_probs.append(log_prob)
        return jax.tree.unflatten(self._actor_policy._treedef, actions), sum(log_probs)

    def q_values(self, critic_params, observation, action):
        """`(Q1, Q2)` of the online critics."""
        return (self.critic_network.apply(critic_params[0], (observation, action)),
                self.critic_network_2.apply(critic_params[1], (observation, action)))

    def critic_loss(self, critic_params, target_critic_params, actor_params, log_alpha, hparams,
                    transition: Transition, key, weights=None):
        """Pure: TF-Agents' SAC critic loss (times `critic_loss_weight`)."""
        next_actions, next_log_pis = self.actions_and_log_probs(actor_params, transition.next_observation, key)
        target_input = (transition.next_observation, next_actions)
        target_q1 = self.target_critic_network.apply(target_critic_params[0], target_input)
        target_q2 = self.target_critic_network_2.apply(target_critic_params[1], target_input)
        target_q = jnp.minimum(target_q1, target_q2) - jnp.exp(log_alpha) * next_log_pis
        td_targets = jax.lax.stop_gradient(hparams["reward_scale_factor"] * transition.reward
                                           + hparams["gamma"] * transition.discount * target_q)
        q1, q2 = self.q_values(critic_params, transition.observation, transition.action)
        per_example = critic_td_loss(self.td_errors_loss_fn, td_targets, (q1, q2))
        return hparams["critic_loss_weight"] * masked_mean(per_example, transition.valid, weights)

    def actor_loss(self, actor_params, critic_params, log_alpha, hparams, transition: Transition, key,
                   weights=None):
        """Pure: `mean(alpha * log pi(a|s) - min(Q1, Q2)(s, a))`, `a ~ pi(s)` (times `actor_loss_weight`)."""
        actions, log_pi = self.actions_and_log_probs(actor_params, transition.observation, key)
        q1, q2 = self.q_values(critic_params, transition.observation, actions)
        per_example = jnp.exp(jax.lax.stop_gradient(log_alpha)) * log_pi - jnp.minimum(q1, q2)
        return hparams["actor_loss_weight"] * masked_mean(per_example, transition.valid, weights)

    def alpha_loss(self, log_alpha, actor_params, hparams, transition: Transition, key, weights=None):
        """Pure: `mean(log_alpha * stop_gradient(-log pi - target_entropy))` (or `exp(log_alpha)`),
        times `alpha_loss_weight`: minimizing it raises alpha while the policy's entropy is below
        the target and lowers it above."""
        _, log_pi = self.actions_and_log_probs(actor_params, transition.observation, key)
        entropy_diff = jax.lax.stop_gradient(-log_pi - hparams["target_entropy"])
        alpha = log_alpha if self.use_log_alpha_in_alpha_loss else jnp.exp(log_alpha)
        return hparams["alpha_loss_weight"] * masked_mean(alpha * entropy_diff, transition.valid, weights)

    def train_step(self, state: SacState, experience: Trajectory, key, weights=None):
        """Pure: critic, actor and alpha updates in turn, then the periodic target update."""
        transition = as_transition(experience)
        hparams = state.hparams
        critic_key, actor_key, alpha_key = jax.random.split(key, 3)

        critic_loss, grads = jax.value_and_grad(self.critic_loss)(
            state.critic_params, state.target_critic_params, state.actor_params, state.log_alpha, hparams,
            transition, critic_key, weights)
        updates, critic_opt_state = self.critic_optimizer.update(grads, state.critic_opt_state, state.critic_params)
        critic_params = optax.apply_updates(state.critic_params, updates)

        actor_loss, grads = jax.value_and_grad(self.actor_loss)(
            state.actor_params, critic_params, state.log_alpha, hparams, transition, actor_key, weights)
        updates, actor_opt_state = self.actor_optimizer.update(grads, state.actor_opt_state, state.actor_params)
        actor_params = optax.apply_updates(state.actor_params, updates)

        alpha_loss, grads = jax.value_and_grad(self.alpha_loss)(
            state.log_alpha, actor_params, hparams, transition, alpha_key, weights)
        updates, alpha_opt_state = self.alpha_optimizer.update(grads, state.alpha_opt_state, state.log_alpha)
        log_alpha = optax.apply_updates(state.log_alpha, updates)

        target_critic_params = periodic_soft_update(critic_params, state.target_critic_params, state.step,
                                                    hparams["target_update_tau"], self.target_update_period)
        state = state._replace(actor_params=actor_params, critic_params=critic_params,
                               target_critic_params=target_critic_params, log_alpha=log_alpha,
                               actor_opt_state=actor_opt_state, critic_opt_state=critic_opt_state,
                               alpha_opt_state=alpha_opt_state, step=state.step + 1)
        info = SacLossInfo(critic_loss, actor_loss, alpha_loss)
        return state, LossInfo(critic_loss + actor_loss + alpha_loss, info)

    # ---- hyperparameters: three optimizers, three learning rates
    _OPTIMIZERS = {"actor_learning_rate": "actor_opt_state", "critic_learning_rate": "critic_opt_state",
                   "alpha_learning_rate": "alpha_opt_state"}

    @property
    def log_alpha(self):
        """The current `log_alpha` (after `initialize()`)."""
        return None if self.state is None else self.state.log_alpha

    # ---- the stateful shell
    def loss(self, experience, weights=None, key=None) -> LossInfo:
        """The three losses of `experience` with the current parameters (no update)."""
        s, experience, weights = self._loss_inputs(experience, weights)
        key = jax.random.PRNGKey(0) if key is None else key
        k1, k2, k3 = jax.random.split(key, 3)
        transition = as_transition(experience)
        critic = self.critic_loss(s.critic_params, s.target_critic_params, s.actor_params, s.log_alpha, s.hparams,
                                  transition, k1, weights)
        actor = self.actor_loss(s.actor_params, s.critic_params, s.log_alpha, s.hparams, transition, k2, weights)
        alpha = self.alpha_loss(s.log_alpha, s.actor_params, s.hparams, transition, k3, weights)
        return LossInfo(critic + actor + alpha, SacLossInfo(critic, actor, alpha))


def _check(agent: str, name: str, value, low, high) -> None:
    """A finite number within [low, high] (None: unbounded), or a clear error naming it."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        bounds = f"in [{low}, {high}]" if high is not None else (f">= {low}" if low is not None else "finite")
        raise ValueError(f"{agent}: `{name}` must be a number {bounds}, got {value!r}")
