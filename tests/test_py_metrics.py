import numpy as np
import pytest

from agentax.drivers import PyDriver
from agentax.environments import BatchedPyEnvironment, suite_gym
from agentax.metrics import py_metrics
from agentax.policies import FixedPolicy, RandomPyPolicy

from helpers import FixedLengthEnv


def all_metrics():
    return dict(avg=py_metrics.AverageReturnMetric(), length=py_metrics.AverageEpisodeLengthMetric(),
                episodes=py_metrics.NumberOfEpisodes(), steps=py_metrics.EnvironmentSteps(),
                max=py_metrics.MaxReturnMetric(), min=py_metrics.MinReturnMetric())


def test_metrics_on_batched_env_with_known_lengths():
    env = BatchedPyEnvironment([FixedLengthEnv(3), FixedLengthEnv(5)])
    metrics = all_metrics()
    policy = FixedPolicy(env.time_step_spec(), env.action_spec(), np.int64(0))
    PyDriver(env, policy, list(metrics.values()), max_steps=16).run(env.reset())
    # A (len 3): LAST at iterations 3 and 7, boundaries at 4 and 8.
    # B (len 5): LAST at iteration 5, boundary at 6.
    # Steps after each iteration: 2 4 6 7 9 10 12 13 15 17 -> stops after 10 with 17.
    assert metrics["episodes"].result() == 3
    assert metrics["steps"].result() == 17
    assert metrics["avg"].result() == pytest.approx((3 + 3 + 5) / 3)
    assert metrics["length"].result() == pytest.approx((3 + 3 + 5) / 3)
    assert metrics["max"].result() == 5.0 and metrics["min"].result() == 3.0


def test_metrics_before_any_episode_and_after_reset():
    metric = py_metrics.AverageReturnMetric()
    assert metric.result() == 0.0
    env = FixedLengthEnv(4)
    policy = FixedPolicy(env.time_step_spec(), env.action_spec(), np.int64(0))
    PyDriver(env, policy, [metric], max_episodes=1).run(env.reset())
    assert metric.result() == 4.0
    metric.reset()
    assert metric.result() == 0.0


def test_buffer_keeps_the_last_episodes_only():
    metric = py_metrics.AverageReturnMetric(buffer_size=2)
    env = BatchedPyEnvironment([FixedLengthEnv(1), FixedLengthEnv(4)])
    policy = FixedPolicy(env.time_step_spec(), env.action_spec(), np.int64(0))
    # Env A finishes an episode every 2 iterations (1 step + boundary), B at iteration 4.
    PyDriver(env, policy, [metric], max_steps=7).run(env.reset())  # 4 iterations
    # finished in order: A(1) it1, A(1) it3, B(4) it4 -> last two: 1 and 4
    assert metric.result() == pytest.approx(2.5)
    with pytest.raises(ValueError, match="buffer_size"):
        py_metrics.AverageReturnMetric(buffer_size=0)


def test_average_return_on_cartpole_matches_a_hand_loop():
    env = suite_gym.load("CartPole-v0")
    env.seed(3)
    metric = py_metrics.AverageReturnMetric()
    rewards = []
    policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=3)
    PyDriver(env, policy, [metric, lambda t: rewards.append((float(t.reward), bool(t.is_last())))],
             max_episodes=3).run(env.reset())
    returns, current = [], 0.0
    for reward, last in rewards:
        current += reward
        if last:
            returns.append(current)
            current = 0.0
    assert len(returns) == 3 and metric.result() == pytest.approx(np.mean(returns))
