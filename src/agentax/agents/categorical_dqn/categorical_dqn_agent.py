"""`CategoricalDqnAgent` (C51): a distribution of returns on a fixed support, TF-Agents' loss.

The pure core, state, target updates and collection are `DqnAgent`'s; the loss is the
cross-entropy between the online logits of the action taken and the target
distribution projected onto the support (`project_distribution`).
"""

from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentax.agents.dqn.dqn_agent import DqnAgent, DqnLossInfo, index_with_actions, n_step_transition
from agentax.agents.jax_agent import LossInfo
from agentax.networks.categorical_q_network import CategoricalQNetwork
from agentax.policies.categorical_q_policy import CategoricalQPolicy
from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory


def project_distribution(supports, weights, target_support, validate_args: bool = False):
    """Project a batch of distributions `(supports, weights)` (`[B, N]` each) onto
    `target_support` (`[N]`, increasing, evenly spaced), as TF-Agents' (equation 7 of
    Bellemare et al., 2017): each atom's weight goes to its two nearest target atoms in
    proportion to closeness; atoms outside `[target_support[0], target_support[-1]]` are
    clipped to the ends. Returns `[B, N]`. `validate_args` checks the target support's
    values (outside `jit`)."""
    supports, weights = jnp.asarray(supports), jnp.asarray(weights)
    target_support = jnp.asarray(target_support, supports.dtype)
    if target_support.ndim != 1:
        raise ValueError(f"project_distribution: `target_support` must have rank 1, got shape {target_support.shape}")
    if supports.shape != weights.shape or supports.shape[-1] != target_support.shape[0]:
        raise ValueError(f"project_distribution: `supports` {supports.shape} and `weights` {weights.shape} must "
                         f"have the same shape [B, {target_support.shape[0]}] (the target support's size)")
    deltas = target_support[1:] - target_support[:-1]
    if validate_args:
        values = np.asarray(deltas)
        if not (np.all(values > 0) and np.allclose(values, values[0])):
            raise ValueError(f"project_distribution: `target_support` must be increasing and evenly spaced, "
                             f"got {np.asarray(target_support)}")
    delta_z = deltas[0]
    clipped = jnp.clip(supports, target_support[0], target_support[-1])[:, None, :]    # [B, 1, N]
    closeness = 1.0 - jnp.abs(clipped - target_support[None, :, None]) / delta_z     # [B, N target, N]
    return jnp.sum(jnp.clip(closeness, 0.0, 1.0) * weights[:, None, :], axis=-1)


class CategoricalDqnAgent(DqnAgent):
    """C51 with TF-Agents' constructor arguments (`categorical_q_network`, `min_q_value`,
    `max_q_value`, ...; the rest as `DqnAgent`). The network returns `[B, actions, atoms]`
    logits; the support is `num_atoms` values evenly spaced from `min_q_value` to
    `max_q_value`. Greedy actions maximise the mean of each action's distribution.

    The loss is the mean over the batch of the cross-entropy to the projected target
    `reward + discount * support` (n-step: the discounted rewards and the product of
    discounts) under the target network's greedy action. Unlike TF-Agents (which leaves it
    as a TODO), boundary transitions are masked and n-step windows stop at an episode's
    LAST step as in `DqnAgent`; `weights` scale each element as in `DqnAgent` (TF-Agents
    ignores them). Without boundaries or weights the results are TF-Agents'.
    `td_errors_loss_fn` is accepted and unused, as in TF-Agents. `LossInfo.extra` holds
    the weighted per-element cross-entropy (`td_loss`) and the unweighted one (`td_error`,
    a priority for prioritized replay).
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, categorical_q_network: nn.Module | None = None,
                 optimizer: optax.GradientTransformation | None = None,
                 observation_and_action_constraint_splitter: Callable | None = None, min_q_value: float = -10.0,
                 max_q_value: float = 10.0, epsilon_greedy: float | Callable | None = 0.1, n_step_update: int = 1,
                 boltzmann_temperature: float | None = None,
                 target_categorical_q_network: nn.Module | None = None, target_update_tau: float = 1.0,
                 target_update_period: int = 1, td_errors_loss_fn: Callable | None = None, gamma: float = 1.0,
                 reward_scale_factor: float = 1.0, gradient_clipping: float | None = None,
                 train_step_counter=None, seed: int = 0):
        if not (np.isfinite(min_q_value) and np.isfinite(max_q_value) and min_q_value < max_q_value):
            raise ValueError(f"CategoricalDqnAgent: `min_q_value` must be < `max_q_value` (both finite), got "
                             f"{min_q_value} and {max_q_value}")
        self.min_q_value, self.max_q_value = float(min_q_value), float(max_q_value)
        for label, net in (("categorical_q_network", categorical_q_network),
                           ("target_categorical_q_network", target_categorical_q_network)):
            if net is not None and getattr(net, "num_atoms", None) is None:
                raise TypeError(f"CategoricalDqnAgent: `{label}` must have `num_atoms` (a CategoricalQNetwork), "
                                f"got {type(net).__name__}")
        if (categorical_q_network is not None and target_categorical_q_network is not None
                and categorical_q_network.num_atoms != target_categorical_q_network.num_atoms):
            raise ValueError(f"CategoricalDqnAgent: categorical_q_network and target_categorical_q_network have "
                             f"different numbers of atoms: {categorical_q_network.num_atoms} vs. "
                             f"{target_categorical_q_network.num_atoms}")
        super().__init__(time_step_spec, action_spec, categorical_q_network, optimizer,
                         observation_and_action_constraint_splitter, epsilon_greedy=epsilon_greedy,
                         n_step_update=n_step_update, boltzmann_temperature=boltzmann_temperature,
                         target_q_network=target_categorical_q_network, target_update_tau=target_update_tau,
                         target_update_period=target_update_period, td_errors_loss_fn=td_errors_loss_fn,
                         gamma=gamma, reward_scale_factor=reward_scale_factor, gradient_clipping=gradient_clipping,
                         train_step_counter=train_step_counter, seed=seed)
        self.support = self._q_policy.support

    def _default_network(self, time_step_spec, action_spec) -> nn.Module:
        return CategoricalQNetwork(time_step_spec.observation, action_spec)

    def _make_q_policy(self, time_step_spec, action_spec, network, emit_log_probability) -> CategoricalQPolicy:
        return CategoricalQPolicy(time_step_spec, action_spec, network, self.min_q_value, self.max_q_value,
                                  observation_and_action_constraint_splitter=(
                                      self.observation_and_action_constraint_splitter),
                                  emit_log_probability=emit_log_probability)

    def next_q_distribution(self, target_q_params, next_observation):
        """The target network's return distribution (`[B, atoms]`) of its greedy next action."""
        greedy = jnp.argmax(self._target_q_policy.masked_q_values(target_q_params, next_observation), axis=-1)
        network_observation, _ = self._target_q_policy.split(next_observation)
        probabilities = jax.nn.softmax(self.target_q_network.apply(target_q_params, network_observation))
        return index_with_actions(probabilities, greedy)

    def loss_fn(self, q_params, target_q_params, hparams, experience: Trajectory, weights=None) -> LossInfo:
        """Pure: the C51 cross-entropy loss of `experience` (`[batch, n_step_update + 1]`)."""
        n_step = n_step_transition(experience, hparams["gamma"], hparams["reward_scale_factor"])
        logits = self.chosen_network_output(q_params, n_step.observation, n_step.action)
        target_support = n_step.returns[:, None] + n_step.discount[:, None] * self.support[None, :]
        next_distribution = self.next_q_distribution(target_q_params, n_step.next_observation)
        target = jax.lax.stop_gradient(project_distribution(target_support, next_distribution, self.support))
        cross_entropy = n_step.valid * optax.softmax_cross_entropy(logits, target)
        td_loss = cross_entropy if weights is None else cross_entropy * weights
        return LossInfo(jnp.mean(td_loss), DqnLossInfo(td_loss=td_loss, td_error=cross_entropy))
