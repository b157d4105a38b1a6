import multiprocessing as mp
import os
import re
import signal
import time

import numpy as np
import pytest

from agentax.environments import BatchedPyEnvironment, ParallelPyEnvironment, suite_gym
from agentax.environments.parallel_py_environment import WorkerError
from agentax.trajectories import StepType

from helpers import FixedLengthEnv, RaisingEnv


def balance(obs) -> np.int64:
    """A hand-written controller that keeps CartPole up for hundreds of steps."""
    return np.int64(1 if obs[2] + 0.5 * obs[3] > 0 else 0)


def test_cartpole_specs_match_the_reference():
    env = suite_gym.load("CartPole-v0")
    obs_spec, act_spec = env.observation_spec(), env.action_spec()
    assert obs_spec.shape == (4,) and obs_spec.dtype == np.float32 and obs_spec.name == "observation"
    assert act_spec.shape == () and act_spec.dtype == np.int64
    assert int(act_spec.minimum) == 0 and int(act_spec.maximum) == 1
    time_step = env.reset()
    assert time_step.step_type == StepType.FIRST and time_step.observation.dtype == np.float32
    assert env.time_step_spec().observation == obs_spec


def test_termination_gives_discount_zero_and_auto_reset_returns_first():
    env = suite_gym.load("CartPole-v0")
    env.seed(0)
    time_step = env.reset()
    steps = 0
    while not time_step.is_last():
        time_step = env.step(np.int64(1))  # always push right: the pole falls quickly
        steps += 1
    assert steps < 30 and time_step.discount == 0.0
    nxt = env.step(np.int64(1))
    assert nxt.step_type == StepType.FIRST and nxt.reward == 0.0


@pytest.mark.parametrize("env_id,limit", [("CartPole-v0", 200), ("CartPole-v1", 500)])
def test_time_limit_truncates_with_discount_one(env_id, limit):
    env = suite_gym.load(env_id)
    env.seed(1)
    time_step, steps = env.reset(), 0
    while not time_step.is_last():
        time_step = env.step(balance(time_step.observation))
        steps += 1
    assert steps == limit and time_step.discount == 1.0


def test_max_episode_steps_override():
    env = suite_gym.load("CartPole-v1", max_episode_steps=5)
    time_step = env.reset()
    for _ in range(5):
        time_step = env.step(balance(time_step.observation))
    assert time_step.is_last() and time_step.discount == 1.0


def test_seed_gives_the_same_episode_twice():
    env = suite_gym.load("CartPole-v0")

    def episode():
        env.seed(42)
        obs = [env.reset().observation]
        for action in [0, 1, 1, 0, 1, 0, 0, 1]:
            obs.append(env.step(np.int64(action)).observation)
        return np.stack(obs)

    np.testing.assert_array_equal(episode(), episode())


def test_bad_actions_raise_naming_the_spec_and_value():
    env = suite_gym.load("CartPole-v0")
    env.reset()
    with pytest.raises(ValueError, match=r"`action`.*bounds") as err:
        env.step(np.int64(2))
    assert "BoundedArraySpec" in str(err.value)
    with pytest.raises(ValueError, match="dtype float64, expected int64"):
        env.step(np.float64(1.0))
    with pytest.raises(ValueError, match="dtype float64"):
        env.step(1.0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.array([1, 0]))
    assert env.current_time_step().is_first()  # nothing was stepped


def test_unknown_env_id_names_close_matches():
    with pytest.raises(ValueError, match="CartPole-v1"):
        suite_gym.load("CartPole-v9")


def test_render_and_context_manager():
    with suite_gym.load("CartPole-v0") as env:
        env.reset()
        frame = env.render()
        assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8


def test_auto_reset_never_calls_step_after_last():
    env = FixedLengthEnv(2)
    env.reset()
    types = [int(env.step(np.int64(0)).step_type) for _ in range(6)]
    assert types == [1, 2, 0, 1, 2, 0]
    assert env.steps_taken == 4


def test_batched_env_steps_each_member_and_resets_them_independently():
    env = BatchedPyEnvironment([FixedLengthEnv(2), FixedLengthEnv(3)])
    assert env.batched and env.batch_size == 2
    time_step = env.reset()
    assert time_step.step_type.shape == (2,)
    types = [env.step(np.zeros(2, np.int64)).step_type.tolist() for _ in range(4)]
    assert types == [[1, 1], [2, 1], [0, 2], [1, 0]]
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(2,\)"):
        env.step(np.zeros(3, np.int64))


def test_parallel_env_matches_batched_env():
    make = [lambda: suite_gym.load("CartPole-v0") for _ in range(2)]
    env = ParallelPyEnvironment(make)
    try:
        env.seed(5)
        first = env.reset()
        assert first.observation.shape == (2, 4)
        nxt = env.step(np.array([0, 1], np.int64))
        reference = BatchedPyEnvironment([suite_gym.load("CartPole-v0") for _ in range(2)])
        reference.seed(5)
        np.testing.assert_array_equal(reference.reset().observation, first.observation)
        np.testing.assert_array_equal(reference.step(np.array([0, 1], np.int64)).observation, nxt.observation)
    finally:
        env.close()
    assert all(not env.envs[i]._process.is_alive() for i in range(2))


def test_parallel_worker_that_raises_is_a_clear_error():
    env = ParallelPyEnvironment([lambda: FixedLengthEnv(5), lambda: RaisingEnv(fail_at=2)])
    try:
        env.reset()
        env.step(np.zeros(2, np.int64))
        with pytest.raises(WorkerError, match="boom from the environment"):
            env.step(np.zeros(2, np.int64))
    finally:
        env.close()


def test_parallel_worker_that_is_killed_is_a_clear_error_not_a_hang():
    env = ParallelPyEnvironment([lambda: FixedLengthEnv(5), lambda: FixedLengthEnv(5)])
    try:
        env.reset()
        os.kill(env.pids[1], signal.SIGKILL)
        start = time.monotonic()
        with pytest.raises(WorkerError, match="died"):
            env.step(np.zeros(2, np.int64))
        assert time.monotonic() - start < 5.0
    finally:
        env.close()
    time.sleep(0.1)
    assert not [p for p in mp.active_children() if p.name.startswith("agentax-env")]


@pytest.mark.parametrize("action", [np.int32(1), np.int8(1), 1, True, np.array(1, np.uint8)])
def test_an_action_that_casts_losslessly_is_accepted_in_the_specs_dtype(action):
    env = FixedLengthEnv(5)
    seen = []
    env._step = lambda a, step=env._step: (seen.append(a), step(a))[1]
    env.reset()
    assert int(env.step(action).step_type) == StepType.MID
    assert isinstance(seen[0], (np.ndarray, np.generic)) and seen[0].dtype == np.int64 and int(seen[0]) == 1


@pytest.mark.parametrize("action,match", [(np.uint64(1), "dtype uint64"), (np.float32(1.0), "dtype float32"),
                                          (1.5, "dtype float64"), (2**40, "dtype int64.*bounds|bounds"),
                                          (np.array([1]), "shape")])
def test_a_lossy_or_misshapen_action_is_refused_naming_action(action, match):
    env = suite_gym.load("CartPole-v0")
    env.reset()
    with pytest.raises(ValueError, match=r"`action`") as err:
        env.step(action)
    assert re.search(match, str(err.value))


def test_batched_env_accepts_lossless_actions_too():
    env = BatchedPyEnvironment([FixedLengthEnv(2), FixedLengthEnv(3)])
    env.reset()
    assert env.step(np.zeros(2, np.int32)).step_type.tolist() == [1, 1]
    assert env.step([0, 1]).step_type.tolist() == [2, 1]
    with pytest.raises(ValueError, match="dtype float32"):
        env.step(np.zeros(2, np.float32))
