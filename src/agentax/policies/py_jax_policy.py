"""`PyJaxPolicy`: a JAX policy called from Python (the reference's `PyTFEagerPolicy`)."""

from __future__ import annotations

import jax
import numpy as np

from agentax.policies.jax_policy import JaxPolicy
from agentax.policies.py_policy import PyPolicy
from agentax.specs import array_spec
from agentax.trajectories.policy_step import PolicyStep


class PyJaxPolicy(PyPolicy):
    """Runs `policy` (a `JaxPolicy`) on NumPy time steps, so a `PyDriver` can use it.

    With `use_jit=True` each call is one compiled dispatch. It reads
    `policy.params` on every call, so parameter updates are seen at once and
    never recompile. Actions come back as NumPy arrays in the action spec's dtype
    (e.g. int64 for Gymnasium's Discrete), seeded by `seed`.
    """

    def __init__(self, policy: JaxPolicy, use_jit: bool = True, seed: int = 0, action_spec=None):
        """`action_spec`: the Python side's spec when its dtypes differ from the policy's
        (e.g. a policy trained on the JAX CartPole, int32, run on Gymnasium's, int64)."""
        if action_spec is not None:
            mine = array_spec.flatten(policy.action_spec)
            theirs = array_spec.flatten(action_spec)
            if len(mine) != len(theirs) or any(a.shape != b.shape for a, b in zip(mine, theirs)):
                raise ValueError(f"PyJaxPolicy: `action_spec` {action_spec} does not match the shapes of the "
                                 f"policy's action spec {policy.action_spec}")
        action_spec = policy.action_spec if action_spec is None else action_spec
        super().__init__(policy.time_step_spec, action_spec, policy.policy_state_spec, policy.info_spec)
        self.policy = policy
        self._key = jax.random.PRNGKey(seed)
        self._obs_specs = array_spec.to_jax_spec(policy.time_step_spec)
        dtypes = array_spec.map_spec(lambda s: s.dtype, action_spec)

        def act(params, time_step, policy_state, key):
            key, action_key = jax.random.split(key)
            step = policy.action(params, time_step, policy_state, action_key)
            return step, key

        self._act = jax.jit(act) if use_jit else act
        self._dtypes = dtypes

    def get_initial_state(self, batch_size=None):
        return jax.tree.map(np.asarray, self.policy.get_initial_state(batch_size))

    def _action(self, time_step, policy_state) -> PolicyStep:
        time_step = jax.tree.map(lambda spec, x: np.asarray(x, spec.dtype), self._obs_specs, time_step,
                                 is_leaf=lambda x: isinstance(x, array_spec.ArraySpec))
        step, self._key = self._act(self.policy.params, time_step, policy_state, self._key)
        action = jax.tree.map(lambda dtype, a: np.asarray(a).astype(dtype), self._dtypes, step.action)
        return PolicyStep(action, jax.tree.map(np.asarray, step.state), jax.tree.map(np.asarray, step.info))
