"""ReverbReplayBuffer: as_dataset shapes, num_steps rules, info, priorities, clear, timeouts."""

import numpy as np
import pytest

from agentax import reverb
from agentax.replay_buffers import reverb_utils
from agentax.replay_buffers.reverb_replay_buffer import ReverbReplayBuffer
from agentax.reverb import rate_limiters, selectors
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import StepType, Trajectory

SPEC = Trajectory(ArraySpec((), np.int32), ArraySpec((2,), np.float32), BoundedArraySpec((), np.int64, 0, 1),
                  (), ArraySpec((), np.int32), ArraySpec((), np.float32), ArraySpec((), np.float32))


def traj(i, step_type=StepType.MID, next_step_type=StepType.MID):
    return Trajectory(np.int32(step_type), np.full(2, i, np.float32), np.int64(i % 2), (),
                      np.int32(next_step_type), np.float32(i), np.float32(1))


def setup(sequence_length=4, sampler=None, max_size=100, timeout_ms=200, n=20):
    table = reverb.Table("experience", sampler or selectors.Uniform(seed=0), selectors.Fifo(), max_size,
                         rate_limiters.MinSize(1))
    server = reverb.Server([table])
    rb = ReverbReplayBuffer(SPEC, "experience", sequence_length, local_server=server,
                            rate_limiter_timeout_ms=timeout_ms)
    obs = reverb_utils.ReverbTrajectorySequenceObserver(rb.py_client, "experience", sequence_length,
                                                        stride_length=sequence_length)
    for i in range(n):
        obs(traj(i))
    return server, rb


def test_constructor_needs_exactly_one_server():
    with pytest.raises(ValueError, match="Exactly one"):
        ReverbReplayBuffer(SPEC, "experience", 2)


def test_as_dataset_gives_batches_of_sequences_with_info_along_time():
    _, rb = setup()
    assert rb.num_frames() == 5 and rb.capacity == 100
    it = iter(rb.as_dataset(sample_batch_size=3, seed=0))
    experience, info = next(it)
    assert experience.observation.shape == (3, 4, 2) and experience.action.shape == (3, 4)
    assert info.key.shape == (3, 4) and info.probability.shape == (3, 4)
    np.testing.assert_allclose(info.probability, 0.2)
    assert np.all(info.key == info.key[:, :1])
    starts = experience.reward[:, 0]
    np.testing.assert_array_equal(experience.reward, starts[:, None] + np.arange(4))  # sequential steps
    assert set(starts.tolist()) <= {0.0, 4.0, 8.0, 12.0, 16.0}
    it.close()


def test_prefetch_gives_the_same_batches_and_checks_its_argument():
    (_, rb), (_, twin) = setup(), setup()  # the table's seeded sampler draws the items
    plain = twin.as_dataset(sample_batch_size=3, seed=0)
    dataset = rb.as_dataset(sample_batch_size=3, seed=0)
    assert dataset.prefetch(3) is dataset and dataset.prefetch(-1) is dataset  # -1: tf.data.AUTOTUNE
    for _ in range(4):
        np.testing.assert_array_equal(next(plain)[0].reward, next(dataset)[0].reward)
    for bad in (-2, 1.5, "3", True):
        with pytest.raises(ValueError, match="buffer_size"):
            dataset.prefetch(bad)
    plain.close()
    dataset.close()


def test_num_steps_splits_sequences_and_is_validated():
    _, rb = setup()
    experience, info = next(iter(rb.as_dataset(sample_batch_size=5, num_steps=2, seed=0)))
    assert experience.reward.shape == (5, 2) and info.key.shape == (5, 2)
    np.testing.assert_array_equal(experience.reward[:, 1] - experience.reward[:, 0], 1.0)
    assert set((experience.reward[:, 0] % 2).tolist()) == {0.0}  # rows start at even offsets of a sequence
    with pytest.raises(ValueError, match="num_steps > sequence_length"):
        rb.as_dataset(2, num_steps=8)
    with pytest.raises(ValueError, match="not a multiple"):
        rb.as_dataset(2, num_steps=3)
    with pytest.raises(ValueError, match="num_parallel_calls"):
        rb.as_dataset(2, num_parallel_calls=3)


def episodes_buffer(max_times_sampled):
    table = reverb.Table("experience", selectors.Fifo(), selectors.Fifo(), 10, rate_limiters.MinSize(1),
                         max_times_sampled=max_times_sampled)
    server = reverb.Server([table])
    rb = ReverbReplayBuffer(SPEC, "experience", None, local_server=server, rate_limiter_timeout_ms=100)
    obs = reverb_utils.ReverbAddEpisodeObserver(rb.py_client, "experience", 10)
    for ep_len, base in ((2, 0), (3, 10)):
        for k in range(ep_len):
            obs(traj(base + k, StepType.FIRST if k == 0 else StepType.MID,
                     StepType.LAST if k == ep_len - 1 else StepType.MID))
        obs(traj(base + ep_len, StepType.LAST, StepType.FIRST))
    return server, rb


def test_unbatched_dataset_and_episodes_of_different_lengths():
    _, rb = episodes_buffer(0)
    experience, info = next(iter(rb.as_dataset(single_deterministic_pass=True)))
    assert experience.reward.tolist() == [0.0, 1.0, 2.0] and info.key.shape == (3,)
    _, rb = episodes_buffer(1)  # fifo, each once: the two episodes, of lengths 3 and 4
    with pytest.raises(ValueError, match="different lengths"):
        next(iter(rb.as_dataset(sample_batch_size=2, single_deterministic_pass=True)))


def test_update_priorities_clear_and_timeout_ending_the_iteration():
    _, rb = setup(sampler=selectors.Prioritized(1.0, seed=0))
    experience, info = next(iter(rb.as_dataset(sample_batch_size=4, seed=0)))
    keys = rb.py_client.get_state()["experience"]["keys"]
    rb.update_priorities(keys, [0.0, 0.0, 0.0, 0.0, 1.0])
    experience, info = next(iter(rb.as_dataset(sample_batch_size=4, seed=0)))
    np.testing.assert_array_equal(experience.reward[:, 0], 16.0)
    np.testing.assert_allclose(info.probability, 1.0)
    rb.clear()
    assert rb.num_frames() == 0
    with pytest.raises(StopIteration):
        next(iter(rb.as_dataset(sample_batch_size=2)))
    with pytest.raises(NotImplementedError):
        rb.add_batch(None)


def test_data_spec_mismatch_is_reported():
    table = reverb.Table("experience", selectors.Uniform(), selectors.Fifo(), 10, rate_limiters.MinSize(1))
    server = reverb.Server([table])
    wrong = SPEC._replace(observation=ArraySpec((3,), np.float32))
    rb = ReverbReplayBuffer(wrong, "experience", 1, local_server=server, rate_limiter_timeout_ms=100)
    reverb_utils.ReverbAddTrajectoryObserver(rb.py_client, "experience", 1)(traj(0))
    with pytest.raises(ValueError, match="data_spec"):
        next(iter(rb.as_dataset(sample_batch_size=1)))
