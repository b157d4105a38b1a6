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

    It reads `policy.params` on every call, so parameter updates are seen at once and
    never recompile. Keys come from the wrapped policy's own stream (so a wrapper
    rebuilt in every loop iteration, as the REINFORCE tutorial does, continues the
    stream instead of restarting it), or from a stream of its own when `seed` is
    given. The compiled function is cached on the wrapped policy (`use_jit=False`
    runs it eagerly). Actions come back as NumPy arrays in the action spec's dtype
    (e.g. int64 for Gymnasium's Discrete); the spec is the wrapped policy's unless
    `action_spec` is given. `use_tf_function` (TF-Agents' name) is an alias of `use_jit`;
    `batch_time_steps` is accepted for ported code (networks take batched or unbatched
    time steps alike).
    """

    def __init__(self, policy: JaxPolicy, use_jit: bool | None = None, seed: int | None = None,
                 action_spec=None, use_tf_function: bool | None = None, batch_time_steps: bool = True):
        """`action_spec`: the Python side's spec when its dtypes differ from the policy's
        (e.g. a policy trained on the JAX CartPole, int32, run on Gymnasium's, int64)."""
        if not isinstance(policy, JaxPolicy):
            raise TypeError(f"PyJaxPolicy: `policy` must be a JaxPolicy (e.g. agent.policy), got {type(policy).__name__}")
        if action_spec is not None:
            mine = array_spec.flatten(policy.action_spec)
            theirs = array_spec.flatten(action_spec)
            if len(mine) != len(theirs) or any(a.shape != b.shape for a, b in zip(mine, theirs)):
                raise ValueError(f"PyJaxPolicy: `action_spec` {action_spec} does not match the shapes of the "
                                 f"policy's action spec {policy.action_spec}")
        action_spec = policy.action_spec if action_spec is None else action_spec
        super().__init__(policy.time_step_spec, action_spec, policy.policy_state_spec, policy.info_spec)
        self.policy = policy
        jit = True if use_jit is None and use_tf_function is None else bool(use_jit or use_tf_function)
        self._act = policy.jitted_action if jit else policy.action_and_next_key
        self._key = None if seed is None else jax.random.PRNGKey(int(seed))  # None: the policy's stream
        self._obs_specs = array_spec.to_jax_spec(policy.time_step_spec)
        self._dtypes = array_spec.map_spec(lambda s: s.dtype, action_spec)

    def get_initial_state(self, batch_size=None):
        return jax.tree.map(np.asarray, self.policy.get_initial_state(batch_size))

    def _action(self, time_step, policy_state) -> PolicyStep:
        time_step = jax.tree.map(lambda spec, x: np.asarray(x, spec.dtype), self._obs_specs, time_step,
                                 is_leaf=lambda x: isinstance(x, array_spec.ArraySpec))
        policy = self.policy
        own_stream = self._key is not None
        step, key = self._act(policy.params, time_step, policy_state, self._key if own_stream else policy.rng_key)
        if own_stream:
            self._key = key
        else:
            policy.rng_key = key
        action = jax.tree.map(lambda dtype, a: np.asarray(a).astype(dtype), self._dtypes, step.action)
        return PolicyStep(action, jax.tree.map(np.asarray, step.state), jax.tree.map(np.asarray, step.info))
