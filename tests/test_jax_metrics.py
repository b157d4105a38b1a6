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


@pytest.mark.parametrize("module", [jax_metrics, py_metrics])
def test_episode_metrics_take_tf_agents_batch_size_and_check_it(module):
    trajectories = python_trajectories([2, 3], 12)
    metric, inferred = module.AverageReturnMetric(batch_size=2), module.AverageReturnMetric()
    for traj in trajectories:
        for m in (metric, inferred):
            m(jax.tree.map(jnp.asarray, traj) if module is jax_metrics else traj)
    assert float(metric.result()) == float(inferred.result()) == pytest.approx(12 / 5)  # 2, 3, 2, 3, 2
    wrong = module.AverageEpisodeLengthMetric(batch_size=3)
    with pytest.raises(ValueError, match="batch_size"):
        wrong(jax.tree.map(jnp.asarray, trajectories[0]) if module is jax_metrics else trajectories[0])
    with pytest.raises(ValueError, match="batch_size"):
        module.MaxReturnMetric(batch_size=0)


def test_compiled_metric_batch_size_is_checked_against_the_driver():
    from agentax.drivers import DynamicStepDriver
    from helpers import CountingJaxPolicy, FixedLengthJaxEnv
    env = FixedLengthJaxEnv([3, 5])
    policy = CountingJaxPolicy(env.time_step_spec(), env.action_spec())
    ok = jax_metrics.AverageReturnMetric(batch_size=2)
    DynamicStepDriver(env, policy, [ok], num_steps=10).run()
    assert float(ok.result()) == 4.0  # episodes of 3 and 5
    with pytest.raises(ValueError, match="`batch_size`=1"):
        DynamicStepDriver(env, policy, [jax_metrics.AverageReturnMetric(batch_size=1)], num_steps=10).run()


def test_episode_length_is_not_a_kind_of_average_return():
    for module in (jax_metrics, py_metrics):
        assert not issubclass(module.AverageEpisodeLengthMetric, module.AverageReturnMetric)
        assert not issubclass(module.MaxReturnMetric, module.AverageReturnMetric)


@pytest.mark.parametrize("name", ["AverageReturnMetric", "AverageEpisodeLengthMetric", "MaxReturnMetric",
                                  "MinReturnMetric"])
def test_python_and_compiled_metrics_give_float32_and_agree(name):
    py_metric, jax_metric = getattr(py_metrics, name)(), getattr(jax_metrics, name)()
    assert np.asarray(py_metric.result()).dtype == np.float32 == np.asarray(jax_metric.result()).dtype
    for traj in python_trajectories([2, 4], 20):
        py_metric(traj)
        jax_metric(jax.tree.map(jnp.asarray, traj))
    assert np.asarray(py_metric.result()).dtype == np.float32 == np.asarray(jax_metric.result()).dtype
    assert float(py_metric.result()) == float(jax_metric.result())
