"""PyDriver counting semantics, worked out by hand on envs with known episode lengths.

An episode of length 3 gives the trajectories F->M, M->M, M->L and then the
boundary L->F, which is not a step but ends the episode (with
end_episode_on_boundary=True).
"""

import numpy as np
import pytest

from agentax.drivers import PyDriver
from agentax.environments import BatchedPyEnvironment
from agentax.metrics import py_metrics
from agentax.policies import FixedPolicy, RandomPyPolicy, ScriptedPyPolicy
from agentax.trajectories import StepType, Transition

from helpers import FixedLengthEnv


def run(env, max_steps=None, max_episodes=None, end_episode_on_boundary=True, policy=None):
    policy = policy or RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    trajectories = []
    driver = PyDriver(env, policy, [trajectories.append], max_steps=max_steps, max_episodes=max_episodes,
                      end_episode_on_boundary=end_episode_on_boundary)
    final, _ = driver.run(env.reset())
    return trajectories, final


@pytest.mark.parametrize("kwargs,num_traj,final_type", [
    (dict(max_steps=5), 6, StepType.MID),             # 3 steps, boundary, 2 steps
    (dict(max_episodes=1), 4, StepType.FIRST),        # ends on the boundary (reset) step
    (dict(max_episodes=1, end_episode_on_boundary=False), 3, StepType.LAST),
    (dict(max_steps=3, max_episodes=1), 3, StepType.LAST),  # step limit reached first
    (dict(max_episodes=2), 8, StepType.FIRST),
    (dict(max_steps=0, max_episodes=1), 4, StepType.FIRST),  # 0 means unset
])
def test_unbatched_counts(kwargs, num_traj, final_type):
    trajectories, final = run(FixedLengthEnv(3), **kwargs)
    assert len(trajectories) == num_traj
    assert final.step_type == final_type


def test_batched_counts_are_summed_over_the_batch():
    # Lengths 3 and 5. Episodes end (boundary) for env A at iteration 3 and for
    # env B at iteration 5, so two episodes take 6 iterations; non-boundary steps:
    # A: 3 + 2, B: 5 -> 10.
    env = BatchedPyEnvironment([FixedLengthEnv(3), FixedLengthEnv(5)])
    trajectories, final = run(env, max_episodes=2)
    assert len(trajectories) == 6
    assert sum(int(np.sum(~t.is_boundary())) for t in trajectories) == 10
    np.testing.assert_array_equal(final.step_type, [StepType.MID, StepType.FIRST])


def test_batched_step_limit_may_overshoot_but_never_undershoot():
    env = BatchedPyEnvironment([FixedLengthEnv(3), FixedLengthEnv(5)])
    trajectories, _ = run(env, max_steps=5)  # 2 steps per iteration -> 3 iterations, 6 steps
    assert len(trajectories) == 3


def test_both_limits_unset_is_an_error():
    env = FixedLengthEnv(3)
    policy = RandomPyPolicy(env.time_step_spec(), env.action_spec())
    with pytest.raises(ValueError, match="max_steps.*max_episodes"):
        PyDriver(env, policy, [], max_steps=None, max_episodes=0)


def test_policy_state_resets_on_new_episode_and_observers_see_previous_state():
    env = FixedLengthEnv(3)
    policy = ScriptedPyPolicy(env.time_step_spec(), env.action_spec(), [(10, np.int64(1))])
    seen = []
    driver = PyDriver(env, policy, [], transition_observers=[lambda t: seen.append(int(t[1].state))],
                      max_steps=5)
    _, final_state = driver.run(env.reset(), policy.get_initial_state())
    # States the actions were taken with: 0,1,2 in episode 1, 3 at the boundary,
    # then reset to 0 on the new FIRST step.
    assert seen == [0, 1, 2, 3, 0, 1]
    assert int(final_state) == 2


def test_observer_order_transition_then_trajectory_then_info():
    env = FixedLengthEnv(3)
    policy = FixedPolicy(env.time_step_spec(), env.action_spec(), np.int64(0))
    log = []
    driver = PyDriver(env, policy, [lambda t: log.append("traj")],
                      transition_observers=[lambda t: log.append("transition")],
                      info_observers=[lambda info: log.append(("info", info["t"]))], max_steps=2)
    driver.run(env.reset())
    assert log == ["transition", "traj", ("info", 1), "transition", "traj", ("info", 2)]


def test_continuing_from_the_returned_time_step():
    env = FixedLengthEnv(3)
    policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=1)
    steps = py_metrics.EnvironmentSteps()
    episodes = py_metrics.NumberOfEpisodes()
    driver = PyDriver(env, policy, [steps, episodes], max_steps=2)
    time_step, state = driver.run(env.reset())
    time_step, state = driver.run(time_step, state)
    assert steps.result() == 4 and episodes.result() == 1
    assert int(time_step.observation) == 1  # 3 steps + boundary + 1 step


def test_transition_observers_get_a_transition_as_compiled_drivers_give():
    env = FixedLengthEnv(3)
    policy = FixedPolicy(env.time_step_spec(), env.action_spec(), np.int64(0))
    seen = []
    PyDriver(env, policy, [], transition_observers=[seen.append], max_steps=2).run(env.reset())
    assert all(isinstance(t, Transition) for t in seen) and len(seen) == 2
    assert int(seen[0].time_step.step_type) == StepType.FIRST
    assert int(seen[0].next_time_step.observation) == 1 and int(seen[0].action_step.action) == 0
