"""`JaxPolicy`: a policy as a pure function of `(params, time_step, policy_state, key)`."""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp

from agentax.policies.policy_base import PolicySpecs
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.policy_step import PolicyStep


class JaxPolicy(PolicySpecs, abc.ABC):
    """Base class of compiled policies.

    `action(params, time_step, policy_state, key) -> PolicyStep` is pure, so it can
    run inside `jit`, `vmap` and compiled drivers; parameters are an argument, so
    new parameters never recompile. Subclasses write `_action(...)` (and
    `_distribution(...)` if they have one). The policy state of a batch element is
    reset to its initial value whenever that element's time step is FIRST.
    `params` holds the current parameters for stateful use (drivers read it).
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, policy_state_spec=(), info_spec=(),
                 params=None):
        super().__init__(time_step_spec, action_spec, policy_state_spec, info_spec)
        self.params = params

    def get_initial_state(self, batch_size: int | None = None):
        outer = () if batch_size is None else (batch_size,)
        return array_spec.map_spec(lambda s: jnp.zeros(outer + s.shape, s.dtype), self._policy_state_spec)

    def reset_state_on_first(self, time_step: ts.TimeStep, policy_state):
        """`policy_state` with the initial state wherever `time_step` is FIRST."""
        if not jax.tree.leaves(policy_state):
            return policy_state
        is_first = time_step.step_type == ts.StepType.FIRST
        initial = self.get_initial_state(is_first.shape[0] if is_first.ndim else None)

        def select(init, state):
            mask = jnp.reshape(is_first, is_first.shape + (1,) * (state.ndim - is_first.ndim))
            return jnp.where(mask, init, state)

        return jax.tree.map(select, initial, policy_state)

    def action(self, params, time_step: ts.TimeStep, policy_state=(), key=None) -> PolicyStep:
        """Pure: the `PolicyStep` for `time_step`."""
        policy_state = self.reset_state_on_first(time_step, policy_state)
        return self._action(params, time_step, policy_state, key)

    @abc.abstractmethod
    def _action(self, params, time_step: ts.TimeStep, policy_state, key) -> PolicyStep:
        """Subclasses compute the `PolicyStep` here."""
