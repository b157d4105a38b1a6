"""`JaxAgent`: the interface every agent implements (mirror of `tf_agents.agents.tf_agent.TFAgent`).

Each agent is a pure core and a thin stateful shell:

- pure: `init(key) -> state` and
  `train_step(state, experience, key, weights=None) -> (state, LossInfo)`; the state is
  a pytree (a NamedTuple with at least `step` and `hparams`) holding parameters,
  optimizer states and the hyperparameters a user sweeps, so one compiled program can
  be `vmap`ped over seeds *and* hyperparameters (`with_hyperparameters`);
  `policy_params(state)` is what `policy` / `collect_policy` take as `params`;
- stateful, for TF-Agents-style code: `initialize()`, `train(experience, weights=None)`,
  `policy`, `collect_policy`, `train_step_counter` (a `common.Variable`).
"""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentax.policies.jax_policy import JaxPolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import trajectory_spec
from agentax.utils import common


class LossInfo(NamedTuple):
    """What `train` returns: the total `loss` and agent-specific `extra` terms."""

    loss: Any
    extra: Any


def _to_jax(x):
    x = np.asarray(x)
    return jnp.asarray(x.astype(array_spec.jax_dtype(x.dtype), copy=False))


def td_priorities(loss) -> jax.Array:
    """Priorities `[B]` from a train step's `LossInfo.extra.td_error` (its absolute value, the largest
    over any further axes); agents without one cannot use prioritized replay."""
    td_error = getattr(loss.extra, "td_error", None)
    if td_error is None:
        raise ValueError("prioritized replay needs the agent's LossInfo.extra.td_error; this agent has none")
    magnitude = jnp.abs(td_error)
    return magnitude.reshape(magnitude.shape[0], -1).max(axis=1) if magnitude.ndim > 1 else magnitude


class JaxAgent(abc.ABC):
    """Base class of agents: specs, policies, a pure train step and its stateful shell.

    Subclasses call `super().__init__(...)` with their policies and write `init`,
    `train_step` and `policy_params`; `_check_experience` may add agent rules.
    `train_sequence_length` is the time length `train` expects (None: any).
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, policy: JaxPolicy, collect_policy: JaxPolicy,
                 train_sequence_length: int | None, training_data_spec=None, train_step_counter=None,
                 seed: int = 0):
        self._time_step_spec = time_step_spec
        self._action_spec = action_spec
        self._policy = policy
        self._collect_policy = collect_policy
        self._train_sequence_length = train_sequence_length
        self._collect_data_spec = trajectory_spec(time_step_spec, action_spec, collect_policy.info_spec)
        self._training_data_spec = training_data_spec if training_data_spec is not None else self._collect_data_spec
        if isinstance(train_step_counter, common.Variable):
            self._train_step_counter = train_step_counter
        else:
            self._train_step_counter = common.create_variable("train_step_counter", int(train_step_counter or 0))
        self.seed = int(seed)
        collect_policy.seed(self.seed + 1)
        self._train_key = jax.random.PRNGKey(self.seed + 2)
        self._state = None
        self._train_jit = jax.jit(self.train_step)

    # ---- specs and policies (TFAgent's properties)
    @property
    def time_step_spec(self) -> ts.TimeStep:
        return self._time_step_spec

    @property
    def action_spec(self):
        return self._action_spec

    @property
    def policy(self) -> JaxPolicy:
        """The policy to evaluate and deploy (greedy for most agents)."""
        return self._policy

    @property
    def collect_policy(self) -> JaxPolicy:
        """The policy that gathers training data."""
        return self._collect_policy

    @property
    def collect_data_spec(self):
        return self._collect_data_spec

    @property
    def training_data_spec(self):
        return self._training_data_spec

    @property
    def train_sequence_length(self) -> int | None:
        return self._train_sequence_length

    @property
    def train_step_counter(self) -> common.Variable:
        return self._train_step_counter

    # ---- the pure core
    @abc.abstractmethod
    def init(self, key) -> Any:
        """Pure: a fresh state (parameters, optimizer state, hyperparameters, step)."""

    @abc.abstractmethod
    def train_step(self, state, experience, key, weights=None) -> tuple[Any, LossInfo]:
        """Pure: one update on `experience` (`[batch, time]`); returns the new state and the loss."""

    @abc.abstractmethod
    def policy_params(self, state) -> Any:
        """Pure: the parameters `policy` acts with."""

    def collect_policy_params(self, state) -> Any:
        """Pure: the parameters `collect_policy` acts with (default: `policy_params`), e.g. with
        an exploration rate that depends on the train step."""
        return self.policy_params(state)

    def hyperparameters(self, state) -> dict:
        """The sweepable hyperparameters held in `state` (the agent's and the optimizer's)."""
        values = dict(state.hparams)
        for name in ("learning_rate",):
            try:
                values[name] = optax.tree_utils.tree_get(state, name)
            except (KeyError, ValueError):
                pass
        return values

    def with_hyperparameters(self, state, **values):
        """Pure: `state` with hyperparameters replaced (vmappable: pass arrays to sweep).

        Names are the agent's (`gamma`, `entropy_regularization`, ...) or the optimizer's
        injected ones (`learning_rate`, when the optimizer is built with
        `optax.inject_hyperparams`)."""
        known = self.hyperparameters(state)
        for name in values:
            if name not in known:
                raise ValueError(f"{type(self).__name__}.with_hyperparameters: unknown hyperparameter `{name}`; "
                                 f"this agent's state holds {sorted(known)}")
        hparams = dict(state.hparams)
        for name in list(values):
            if name in hparams:
                hparams[name] = jnp.asarray(values.pop(name), jnp.float32)
        state = state._replace(hparams=hparams)
        if values:
            state = optax.tree_utils.tree_set(state, **{k: jnp.asarray(v, jnp.float32) for k, v in values.items()})
        return state

    # ---- the stateful shell
    @property
    def state(self):
        """The current state (None before `initialize()`)."""
        return self._state

    def set_state(self, state) -> None:
        """Hold `state`; the policies act with its parameters from now on."""
        self._state = state
        self._train_step_counter.assign(int(state.step))
        self._policy.params = self.policy_params(state)
        self._collect_policy.params = self.collect_policy_params(state)

    def initialize(self) -> None:
        """Create parameters and optimizer state from the agent's `seed`."""
        init_key = jax.random.PRNGKey(self.seed)
        state = jax.jit(self.init)(init_key)
        self.set_state(state._replace(step=jnp.asarray(int(self._train_step_counter), jnp.int32)))

    def _check_experience(self, experience) -> None:
        """Raise a clear error when `experience` cannot be trained on (agents add their rules)."""
        leaves = jax.tree.leaves(experience)
        if not leaves or np.ndim(leaves[0]) < 2:
            raise ValueError(f"{type(self).__name__}.train: `experience` must have outer dims [batch, time], "
                             f"got step_type of shape {np.shape(experience.step_type)}")
        length = self._train_sequence_length
        if length is not None and np.shape(experience.step_type)[1] != length:
            raise ValueError(f"{type(self).__name__}.train: `experience` must have time length "
                             f"train_sequence_length={length}, got {np.shape(experience.step_type)[1]}")

    def train(self, experience, weights=None) -> LossInfo:
        """One compiled update on `experience`; increments `train_step_counter`.

        Agents of any sequence length (`train_sequence_length=None`, e.g. REINFORCE on
        whole episodes) get `experience` padded along time to a power of two, with
        `weights` masking the padding, so episodes of every length share a few compiled
        programs instead of compiling one per length."""
        if self._state is None:
            self.initialize()
        self._check_experience(experience)
        if self._train_sequence_length is None:
            experience, weights = self._pad_time(experience, weights)
        experience = jax.tree.map(_to_jax, experience)
        weights = None if weights is None else jnp.asarray(weights, jnp.float32)
        state = self._state._replace(step=jnp.asarray(int(self._train_step_counter), jnp.int32))
        self._train_key, key = jax.random.split(self._train_key)
        state, loss_info = self._train_jit(state, experience, key, weights)
        self.set_state(state)
        return loss_info

    @staticmethod
    def _pad_time(experience, weights):
        from agentax.replay_buffers.episodes import pad_length, pad_time

        batch, length = np.shape(experience.step_type)[:2]
        target = pad_length(length)
        weights = np.ones((batch, length), np.float32) if weights is None else np.asarray(weights, np.float32)
        if target == length:
            return experience, weights
        return pad_time(experience, target, axis=1), np.pad(weights, ((0, 0), (0, target - length)))

    def loss(self, experience, weights=None) -> LossInfo:
        """The loss of `experience` without updating (agents that can compute it override)."""
        raise NotImplementedError(f"{type(self).__name__} does not compute a loss without training")

    def _loss_inputs(self, experience, weights):
        """For `loss`: the state (initialized if need be), `experience` checked and both it and `weights` as
        JAX arrays, as `train` takes them."""
        if self._state is None:
            self.initialize()
        self._check_experience(experience)
        experience = jax.tree.map(_to_jax, experience)
        return self._state, experience, None if weights is None else jnp.asarray(weights, jnp.float32)

    # ---- checkpointing (common.Checkpointer)
    def get_checkpoint_state(self):
        if self._state is None:
            self.initialize()
        return {"state": self._state, "train_key": self._train_key,
                "collect_policy": self._collect_policy.get_checkpoint_state(),
                "policy": self._policy.get_checkpoint_state()}

    def set_checkpoint_state(self, state) -> None:
        self._train_key = jnp.asarray(state["train_key"], jnp.uint32)
        self._collect_policy.set_checkpoint_state(state["collect_policy"])
        self._policy.set_checkpoint_state(state["policy"])
        self.set_state(jax.tree.map(jnp.asarray, state["state"]))
