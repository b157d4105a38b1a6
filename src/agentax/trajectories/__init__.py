"""Time steps, policy steps and trajectories (NamedTuples, so JAX pytrees too)."""

from agentax.trajectories.policy_step import PolicyStep
from agentax.trajectories.time_step import (StepType, TimeStep, restart, termination, time_step_spec,
                                            transition, truncation)
from agentax.trajectories.trajectory import Trajectory, Transition, from_transition, trajectory_spec

__all__ = [
    "PolicyStep", "StepType", "TimeStep", "Trajectory", "Transition", "from_transition",
    "restart", "termination", "time_step_spec", "trajectory_spec", "transition", "truncation",
]
