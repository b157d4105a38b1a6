"""`DqnAgent` and `DdqnAgent`: Q-learning with a target network, TF-Agents' loss.

A `JaxAgent`: the pure core is `init(key) -> DqnState` and
`train_step(state, experience, key, weights) -> (DqnState, LossInfo)`; `gamma`,
`reward_scale_factor`, `target_update_tau` and a constant `epsilon_greedy` live in the
state's `hparams` (the learning rate in the optimizer state when the optimizer is built
with `optax.inject_hyperparams`), so runs can be `vmap`ped over them. The target network
is updated inside `train_step` (jittable).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentax.agents.jax_agent import JaxAgent, LossInfo
from agentax.networks.q_network import QNetwork, num_actions_of
from agentax.policies.actor_policy import GreedyPolicy
from agentax.policies.boltzmann_policy import BoltzmannPolicy
from agentax.policies.epsilon_greedy_policy import EpsilonGreedyParams, EpsilonGreedyPolicy
from agentax.policies.q_policy import QPolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory
from agentax.utils.losses import element_wise_huber_loss
from agentax.utils.target_update import periodic_soft_update
from agentax.utils.value_ops import discounted_return


class DqnLossInfo(NamedTuple):
    """`LossInfo.extra` of DQN: the weighted per-element `td_loss` and the unweighted
    `td_error` (`td_targets - q_values`, for prioritized replay); both are 0 on boundaries."""

    td_loss: Any
    td_error: Any


class DqnState(NamedTuple):
    q_params: Any
    target_q_params: Any
    opt_state: Any
    hparams: dict       # gamma, reward_scale_factor, target_update_tau[, epsilon_greedy]
    step: Any


class NStepTransition(NamedTuple):
    """What an n-step TD target needs from a `[B, n + 1]` trajectory (each `[B, ...]`)."""

    observation: Any        # the first step's
    action: Any             # the first step's
    valid: Any              # 1.0 unless the first step is a boundary (LAST -> FIRST)
    next_observation: Any   # at the window's first LAST step, else the last frame
    returns: Any            # scaled, discounted rewards up to that step
    discount: Any           # the product of gamma * discount over those rewards


def n_step_transition(experience: Trajectory, gamma, reward_scale_factor) -> NStepTransition:
    """TF-Agents' n-step target terms: rewards up to the window's first LAST step, the
    observation there (or at the last frame) to bootstrap from; steps past that LAST
    belong to another episode and count as reward 0, discount 1.

    The TD target is `returns + discount * next_value` (TF-Agents' `discounted_return`
    with `final_value=next_value`, written out); n = 1 is the same formula.
    """
    step_type = experience.step_type
    num_steps = step_type.shape[1]
    is_last = step_type == ts.StepType.LAST
    last_index = jnp.where(jnp.any(is_last, axis=1), jnp.argmax(is_last, axis=1), num_steps)
    valid_steps = (jnp.arange(num_steps - 1)[None, :] < last_index[:, None]).astype(jnp.float32)
    next_index = jnp.clip(last_index, 1, num_steps - 1)
    rewards = reward_scale_factor * experience.reward[:, :-1] * valid_steps
    discounts = jnp.maximum(gamma * experience.discount[:, :-1], 1.0 - valid_steps)
    rows = jnp.arange(step_type.shape[0])
    return NStepTransition(
        observation=jax.tree.map(lambda x: x[:, 0], experience.observation),
        action=experience.action[:, 0],
        valid=(step_type[:, 0] != ts.StepType.LAST).astype(jnp.float32),
        next_observation=jax.tree.map(lambda x: x[rows, next_index], experience.observation),
        returns=discounted_return(rewards, discounts, time_major=False, provide_all_returns=False),
        discount=jnp.prod(discounts, axis=1))


def index_with_actions(values, actions):
    """`values[b, actions[b]]` for each batch element `b` (`common.index_with_actions`);
    trailing dims of `values` (C51's atoms) are kept."""
    return values[jnp.arange(values.shape[0]), jnp.asarray(actions).astype(jnp.int32)]


def clip_gradient_norms(max_norm: float) -> optax.GradientTransformation:
    """Clip each gradient array to norm `max_norm` on its own (TF-Agents' `clip_gradient_norms`,
    not a global norm)."""

    def clip(updates, state, params=None):
        def one(g):
            norm = jnp.sqrt(jnp.sum(jnp.square(g)))
            return g * jnp.minimum(1.0, max_norm / jnp.maximum(norm, 1e-12))
        return jax.tree.map(one, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), clip)


class DqnAgent(JaxAgent):
    """DQN on `[batch, n_step_update + 1]` trajectories, as TF-Agents computes it.

    Constructor arguments keep TF-Agents' names and meaning. `q_network` defaults to a
    `QNetwork` (fc (75, 40)); `optimizer` to Adam 1e-3 (with an injected learning rate);
    `epsilon_greedy` is a float or a schedule of the train step (`optax.linear_schedule`);
    `boltzmann_temperature` (with `epsilon_greedy=None`) collects by Boltzmann sampling.
    Every `target_update_period` train steps (the `period`-th call first, as TF-Agents'
    `Periodically`) the target parameters move `target_update_tau` of the way to the online
    ones. The loss: per-element `td_errors_loss_fn(td_targets, q_values)` (Huber by default), zero on boundaries,
    times `weights`, averaged over the batch.
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, q_network: nn.Module | None = None,
                 optimizer: optax.GradientTransformation | None = None,
                 observation_and_action_constraint_splitter: Callable | None = None,
                 epsilon_greedy: float | Callable | None = 0.1, n_step_update: int = 1,
                 boltzmann_temperature: float | None = None, emit_log_probability: bool = False,
                 target_q_network: nn.Module | None = None, target_update_tau: float = 1.0,
                 target_update_period: int = 1, td_errors_loss_fn: Callable | None = None, gamma: float = 1.0,
                 reward_scale_factor: float = 1.0, gradient_clipping: float | None = None,
                 train_step_counter=None, seed: int = 0):
        name = type(self).__name__
        self.num_actions = num_actions_of(action_spec, name)
        if int(array_spec.flatten(action_spec)[0].minimum) != 0:
            raise ValueError(f"{name}: `action_spec` must have minimum 0, got {action_spec}")
        if epsilon_greedy is not None and boltzmann_temperature is not None:
            raise ValueError(f"{name}: give `epsilon_greedy` or `boltzmann_temperature`, not both "
                             f"(got {epsilon_greedy} and {boltzmann_temperature}); set the other to None")
        if epsilon_greedy is None and boltzmann_temperature is None:
            raise ValueError(f"{name}: `epsilon_greedy` and `boltzmann_temperature` are both None; "
                             f"the collect policy needs one")
        _check(name, "gamma", gamma, 0.0, 1.0)
        _check(name, "target_update_tau", target_update_tau, 0.0, 1.0)
        _check(name, "reward_scale_factor", reward_scale_factor, None, None)
        if not (isinstance(n_step_update, (int, np.integer)) and n_step_update >= 1):
            raise ValueError(f"{name}: `n_step_update` must be an integer >= 1, got {n_step_update!r}")
        if not (isinstance(target_update_period, (int, np.integer)) and target_update_period >= 1):
            raise ValueError(f"{name}: `target_update_period` must be an integer >= 1, got {target_update_period!r}")
        if gradient_clipping is not None:
            _check(name, "gradient_clipping", gradient_clipping, 0.0, None)

        self.q_network = q_network or self._default_network(time_step_spec, action_spec)
        self.target_q_network = target_q_network or self.q_network
        self.observation_and_action_constraint_splitter = observation_and_action_constraint_splitter
        self.n_step_update = int(n_step_update)
        self.target_update_period = int(target_update_period)
        self.td_errors_loss_fn = td_errors_loss_fn or element_wise_huber_loss
        self.epsilon_greedy = epsilon_greedy
        self.boltzmann_temperature = boltzmann_temperature
        self.hparams = {"gamma": float(gamma), "reward_scale_factor": float(reward_scale_factor),
                        "target_update_tau": float(target_update_tau)}
        if epsilon_greedy is not None and not callable(epsilon_greedy):
            _check(name, "epsilon_greedy", epsilon_greedy, 0.0, 1.0)
            self.hparams["epsilon_greedy"] = float(epsilon_greedy)
        optimizer = optimizer or optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)
        if gradient_clipping is not None:
            optimizer = optax.chain(clip_gradient_norms(gradient_clipping), optimizer)
        self.optimizer = optimizer

        q_policy = self._make_q_policy(time_step_spec, action_spec, self.q_network, emit_log_probability)
        self._q_policy = q_policy
        self._target_q_policy = self._make_q_policy(time_step_spec, action_spec, self.target_q_network, False)
        if boltzmann_temperature is not None:
            collect_policy = BoltzmannPolicy(q_policy, temperature=boltzmann_temperature)
        else:
            collect_policy = EpsilonGreedyPolicy(q_policy, epsilon=epsilon_greedy)
        super().__init__(time_step_spec, action_spec, GreedyPolicy(q_policy), collect_policy,
                         train_sequence_length=self.n_step_update + 1, train_step_counter=train_step_counter,
                         seed=seed)

    # ---- what C51 overrides
    def _default_network(self, time_step_spec, action_spec) -> nn.Module:
        return QNetwork(time_step_spec.observation, action_spec)

    def _make_q_policy(self, time_step_spec, action_spec, network, emit_log_probability) -> QPolicy:
        return QPolicy(time_step_spec, action_spec, network, emit_log_probability=emit_log_probability,
                       observation_and_action_constraint_splitter=self.observation_and_action_constraint_splitter)

    # ---- the pure core
    def init(self, key) -> DqnState:
        observation = array_spec.zeros_from_spec(self.time_step_spec.observation, (1,))
        network_observation, _ = self._q_policy.split(observation)
        q_params = self.q_network.init(key, network_observation)
        target_shapes = jax.eval_shape(self.target_q_network.init, key, network_observation)
        if jax.tree.structure(target_shapes) != jax.tree.structure(q_params) or any(
                a.shape != b.shape for a, b in zip(jax.tree.leaves(target_shapes), jax.tree.leaves(q_params))):
            raise ValueError(f"{type(self).__name__}: `target_q_network` must have the same parameters as "
                             f"`q_network` (the target starts as a copy of it)")
        hparams = {k: jnp.asarray(v, jnp.float32) for k, v in self.hparams.items()}
        return DqnState(q_params, jax.tree.map(jnp.copy, q_params), self.optimizer.init(q_params), hparams,
                        jnp.asarray(0, jnp.int32))

    def policy_params(self, state: DqnState):
        return state.q_params

    def collect_policy_params(self, state: DqnState):
        """Q-parameters, with epsilon at this train step for epsilon-greedy collection."""
        if self.boltzmann_temperature is not None:
            return state.q_params
        if callable(self.epsilon_greedy):
            epsilon = jnp.asarray(self.epsilon_greedy(state.step), jnp.float32)
        else:
            epsilon = state.hparams["epsilon_greedy"]
        return EpsilonGreedyParams(state.q_params, epsilon)

    def next_q_values(self, q_params, target_q_params, next_observation):
        """Q-values of the greedy next actions, chosen and evaluated by the target network."""
        return jnp.max(self._target_q_policy.masked_q_values(target_q_params, next_observation), axis=-1)

    def chosen_network_output(self, q_params, observation, action):
        """The online network's output for the action taken (`[B]`; C51: `[B, atoms]` logits)."""
        network_observation, _ = self._q_policy.split(observation)
        return index_with_actions(self.q_network.apply(q_params, network_observation), action)

    def loss_fn(self, q_params, target_q_params, hparams, experience: Trajectory, weights=None) -> LossInfo:
        """Pure: TF-Agents' DQN loss of `experience` (`[batch, n_step_update + 1]`)."""
        n_step = n_step_transition(experience, hparams["gamma"], hparams["reward_scale_factor"])
        q_values = self.chosen_network_output(q_params, n_step.observation, n_step.action)
        next_q = self.next_q_values(q_params, target_q_params, n_step.next_observation)
        td_targets = jax.lax.stop_gradient(n_step.returns + n_step.discount * next_q)
        td_error = n_step.valid * (td_targets - q_values)
        td_loss = n_step.valid * self.td_errors_loss_fn(td_targets, q_values)
        if weights is not None:
            td_loss = td_loss * weights
        return LossInfo(jnp.mean(td_loss), DqnLossInfo(td_loss=td_loss, td_error=td_error))

    def train_step(self, state: DqnState, experience: Trajectory, key=None, weights=None):
        """Pure: one gradient step, then the periodic target update; `key` is unused."""

        def loss(q_params):
            info = self.loss_fn(q_params, state.target_q_params, state.hparams, experience, weights)
            return info.loss, info

        grads, info = jax.grad(loss, has_aux=True)(state.q_params)
        updates, opt_state = self.optimizer.update(grads, state.opt_state, state.q_params)
        q_params = optax.apply_updates(state.q_params, updates)
        target_q_params = periodic_soft_update(q_params, state.target_q_params, state.step,
                                               state.hparams["target_update_tau"], self.target_update_period)
        return state._replace(q_params=q_params, target_q_params=target_q_params, opt_state=opt_state,
                              step=state.step + 1), info

    # ---- the stateful shell
    def loss(self, experience, weights=None) -> LossInfo:
        """The loss of `experience` with the current parameters (no update)."""
        state, experience, weights = self._loss_inputs(experience, weights)
        return self.loss_fn(state.q_params, state.target_q_params, state.hparams, experience, weights)


class DdqnAgent(DqnAgent):
    """Double DQN: the next action is the online network's argmax, its value the target
    network's (van Hasselt et al., 2015), as TF-Agents' `DdqnAgent`."""

    def next_q_values(self, q_params, target_q_params, next_observation):
        best_actions = jnp.argmax(self._q_policy.masked_q_values(q_params, next_observation), axis=-1)
        network_observation, _ = self._target_q_policy.split(next_observation)
        return index_with_actions(self._target_q_policy.network_q_values(target_q_params, network_observation),
                                  best_actions)


def _check(agent: str, name: str, value, low, high) -> None:
    """A finite number within [low, high] (None: unbounded), or a clear error naming it."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and np.isfinite(value)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        bounds = f"in [{low}, {high}]" if high is not None else (f">= {low}" if low is not None else "finite")
        raise ValueError(f"{agent}: `{name}` must be a number {bounds}, got {value!r}")
