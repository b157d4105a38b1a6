"""Pure pieces the off-policy actor-critic agents share (SAC, TD3, DDPG): the transition
view of a `[B, 2]` trajectory, the masked batch mean, the critic loss over one or more
(twin) critics, the check that a target network can start as a copy, and the
hyperparameters of agents with one optimizer per network."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory


class Transition(NamedTuple):
    """One step of a `[B, 2]` trajectory, as the actor-critic losses read it (each `[B, ...]`)."""

    observation: Any
    action: Any
    reward: Any             # of the step observation -> next_observation
    discount: Any
    next_observation: Any
    valid: Any              # 0.0 on a boundary (LAST -> FIRST), else 1.0


def as_transition(experience: Trajectory) -> Transition:
    """The first step of each `[B, 2]` sequence (TF-Agents' `AsTransition` with `squeeze_time_dim`)."""
    first = lambda x: x[:, 0]  # noqa: E731
    return Transition(jax.tree.map(first, experience.observation), jax.tree.map(first, experience.action),
                      experience.reward[:, 0], experience.discount[:, 0],
                      jax.tree.map(lambda x: x[:, 1], experience.observation),
                      (experience.step_type[:, 0] != ts.StepType.LAST).astype(jnp.float32))


def masked_mean(per_example, valid=None, weights=None):
    """TF-Agents' `aggregate_losses`: the per-example loss times `valid` and `weights` (each
    `[B]` or None), averaged over the batch (masked examples count as 0, not as absent)."""
    loss = per_example
    if valid is not None:
        loss = loss * valid
    if weights is not None:
        loss = loss * weights
    return jnp.mean(loss)


def critic_td_loss(td_errors_loss_fn: Callable, td_targets, q_values: Sequence) -> jax.Array:
    """Per-example critic loss summed over the critics: `sum_i l(td_targets, q_values[i])`
    (TD3's and SAC's twin critics; DDPG passes one)."""
    return sum(td_errors_loss_fn(td_targets, q) for q in q_values)


def check_target_network(owner: str, name: str, network, key, inputs, params) -> None:
    """Refuse a target network whose parameters differ in structure or shape from `params`
    (the target starts as a copy of them)."""
    shapes = jax.eval_shape(network.init, key, inputs)
    if jax.tree.structure(shapes) != jax.tree.structure(params) or any(
            a.shape != b.shape for a, b in zip(jax.tree.leaves(shapes), jax.tree.leaves(params))):
        raise ValueError(f"{owner}: `{name}` must have the same parameters as the network it targets "
                         f"(the target starts as a copy of it)")


class OptimizerHyperparameters:
    """`hyperparameters` / `with_hyperparameters` for a `JaxAgent` with one optimizer per
    network: `_OPTIMIZERS` maps a learning-rate name (`actor_learning_rate`) to the state
    field holding that optimizer's state (`actor_opt_state`). Learning rates show up only
    for optimizers built with `optax.inject_hyperparams`."""

    _OPTIMIZERS: dict = {}

    def hyperparameters(self, state) -> dict:
        values = dict(state.hparams)
        for name, field in self._OPTIMIZERS.items():
            try:
                values[name] = optax.tree_utils.tree_get(getattr(state, field), "learning_rate")
            except (KeyError, ValueError):
                pass
        return values

    def with_hyperparameters(self, state, **values):
        known = self.hyperparameters(state)
        for name in values:
            if name not in known:
                raise ValueError(f"{type(self).__name__}.with_hyperparameters: unknown hyperparameter `{name}`; "
                                 f"this agent's state holds {sorted(known)}")
        hparams = dict(state.hparams)
        for name, value in values.items():
            if name in hparams:
                hparams[name] = jnp.asarray(value, jnp.float32)
            else:
                field = self._OPTIMIZERS[name]
                opt_state = optax.tree_utils.tree_set(getattr(state, field),
                                                      learning_rate=jnp.asarray(value, jnp.float32))
                state = state._replace(**{field: opt_state})
        return state._replace(hparams=hparams)
