"""`ScriptedPyPolicy`: plays a fixed script of actions; a stateful policy."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from agentax.policies.py_policy import PyPolicy
from agentax.specs import array_spec
from agentax.trajectories.policy_step import PolicyStep


class ScriptedPyPolicy(PyPolicy):
    """Plays `action_script`, a list of `(num_repeats, action)`, then repeats the last action.

    The policy state is the number of actions taken so far in the episode
    (int64 scalar); `get_initial_state()` restarts the script. Unbatched only.
    """

    def __init__(self, time_step_spec, action_spec, action_script: Sequence[tuple[int, object]]):
        super().__init__(time_step_spec, action_spec,
                         policy_state_spec=array_spec.ArraySpec((), np.int64, name="script_position"))
        if not action_script:
            raise ValueError("ScriptedPyPolicy: `action_script` must hold at least one (num_repeats, action)")
        self._script = []
        for num_repeats, action in action_script:
            if num_repeats < 1:
                raise ValueError(f"ScriptedPyPolicy: `num_repeats` must be >= 1, got {num_repeats}")
            array_spec.validate(action_spec, action, "action_script action")
            self._script.extend([action] * int(num_repeats))

    def _action(self, time_step, policy_state) -> PolicyStep:
        position = int(policy_state) if np.size(policy_state) else 0
        action = self._script[min(position, len(self._script) - 1)]
        return PolicyStep(action, np.int64(position + 1), ())


class FixedPolicy(PyPolicy):
    """Always returns `action` (tiled over the batch dimensions of the time step)."""

    def __init__(self, time_step_spec, action_spec, action):
        super().__init__(time_step_spec, action_spec)
        array_spec.validate(action_spec, action, "action")
        self._fixed = action

    def _action(self, time_step, policy_state) -> PolicyStep:
        outer = np.shape(time_step.step_type)
        action = self._fixed if not outer else np.broadcast_to(self._fixed, outer + np.shape(self._fixed)).copy()
        return PolicyStep(action, policy_state, ())
