import numpy as np
import pytest

from agentax.drivers import DynamicEpisodeDriver, PyDriver
from agentax.environments import BatchedPyEnvironment
from agentax.policies import FixedPolicy
from agentax.replay_buffers import EpisodicReplayBuffer
from agentax.replay_buffers.trajectory_recorder import TrajectoryRecorder
from agentax.trajectories import StepType, trajectory_spec

from helpers import CountingJaxPolicy, FixedLengthEnv, FixedLengthJaxEnv


def collect(buffer, lengths, max_steps):
    env = BatchedPyEnvironment([FixedLengthEnv(n) for n in lengths])
    policy = FixedPolicy(env.time_step_spec(), env.action_spec(), np.int64(0))
    return PyDriver(env, policy, [buffer.observer], max_steps=max_steps).run(env.reset())


def test_observer_stores_whole_episodes_ending_with_their_boundary():
    buffer = EpisodicReplayBuffer(capacity=10, seed=0)
    collect(buffer, [3, 5], max_steps=13)
    # A (3): episodes close at iterations 4 and 8; B (5): at 6. Partial episodes are not stored.
    assert buffer.num_episodes == 3
    experience, mask = buffer.gather_all()
    lengths = mask.sum(axis=1).astype(int).tolist()
    assert lengths == [4, 6, 4]  # steps + boundary
    for row, n in zip(range(3), lengths):
        assert experience.step_type[row, 0] == StepType.FIRST
        assert experience.step_type[row, n - 1] == StepType.LAST  # the boundary step
        assert experience.next_step_type[row, n - 2] == StepType.LAST
        np.testing.assert_array_equal(experience.observation[row, :n - 1], np.arange(n - 1))


def test_padding_and_masks():
    buffer = EpisodicReplayBuffer(capacity=10, seed=0)
    collect(buffer, [3, 5], max_steps=10)  # 6 iterations: episodes close at 4 (A) and 6 (B)
    experience, mask = buffer.gather_all()
    assert experience.step_type.shape == (2, 16)  # padded to a power of two (at least 16)
    pad = mask == 0
    assert (experience.step_type[pad] == StepType.LAST).all()
    assert (experience.next_step_type[pad] == StepType.FIRST).all()
    assert (experience.reward[pad] == 0).all()


def test_fifo_eviction_and_clear():
    buffer = EpisodicReplayBuffer(capacity=2, seed=0)
    collect(buffer, [3, 5], max_steps=13)  # three episodes in order: A, B, A
    assert buffer.num_episodes == 2
    _, mask = buffer.gather_all()
    assert mask.sum(axis=1).tolist() == [6, 4]  # the first A was evicted
    buffer.clear()
    assert buffer.num_episodes == 0
    with pytest.raises(ValueError, match="no complete episode"):
        buffer.sample(1)


def test_uniform_sampling_is_seeded_and_covers_the_buffer():
    def draws(seed):
        buffer = EpisodicReplayBuffer(capacity=10, seed=seed)
        collect(buffer, [1, 2, 3], max_steps=30)
        _, mask = buffer.sample(400)
        return mask.sum(axis=1)

    a, b = draws(1), draws(1)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a).tolist()) == {2, 3, 4}  # episodes of lengths 1, 2, 3 plus boundary


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
