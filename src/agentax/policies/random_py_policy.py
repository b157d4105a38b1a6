"""`RandomPyPolicy`: uniform random actions within the action spec's bounds."""

from __future__ import annotations

import numpy as np

from agentax.policies.py_policy import PyPolicy, outer_dims_of
from agentax.specs import array_spec
from agentax.trajectories.policy_step import PolicyStep
from agentax.trajectories.time_step import new_named_tuple


class RandomPyPolicy(PyPolicy):
    """Samples actions uniformly from `action_spec`, seeded by `seed`.

    Batch dimensions follow the time step (`outer_dims` overrides them).
    """

    def __init__(self, time_step_spec, action_spec, seed: int | None = None,
                 outer_dims: tuple[int, ...] | None = None, policy_state_spec=()):
        super().__init__(time_step_spec, action_spec, policy_state_spec)
        self._rng = np.random.default_rng(seed)
        self._outer_dims = None if outer_dims is None else tuple(outer_dims)
        leaves = array_spec.flatten(action_spec)
        single = leaves[0] if len(leaves) == 1 and leaves[0] is action_spec else None
        # Fast path: one scalar discrete spec (e.g. CartPole's action).
        if (single is not None and single.shape == () and array_spec.is_discrete(single)
                and isinstance(single, array_spec.BoundedArraySpec)):
            self._discrete = (int(single.minimum), int(single.maximum), single.dtype)
        else:
            self._discrete = None
        self._block = iter(())  # pre-drawn discrete actions
        self._block_outer: tuple[int, ...] | None = None

    def _draw_discrete(self, outer: tuple[int, ...]):
        """One batch of discrete actions, drawn from blocks of 1024 for speed (unbatched:
        NumPy scalars of the spec's dtype, unpacked in one go)."""
        if outer is self._block_outer or outer == self._block_outer:
            action = next(self._block, None)
            if action is not None:
                return action
        low, high, dtype = self._discrete
        block = self._rng.integers(low, high, size=(1024,) + outer, dtype=dtype, endpoint=True)
        self._block, self._block_outer = iter(list(block) if not outer else block), outer
        return next(self._block)

    def _action(self, time_step, policy_state) -> PolicyStep:
        outer = self._outer_dims
        if outer is None:
            step_type = time_step.step_type
            outer = step_type.shape if type(step_type) is np.ndarray else outer_dims_of(time_step)
        if self._discrete is not None:
            action = self._draw_discrete(outer)
        else:
            action = array_spec.sample_spec_nest(self._action_spec, self._rng, outer)
        return new_named_tuple(PolicyStep, (action, policy_state, ()))  # PolicyStep, built cheaply
