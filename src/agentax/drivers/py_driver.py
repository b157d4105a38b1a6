"""`PyDriver`: runs a Python policy in a Python environment and feeds observers."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from agentax.drivers import checks
from agentax.environments.jax_environment import JaxEnvironment, StatefulJaxEnvironment
from agentax.environments.py_environment import PyEnvironment
from agentax.policies.py_policy import PyPolicy
from agentax.trajectories import time_step as ts
from agentax.trajectories.policy_step import PolicyStep
from agentax.trajectories.time_step import new_named_tuple
from agentax.trajectories.trajectory import Trajectory, Transition

_LAST = int(ts.StepType.LAST)
_FIRST = int(ts.StepType.FIRST)


class PyDriver:
    """Steps `env` with `policy` until `max_steps` steps or `max_episodes` episodes.

    Steps are counted as `~traj.is_boundary()` and episodes as `traj.is_boundary()`
    (or `traj.is_last()` when `end_episode_on_boundary=False`), summed over the
    batch. A limit of 0 or None is unset; at least one must be set. Each step,
    `transition_observers` get a `Transition(time_step, policy_step, next_time_step)`, then
    `observers` get the `Trajectory`, then `info_observers` get `env.get_info()`;
    the policy step they see carries the policy state the action was taken with.
    """

    def __init__(self, env: PyEnvironment, policy: PyPolicy, observers: Sequence[Callable] | None = None,
                 transition_observers: Sequence[Callable] | None = None,
                 info_observers: Sequence[Callable] | None = None,
                 max_steps: int | None = None, max_episodes: int | None = None,
                 end_episode_on_boundary: bool = True):
        max_steps = checks.count_limit("PyDriver", "max_steps", max_steps, 0)
        max_episodes = checks.count_limit("PyDriver", "max_episodes", max_episodes, 0)
        if not max_steps and not max_episodes:
            raise ValueError("PyDriver: set `max_steps` or `max_episodes` (or both) to a positive number; "
                             f"got max_steps={max_steps!r}, max_episodes={max_episodes!r}")
        if isinstance(env, (JaxEnvironment, StatefulJaxEnvironment)):
            raise TypeError(f"PyDriver: `env` is a compiled environment ({type(env).__name__}); "
                            "drive it with DynamicStepDriver / DynamicEpisodeDriver, or pass a PyEnvironment")
        if not callable(getattr(policy, "action", None)):
            raise TypeError(f"PyDriver: `policy` must be a policy (with `action(time_step, policy_state)`), "
                            f"got {type(policy).__name__}")
        self.env = env
        self.policy = policy
        self.observers = checks.callables("PyDriver", "observers", observers)
        self.transition_observers = checks.callables("PyDriver", "transition_observers", transition_observers)
        self.info_observers = checks.callables("PyDriver", "info_observers", info_observers)
        self._max_steps = max_steps or np.inf
        self._max_episodes = max_episodes or np.inf
        self._end_episode_on_boundary = end_episode_on_boundary

    def run(self, time_step: ts.TimeStep, policy_state=()):
        """Run from `time_step`; return the final `(time_step, policy_state)`."""
        if not isinstance(time_step, ts.TimeStep):
            raise TypeError(f"PyDriver.run: `time_step` must be a TimeStep (e.g. env.reset()), got {time_step!r}")
        env, policy = self.env, self.policy
        act, env_step = policy.action, env.step  # bound once: this loop is the hot path
        observers, transition_observers = self.observers, self.transition_observers
        info_observers = self.info_observers
        batched = env.batched
        on_boundary = self._end_episode_on_boundary
        max_steps, max_episodes = self._max_steps, self._max_episodes
        num_steps = num_episodes = 0
        # Unbatched step types are compared as Python ints, converted once per step:
        # 0-d array comparisons cost ten times more, and this loop is the hot path.
        step_type = None if batched else int(time_step.step_type)
        while num_steps < max_steps and num_episodes < max_episodes:
            if step_type == _FIRST and num_episodes > 0:
                policy_state = policy.get_initial_state(None)
            action_step = act(time_step, policy_state)
            next_time_step = env_step(action_step.action)
            # `trajectory.from_transition`, inlined and built without NamedTuple's `__new__`.
            traj = new_named_tuple(Trajectory, (time_step.step_type, time_step.observation, action_step.action,
                                                action_step.info, next_time_step.step_type, next_time_step.reward,
                                                next_time_step.discount))
            if transition_observers:
                transition = Transition(time_step, PolicyStep(action_step.action, policy_state, action_step.info),
                                        next_time_step)
                for observer in transition_observers:
                    observer(transition)
            for observer in observers:
                observer(traj)
            if info_observers:
                info = env.get_info()
                for observer in info_observers:
                    observer(info)
            if batched:
                steps, episodes = self._batch_counts(traj)
                num_steps += steps
                num_episodes += episodes
                next_type = None
            else:
                next_type = int(next_time_step.step_type)
                if step_type == _LAST:
                    num_episodes += on_boundary
                else:
                    num_steps += 1
                    num_episodes += (not on_boundary) and next_type == _LAST
            time_step, step_type, policy_state = next_time_step, next_type, action_step.state
        return time_step, policy_state

    def _batch_counts(self, traj: Trajectory) -> tuple[int, int]:
        """Steps and episodes one batched trajectory adds, summed over the batch."""
        boundary = traj.step_type == _LAST
        ended = boundary if self._end_episode_on_boundary else traj.next_step_type == _LAST
        return int(np.sum(~boundary)), int(np.sum(ended))
