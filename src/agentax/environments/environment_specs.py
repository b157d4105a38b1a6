"""What Python and compiled environments share: the specs they declare."""

from __future__ import annotations

import abc

import numpy as np

from agentax.specs import array_spec
from agentax.trajectories import time_step as ts


class EnvironmentSpecs(abc.ABC):
    """Subclasses declare `observation_spec()` and `action_spec()`; the rest follows."""

    @abc.abstractmethod
    def observation_spec(self):
        """The nest of specs of one (unbatched) observation."""

    @abc.abstractmethod
    def action_spec(self):
        """The nest of specs of one (unbatched) action."""

    def reward_spec(self):
        return array_spec.ArraySpec((), np.float32, name="reward")

    def discount_spec(self):
        return array_spec.BoundedArraySpec((), np.float32, 0.0, 1.0, name="discount")

    def time_step_spec(self) -> ts.TimeStep:
        return ts.time_step_spec(self.observation_spec(), self.reward_spec(), self.discount_spec())
