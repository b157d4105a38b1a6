"""`Trajectory` (one step as observers see it) and `Transition`."""

from __future__ import annotations

from typing import Any, NamedTuple

from agentax.trajectories.policy_step import PolicyStep
from agentax.trajectories.time_step import StepType, TimeStep


class Trajectory(NamedTuple):
    """One transition, flattened: `step_type` and `observation` come from the
    time step the action was taken in; `reward`, `discount` and `next_step_type`
    from the time step that followed."""

    step_type: Any
    observation: Any
    action: Any
    policy_info: Any
    next_step_type: Any
    reward: Any
    discount: Any

    def is_first(self):
        return self.step_type == StepType.FIRST

    def is_mid(self):
        return (self.step_type == StepType.MID) & (self.next_step_type == StepType.MID)

    def is_last(self):
        """The transition that ends an episode (its next step is LAST)."""
        return self.next_step_type == StepType.LAST

    def is_boundary(self):
        """The transition from a LAST step to the next episode's FIRST step."""
        return self.step_type == StepType.LAST


class Transition(NamedTuple):
    """`(time_step, action_step, next_time_step)`: what transition observers get."""

    time_step: TimeStep
    action_step: PolicyStep
    next_time_step: TimeStep


def from_transition(time_step: TimeStep, action_step: PolicyStep, next_time_step: TimeStep) -> Trajectory:
    """The `Trajectory` for one step of the environment."""
    return Trajectory(
        step_type=time_step.step_type,
        observation=time_step.observation,
        action=action_step.action,
        policy_info=action_step.info,
        next_step_type=next_time_step.step_type,
        reward=next_time_step.reward,
        discount=next_time_step.discount,
    )


def trajectory_spec(time_step_spec: TimeStep, action_spec, policy_info_spec=()) -> Trajectory:
    """The `Trajectory` of specs a policy on an environment produces."""
    return Trajectory(
        step_type=time_step_spec.step_type,
        observation=time_step_spec.observation,
        action=action_spec,
        policy_info=policy_info_spec,
        next_step_type=time_step_spec.step_type,
        reward=time_step_spec.reward,
        discount=time_step_spec.discount,
    )
