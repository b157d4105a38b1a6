"""`PyEnvironment`: a stateful Python environment that auto-resets.

Subclasses write `observation_spec()`, `action_spec()`, `_reset()` and
`_step(action)`; the base class validates actions and handles auto-reset, so
`_step` never sees a step after LAST.
"""

from __future__ import annotations

import abc

import numpy as np

from agentax.environments.environment_specs import EnvironmentSpecs
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts

_LAST = int(ts.StepType.LAST)


class PyEnvironment(EnvironmentSpecs):
    """Base class for Python environments (mirrors `tf_agents.environments.PyEnvironment`).

    `step(action)` after a LAST time step ignores `action` and returns the FIRST
    time step of a new episode (auto-reset). Actions are checked against
    `action_spec()`: a dtype that casts losslessly is converted (`np.int32(1)` or
    `1` for an int64 spec); a lossy dtype, a wrong shape or an out-of-bounds value
    raises `ValueError` naming the spec and the value.
    """

    # Batched environments whose members reset themselves set this to True.
    _handles_auto_reset = False

    def __init__(self, validate_actions: bool = True):
        self._current_time_step: ts.TimeStep | None = None
        self._validate_actions = validate_actions
        self._single_action_spec: array_spec.ArraySpec | None | bool = None  # found on first step

    @property
    def batched(self) -> bool:
        return False

    @property
    def batch_size(self) -> int | None:
        return None

    # ---- the loop
    def current_time_step(self) -> ts.TimeStep:
        """The last time step returned (resets first if there is none)."""
        if self._current_time_step is None:
            return self.reset()
        return self._current_time_step

    def reset(self) -> ts.TimeStep:
        """Start a new episode and return its FIRST time step."""
        self._current_time_step = self._reset()
        return self._current_time_step

    def step(self, action) -> ts.TimeStep:
        """Apply `action`; after a LAST step, ignore it and return FIRST."""
        current = self._current_time_step
        # int() first: comparing a 0-d array is ten times slower, and this runs every step.
        if current is None or (not self._handles_auto_reset and int(current.step_type) == _LAST):
            return self.reset()
        if self._validate_actions:
            action = self._check_action(action)
        self._current_time_step = self._step(action)
        return self._current_time_step

    def _check_action(self, action):
        """`action` in the spec's dtypes (lossless casts only), or `ValueError`."""
        if self._single_action_spec is None:
            self._single_action_spec = self._fast_action_check()
        fast = self._single_action_spec
        if fast:  # one spec: a NumPy scalar of its type within bounds, or an array that fits exactly
            scalar_type, low, high, spec, shape = fast
            if type(action) is scalar_type:
                if low <= action <= high:
                    return action
            elif (type(action) is np.ndarray and action.shape == shape and action.dtype == spec.dtype
                  and (not isinstance(spec, array_spec.BoundedArraySpec)
                       or (np.all(action >= spec.minimum) and np.all(action <= spec.maximum)))):
                return action
        outer = (self.batch_size,) if self.batched else ()
        return array_spec.conform(self.action_spec(), action, "action", outer_dims=outer)  # raises with details

    def _fast_action_check(self):
        """`(scalar type, low, high, spec, batched shape)` when the action spec is one spec,
        else False; the scalar fields are None unless it is an unbatched bounded scalar."""
        leaves = array_spec.flatten(self.action_spec())
        if len(leaves) != 1 or None in leaves[0].shape:
            return False
        spec = leaves[0]
        shape = ((self.batch_size,) if self.batched else ()) + spec.shape
        if shape != () or not isinstance(spec, array_spec.BoundedArraySpec):
            return (None, None, None, spec, shape)  # arrays only
        return (spec.dtype.type, spec.minimum.item(), spec.maximum.item(), spec, shape)

    @abc.abstractmethod
    def _reset(self) -> ts.TimeStep:
        """Start an episode; return its FIRST time step."""

    @abc.abstractmethod
    def _step(self, action) -> ts.TimeStep:
        """Apply a valid action within an episode; return the next time step."""

    # ---- extras
    def get_info(self):
        """Extra information from the last step (environment specific)."""
        raise NotImplementedError(f"{type(self).__name__} does not provide get_info()")

    def render(self, mode: str = "rgb_array"):
        """An RGB frame (H, W, 3) uint8 of the current state."""
        raise NotImplementedError(f"{type(self).__name__} does not support render()")

    def seed(self, seed: int):
        """Seed the environment's randomness (applied at the next reset)."""
        raise NotImplementedError(f"{type(self).__name__} does not support seed()")

    def close(self) -> None:
        """Release resources (processes, windows)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
