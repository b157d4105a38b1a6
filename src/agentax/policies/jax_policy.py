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

    The stateful face, for ported TF-Agents code: `params` holds the current
    parameters (drivers and `agent.policy.action(time_step)` read it), the policy
    owns one random stream (`seed`, `rng_key`), as TensorFlow's global generator
    does, and `jitted_action` is compiled once per policy, so wrappers
    (`PyJaxPolicy`) rebuilt in a loop neither restart the stream nor recompile.
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, policy_state_spec=(), info_spec=(),
                 params=None, seed: int = 0):
        super().__init__(time_step_spec, action_spec, policy_state_spec, info_spec)
        self.params = params
        self.seed(seed)
        self._jitted_action = None

    def seed(self, seed: int) -> None:
        """Restart this policy's random stream from `seed`."""
        self._key = jax.random.PRNGKey(int(seed))

    @property
    def rng_key(self):
        """Where this policy's random stream stands (settable)."""
        return self._key

    @rng_key.setter
    def rng_key(self, key) -> None:
        self._key = key

    def action_and_next_key(self, params, time_step, policy_state, key):
        """Pure: `(action(params, time_step, policy_state, subkey), next key)` of a stream at `key`."""
        key, action_key = jax.random.split(key)
        return self._pure_action(params, time_step, policy_state, action_key), key

    @property
    def jitted_action(self):
        """`jax.jit(self.action_and_next_key)`, compiled once per policy."""
        if self._jitted_action is None:
            self._jitted_action = jax.jit(self.action_and_next_key)
        return self._jitted_action

    def get_checkpoint_state(self):
        return {"key": self._key}

    def set_checkpoint_state(self, state) -> None:
        self._key = jnp.asarray(state["key"], jnp.uint32)

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

    def action(self, *args, **kwargs) -> PolicyStep:
        """Pure: `action(params, time_step, policy_state=(), key=None)`.

        Stateful (TF-Agents' form): `action(time_step, policy_state=(), seed=None)` acts
        with the current `params` and the policy's own stream (or `seed`), compiled.
        """
        if (args and isinstance(args[0], ts.TimeStep)) or (not args and "time_step" in kwargs
                                                            and "params" not in kwargs):
            return self._stateful_action(*args, **kwargs)
        return self._pure_action(*args, **kwargs)

    def _pure_action(self, params, time_step: ts.TimeStep, policy_state=(), key=None) -> PolicyStep:
        policy_state = self.reset_state_on_first(time_step, policy_state)
        return self._action(params, time_step, policy_state, key)

    def _stateful_action(self, time_step: ts.TimeStep, policy_state=(), seed=None) -> PolicyStep:
        if self.params is None and self._needs_params():
            raise ValueError(f"{type(self).__name__}.action(time_step): the policy has no parameters yet "
                             f"(call agent.initialize() first)")
        if seed is not None:
            return self.jitted_action(self.params, time_step, policy_state, jax.random.PRNGKey(int(seed)))[0]
        step, self._key = self.jitted_action(self.params, time_step, policy_state, self._key)
        return step

    def _needs_params(self) -> bool:
        """Whether `_action` reads `params` (network policies say yes)."""
        return False

    @abc.abstractmethod
    def _action(self, params, time_step: ts.TimeStep, policy_state, key) -> PolicyStep:
        """Subclasses compute the `PolicyStep` here."""


class WrappedPolicy(JaxPolicy):
    """A policy acting through `wrapped_policy` with its parameters (greedy, Boltzmann, ...):
    `params` reads and writes the wrapped policy's."""

    def __init__(self, policy: JaxPolicy, info_spec=(), seed: int = 0):
        self.wrapped_policy = policy
        super().__init__(policy.time_step_spec, policy.action_spec, policy.policy_state_spec, info_spec,
                         params=None, seed=seed)

    @property
    def params(self):
        return self.wrapped_policy.params

    @params.setter
    def params(self, value):
        if value is not None:
            self.wrapped_policy.params = value

    def _needs_params(self) -> bool:
        return True
