"""`PyPolicy`: the base class of policies that run in Python on NumPy arrays."""

from __future__ import annotations

import abc

import numpy as np

from agentax.policies.policy_base import PolicySpecs
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.policy_step import PolicyStep


def outer_dims_of(time_step: ts.TimeStep) -> tuple[int, ...]:
    """The batch dimensions of a time step (`step_type` is a scalar per step)."""
    shape = getattr(time_step.step_type, "shape", None)  # an attribute read: this runs every step
    return np.shape(time_step.step_type) if shape is None else tuple(shape)


class PyPolicy(PolicySpecs, abc.ABC):
    """Maps a `TimeStep` (and a policy state) to a `PolicyStep(action, state, info)`.

    Subclasses write `_action(time_step, policy_state)`. Stateful policies give a
    `policy_state_spec`; `get_initial_state(batch_size)` makes zeros of it.
    """

    def get_initial_state(self, batch_size: int | None = None):
        """Zero policy state, with a leading `batch_size` dimension when given."""
        if self._policy_state_spec == ():  # stateless: called at every episode start, keep it cheap
            return ()
        outer = () if batch_size is None else (batch_size,)
        return array_spec.zeros_from_spec(self._policy_state_spec, outer)

    def action(self, time_step: ts.TimeStep, policy_state=()) -> PolicyStep:
        """The action to take in `time_step`."""
        return self._action(time_step, policy_state)

    @abc.abstractmethod
    def _action(self, time_step: ts.TimeStep, policy_state) -> PolicyStep:
        """Subclasses compute the `PolicyStep` here."""
