import jax
import numpy as np
import pytest

from agentax.drivers import DynamicEpisodeDriver, PyDriver
from agentax.environments import BatchedPyEnvironment
from agentax.policies import FixedPolicy
from agentax.replay_buffers import pad_episodes
from agentax.replay_buffers.trajectory_recorder import TrajectoryRecorder
from agentax.trajectories import StepType, trajectory_spec

from helpers import CountingJaxPolicy, FixedLengthEnv, FixedLengthJaxEnv


def collect(observer, lengths, max_steps):
    env = BatchedPyEnvironment([FixedLengthEnv(n) for n in lengths])
    policy = FixedPolicy(env.time_step_spec(), env.action_spec(), np.int64(0))
    return PyDriver(env, policy, [observer], max_steps=max_steps).run(env.reset())


def test_pad_episodes_stacks_whole_episodes_with_padding_and_masks():
    steps = []
    collect(steps.append, [3, 5], max_steps=10)  # A (3) ends at iteration 4, B (5) at 6
    rows = [jax.tree.map(lambda x, i=i: x[:, i], jax.tree.map(lambda *xs: np.stack(xs), *steps)) for i in (0, 1)]
    episodes = [jax.tree.map(lambda x: x[:4], rows[0]), jax.tree.map(lambda x: x[:6], rows[1])]
    experience, mask = pad_episodes(episodes)
    assert experience.step_type.shape == (2, 16)  # padded to a power of two (at least 16)
    assert mask.sum(axis=1).tolist() == [4, 6]
    assert experience.step_type[0, 3] == StepType.LAST and experience.next_step_type[0, 2] == StepType.LAST
    pad = mask == 0
    assert (experience.step_type[pad] == StepType.LAST).all()
    assert (experience.next_step_type[pad] == StepType.FIRST).all()
    assert (experience.reward[pad] == 0).all()
    exact, _ = pad_episodes(episodes, pad_to_power_of_two=False)
    assert exact.step_type.shape == (2, 6)
    with pytest.raises(ValueError, match="`episodes` is empty"):
        pad_episodes([])


def test_trajectory_recorder_records_in_a_compiled_driver():
    env = FixedLengthJaxEnv([3, 5])
    policy = CountingJaxPolicy(env.time_step_spec(), env.action_spec())
    recorder = TrajectoryRecorder(trajectory_spec(env.time_step_spec(), env.action_spec()), capacity=5)
    driver = DynamicEpisodeDriver(env, policy, [recorder], num_episodes=2)
    driver.run()  # 6 iterations: the 6th is dropped (capacity 5)
    data, mask = recorder.batch_major(recorder.state)
    assert data.observation.shape == (2, 5) and int(recorder.state.length) == 5
    np.testing.assert_array_equal(data.observation[0], [0, 1, 2, 3, 0])
    np.testing.assert_array_equal(data.observation[1], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(mask, np.ones((2, 5)))
