"""What Python and compiled policies share: their specs."""

from __future__ import annotations

from agentax.trajectories import time_step as ts


class PolicySpecs:
    """Holds `time_step_spec`, `action_spec`, `policy_state_spec` and `info_spec`."""

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, policy_state_spec=(), info_spec=()):
        self._time_step_spec = time_step_spec
        self._action_spec = action_spec
        self._policy_state_spec = policy_state_spec
        self._info_spec = info_spec

    @property
    def time_step_spec(self) -> ts.TimeStep:
        return self._time_step_spec

    @property
    def action_spec(self):
        return self._action_spec

    @property
    def policy_state_spec(self):
        return self._policy_state_spec

    @property
    def info_spec(self):
        return self._info_spec
