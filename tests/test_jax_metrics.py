import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.drivers import PyDriver
from agentax.environments import BatchedPyEnvironment
from agentax.metrics import jax_metrics, py_metrics
from agentax.policies import FixedPolicy

from helpers import FixedLengthEnv


def python_trajectories(lengths, max_steps):
    env = BatchedPyEnvironment([FixedLengthEnv(n) for n in lengths])
    out = []
    policy = FixedPolicy(env.time_step_spec(), env.action_spec(), np.int64(0))
    PyDriver(env, policy, [out.append], max_steps=max_steps).run(env.reset())
    return out


@pytest.mark.parametrize("name", ["AverageReturnMetric", "AverageEpisodeLengthMetric", "NumberOfEpisodes",
                                  "EnvironmentSteps"])
@pytest.mark.parametrize("lengths,max_steps,buffer_size", [([3, 5], 40, 10), ([1, 2, 3, 4], 60, 3)])
def test_compiled_metrics_match_python_metrics(name, lengths, max_steps, buffer_size):
    kwargs = {} if name in ("NumberOfEpisodes", "EnvironmentSteps") else {"buffer_size": buffer_size}
    py_metric = getattr(py_metrics, name)(**kwargs)
    jax_metric = getattr(jax_metrics, name)(**kwargs)
    for traj in python_trajectories(lengths, max_steps):
        py_metric(traj)
        jax_metric(jax.tree.map(jnp.asarray, traj))
    assert float(jax_metric.result()) == pytest.approx(py_metric.result(), rel=1e-6)


def test_buffer_keeps_last_episodes_when_many_finish_at_once():
    metric = jax_metrics.AverageReturnMetric(buffer_size=3)
    state = metric.init(5)
    traj = python_trajectories([1] * 5, 5)[0]._replace(reward=np.arange(1, 6, dtype=np.float32))
    state = metric.update(state, jax.tree.map(jnp.asarray, traj))
    assert float(metric.result(state)) == pytest.approx((3 + 4 + 5) / 3)
    assert int(state.count) == 3


def test_result_before_any_episode_and_reset():
    metric = jax_metrics.AverageReturnMetric()
    assert float(metric.result()) == 0.0
    for traj in python_trajectories([2], 3):
        metric(jax.tree.map(jnp.asarray, traj))
    assert float(metric.result()) == 2.0
    metric.reset()
    assert float(metric.result()) == 0.0
