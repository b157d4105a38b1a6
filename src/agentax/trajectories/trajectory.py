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


def to_transition(trajectory: Trajectory, next_trajectory: Trajectory | None = None) -> Transition:
    """`(time_steps, policy_steps, next_time_steps)` from a `[B, T]` trajectory (pairs of
    adjacent steps, `T - 1` of them) or from two adjacent trajectories, as TF-Agents.

    `time_steps.{reward, discount}` cannot be known and are zeros."""
    import jax
    import jax.numpy as jnp

    if next_trajectory is None:
        next_trajectory = jax.tree.map(lambda x: x[:, 1:], trajectory)
        trajectory = jax.tree.map(lambda x: x[:, :-1], trajectory)
    time_steps = TimeStep(trajectory.step_type, jax.tree.map(jnp.zeros_like, trajectory.reward),
                          jnp.zeros_like(trajectory.discount), trajectory.observation)
    policy_steps = PolicyStep(trajectory.action, (), trajectory.policy_info)
    next_time_steps = TimeStep(trajectory.next_step_type, trajectory.reward, trajectory.discount,
                               next_trajectory.observation)
    return Transition(time_steps, policy_steps, next_time_steps)


def to_n_step_transition(trajectory: Trajectory, gamma) -> Transition:
    """An n-step `Transition` from a `[B, T]` trajectory, `N = T - 1`, as TF-Agents computes it.

    `next_time_step.reward = sum_{n<N} gamma^n d_0 ... d_{n-1} r_n` and
    `next_time_step.discount = gamma^(N-1) * d_0 ... d_{N-1}` (one gamma fewer than
    discounts, so a learner applying its own gamma does not apply it twice);
    `next_time_step.{step_type, observation}` are the last frame's, `time_step.{reward,
    discount}` are NaN (unknown). As in TF-Agents, episode boundaries inside the window
    are not treated specially.
    """
    import jax
    import jax.numpy as jnp

    from agentax.utils.value_ops import discounted_return

    if jnp.ndim(trajectory.discount) != 2:
        raise ValueError(f"to_n_step_transition: `trajectory.discount` must have shape [B, T], "
                         f"got {jnp.shape(trajectory.discount)}")
    time_dim = jnp.shape(trajectory.discount)[1]
    if time_dim < 2:
        raise ValueError(f"to_n_step_transition: the trajectory must have at least 2 frames, got {time_dim}")
    n = time_dim - 1
    first = jax.tree.map(lambda x: x[:, 0], trajectory)
    final = jax.tree.map(lambda x: x[:, -1], trajectory)
    discount = jnp.asarray(trajectory.discount[:, :-1], jnp.float32)
    reward = discounted_return(jnp.asarray(trajectory.reward[:, :-1], jnp.float32), gamma * discount,
                               time_major=False, provide_all_returns=False)
    final_discount = gamma ** (n - 1) * jnp.prod(discount, axis=1)
    time_steps = TimeStep(first.step_type, jax.tree.map(lambda r: jnp.full(jnp.shape(r), jnp.nan), first.reward),
                          jnp.full(jnp.shape(first.discount), jnp.nan), first.observation)
    next_time_steps = TimeStep(final.step_type, reward, final_discount, final.observation)
    return Transition(time_steps, PolicyStep(first.action, (), first.policy_info), next_time_steps)
