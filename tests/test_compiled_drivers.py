"""Compiled drivers: counting semantics by hand, agreement with PyDriver, compilation reuse."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.drivers import DynamicEpisodeDriver, DynamicStepDriver, PyDriver
from agentax.environments import BatchedPyEnvironment, suite_gym, suite_jax
from agentax.environments.jax_py_environment import JaxPyEnvironment
from agentax.metrics import jax_metrics
from agentax.policies import FixedPolicy
from agentax.policies.random_jax_policy import RandomJaxPolicy
from agentax.specs import array_spec
from agentax.trajectories import StepType

from helpers import CountingJaxPolicy, FixedLengthEnv, FixedLengthJaxEnv


def counting_setup(lengths, batched=True):
    env = FixedLengthJaxEnv(lengths, batched=batched)
    policy = CountingJaxPolicy(env.time_step_spec(), env.action_spec())
    return env, policy


def collect(driver_cls, env, policy, **kwargs):
    """Run once from reset; return (trajectories via a host callback, final step, metrics)."""
    trajectories = []
    steps, episodes = jax_metrics.EnvironmentSteps(), jax_metrics.NumberOfEpisodes()
    run_kwargs = {k: kwargs.pop(k) for k in ("maximum_iterations",) if k in kwargs}
    driver = driver_cls(env, policy, [trajectories.append, steps, episodes], **kwargs)
    if driver_cls is DynamicStepDriver:
        driver.env.reset()
    final, _ = driver.run(**run_kwargs)
    return trajectories, final, int(steps.result()), int(episodes.result())


@pytest.mark.parametrize("driver_cls,kwargs,num_traj,steps,final_type", [
    (DynamicStepDriver, dict(num_steps=5), 6, 5, StepType.MID),
    (DynamicStepDriver, dict(num_steps=3), 3, 3, StepType.LAST),
    (DynamicEpisodeDriver, dict(num_episodes=1), 4, 3, StepType.FIRST),
    (DynamicEpisodeDriver, dict(num_episodes=2), 8, 6, StepType.FIRST),
    (DynamicStepDriver, dict(num_steps=100, maximum_iterations=2), 2, 2, StepType.MID),
])
def test_unbatched_counts(driver_cls, kwargs, num_traj, steps, final_type):
    env, policy = counting_setup(3, batched=False)
    trajectories, final, env_steps, _ = collect(driver_cls, env, policy, **kwargs)
    assert len(trajectories) == num_traj and env_steps == steps
    assert int(final.step_type) == final_type


def test_batched_episode_driver_counts_summed_over_batch():
    # Lengths 3 and 5: boundaries at iteration 4 (A) and 6 (B) -> 6 iterations, 10 steps.
    env, policy = counting_setup([3, 5])
    trajectories, final, steps, episodes = collect(DynamicEpisodeDriver, env, policy, num_episodes=2)
    assert len(trajectories) == 6 and steps == 10 and episodes == 2
    np.testing.assert_array_equal(final.step_type, [StepType.MID, StepType.FIRST])


def test_batched_step_driver_may_overshoot():
    env, policy = counting_setup([3, 5])
    trajectories, _, steps, _ = collect(DynamicStepDriver, env, policy, num_steps=5)
    assert len(trajectories) == 3 and steps == 6


@pytest.mark.parametrize("limits", [dict(max_steps=7), dict(max_episodes=2), dict(max_episodes=3)])
def test_compiled_and_python_drivers_agree(limits):
    lengths = [3, 5]
    py_env = BatchedPyEnvironment([FixedLengthEnv(n) for n in lengths])
    py_traj = []
    policy = FixedPolicy(py_env.time_step_spec(), py_env.action_spec(), np.int64(0))
    py_final, _ = PyDriver(py_env, policy, [py_traj.append], **limits).run(py_env.reset())
    env, jax_policy = counting_setup(lengths)
    if "max_steps" in limits:
        jax_traj, jax_final, _, _ = collect(DynamicStepDriver, env, jax_policy, num_steps=limits["max_steps"])
    else:
        jax_traj, jax_final, _, _ = collect(DynamicEpisodeDriver, env, jax_policy,
                                            num_episodes=limits["max_episodes"])
    assert len(jax_traj) == len(py_traj)
    for a, b in zip(py_traj, jax_traj):
        np.testing.assert_array_equal(a.step_type, b.step_type)
        np.testing.assert_array_equal(a.next_step_type, b.next_step_type)
        np.testing.assert_array_equal(a.observation, b.observation)
    np.testing.assert_array_equal(py_final.step_type, jax_final.step_type)


def test_policy_state_resets_on_first_and_observers_see_the_state_used():
    env, policy = counting_setup([3, 5])
    seen = []
    driver = DynamicStepDriver(env, policy, transition_observers=[lambda t: seen.append(np.asarray(t[1].state))],
                               num_steps=11)
    driver.env.reset()
    driver.run()
    states = np.stack(seen)
    # 7 iterations (steps 2,4,6,7,9,10,12). A (length 3) restarts at iteration 5,
    # B (length 5) at iteration 7; the boundary step still carries the old state.
    np.testing.assert_array_equal(states[:, 0], [0, 1, 2, 3, 0, 1, 2])
    np.testing.assert_array_equal(states[:, 1], [0, 1, 2, 3, 4, 5, 0])


def test_continuing_from_previous_state():
    env, policy = counting_setup(3, batched=False)
    steps = jax_metrics.EnvironmentSteps()
    driver = DynamicStepDriver(env, policy, [steps], num_steps=2)
    time_step, state = driver.run()
    assert int(time_step.observation) == 2
    time_step, state = driver.run(time_step, state)
    # M->L (step 3), L->F (boundary, not counted), F->M (step 4)
    assert int(time_step.observation) == 1 and int(steps.result()) == 4
    assert int(time_step.step_type) == StepType.MID


def test_compiled_once_across_runs_and_params_once_per_limit():
    env, policy = counting_setup([3, 5])
    driver = DynamicEpisodeDriver(env, policy, [jax_metrics.NumberOfEpisodes()], num_episodes=1)
    time_step, state = driver.run()
    for params in (jnp.float32(1.0), jnp.float32(7.0), jnp.float32(-2.0)):
        time_step, state = driver.run(time_step, state, params=params)
    assert driver.trace_count == 1
    driver.run(num_episodes=3)  # a new limit is a new constant in the loop: one more compile
    driver.run(num_episodes=3)
    driver.run()
    assert driver.trace_count == 2


def test_same_seed_same_trajectories_different_seed_differs():
    def observations(seed):
        env = suite_jax.load("CartPole-v0", batch_size=4)
        policy = RandomJaxPolicy(env.time_step_spec(), env.action_spec())
        out = []
        driver = DynamicStepDriver(env, policy, [out.append], num_steps=80, seed=seed)
        driver.run()
        return np.stack([np.asarray(t.observation) for t in out]), np.stack([np.asarray(t.action) for t in out])

    (obs_a, act_a), (obs_b, act_b), (obs_c, _) = observations(3), observations(3), observations(4)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(act_a, act_b)
    assert obs_a.shape != obs_c.shape or not np.array_equal(obs_a, obs_c)


def test_run_pure_vmaps_over_seeds():
    env = suite_jax.load("CartPole-v1", batch_size=2)
    policy = RandomJaxPolicy(env.time_step_spec(), env.action_spec())
    steps, returns = jax_metrics.EnvironmentSteps(), jax_metrics.AverageReturnMetric()
    driver = DynamicEpisodeDriver(env, policy, [steps, returns], num_episodes=4)

    @jax.jit
    def many(keys):
        return jax.vmap(lambda k: driver.run_pure(None, driver.initial_state(k)))(keys)

    final = many(jax.random.split(jax.random.PRNGKey(0), 5))
    step_counts = np.asarray(final.observer_states[0])
    avg = np.asarray(jax.vmap(returns.result)(final.observer_states[1]))
    assert step_counts.shape == (5,) and (step_counts >= 4 * 8).all()
    assert len(set(step_counts.tolist())) > 1 and avg.shape == (5,) and (avg > 5).all()
    np.testing.assert_array_equal(final.time_step.step_type.shape, (5, 2))


def test_jax_py_environment_drives_gymnasium_with_correct_counts():
    py_env = suite_gym.load("CartPole-v0")
    env = JaxPyEnvironment(py_env)
    assert env.action_spec().dtype == np.int32 and env.observation_spec().dtype == np.float32
    policy = RandomJaxPolicy(env.time_step_spec(), env.action_spec())
    steps, episodes, trajectories = jax_metrics.EnvironmentSteps(), jax_metrics.NumberOfEpisodes(), []
    driver = DynamicStepDriver(env, policy, [steps, episodes, trajectories.append], num_steps=120)
    driver.run()
    boundaries = sum(bool(t.is_boundary()) for t in trajectories)
    assert int(steps.result()) == 120 and len(trajectories) == 120 + boundaries
    assert int(episodes.result()) >= 3  # random CartPole episodes last ~22 steps
    # The host environment really moved: its current observation is the driver's last time step.
    np.testing.assert_array_equal(np.asarray(driver.env.current_time_step().observation)[0],
                                  py_env.current_time_step().observation)
    with pytest.raises(ValueError, match="vmap"):
        jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 2))


def test_bad_input_is_caught_at_construction():
    env, policy = counting_setup([3, 5])
    with pytest.raises(ValueError, match="num_steps"):
        DynamicStepDriver(env, policy, num_steps=0)
    with pytest.raises(ValueError, match="num_episodes"):
        DynamicEpisodeDriver(env, policy, num_episodes=0)
    wrong = RandomJaxPolicy(env.time_step_spec(), array_spec.BoundedArraySpec((), np.int32, 0, 2))
    with pytest.raises(ValueError, match="action spec does not match"):
        DynamicStepDriver(env, wrong, num_steps=5)
    state, _ = env.reset(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="dtype float32"):
        env.step(state, jnp.zeros(2, jnp.float32))


@pytest.mark.parametrize("driver_cls,kwargs", [(DynamicEpisodeDriver, dict(num_episodes=1)),
                                               (DynamicStepDriver, dict(num_steps=1))])
def test_the_stateful_shell_resets_from_the_drivers_seed(driver_cls, kwargs):
    def first_observation(seed):
        env = suite_jax.load("CartPole-v0")
        policy = RandomJaxPolicy(env.time_step_spec(), env.action_spec())
        out = []
        driver_cls(env, policy, [out.append], seed=seed, **kwargs).run()
        return np.asarray(out[0].observation)

    np.testing.assert_array_equal(first_observation(3), first_observation(3))
    assert not np.array_equal(first_observation(3), first_observation(4))


class ResetCountingPolicy(CountingJaxPolicy):
    resets = 0

    def reset_state_on_first(self, time_step, policy_state):
        ResetCountingPolicy.resets += 1
        return super().reset_state_on_first(time_step, policy_state)


def test_the_policy_state_is_reset_once_per_step():
    env = FixedLengthJaxEnv([3, 5])
    policy = ResetCountingPolicy(env.time_step_spec(), env.action_spec())
    driver = DynamicStepDriver(env, policy, [jax_metrics.EnvironmentSteps()], num_steps=4)
    ResetCountingPolicy.resets = 0
    driver.run()
    assert driver.trace_count == 1 and ResetCountingPolicy.resets == 1  # one trace of the body, one reset


def test_the_trace_count_is_read_from_the_compilation_cache_not_mutated_in_a_trace():
    env, policy = counting_setup([3, 5])
    driver = DynamicEpisodeDriver(env, policy, num_episodes=1)
    state = driver.initial_state(jax.random.PRNGKey(0))
    jax.eval_shape(driver._run_jit, policy.params, state, 1, None)  # traced, never compiled
    assert driver.trace_count == 0
    driver.run()
    assert driver.trace_count == 1


def test_the_observer_protocol_lives_below_drivers_and_metrics():
    import agentax.drivers.compiled_driver as compiled_driver
    import agentax.replay_buffers.trajectory_recorder as trajectory_recorder
    from agentax.core import JaxObserver
    assert jax_metrics.JaxObserver is JaxObserver  # the old import path still works
    for module in (compiled_driver, trajectory_recorder):
        assert "agentax.metrics" not in {getattr(v, "__module__", "") for v in vars(module).values()}
        assert "import agentax.metrics" not in open(module.__file__).read()
        assert "from agentax.metrics" not in open(module.__file__).read()


def test_jax_py_environment_is_stateful_like_tf_py_environment():
    """The reference's `compute_avg_return`, ported by renames: batch dimension 1, no keys."""
    py_env = suite_gym.load("CartPole-v0")
    env = JaxPyEnvironment(py_env)
    assert env.batched and env.batch_size == 1 and env.pyenv.envs == [py_env]
    policy = RandomJaxPolicy(env.time_step_spec(), env.action_spec())
    time_step = env.reset()
    assert time_step.observation.shape == (1, 4) and time_step.step_type.shape == (1,)
    assert isinstance(time_step.observation, jax.Array) and int(time_step.step_type[0]) == StepType.FIRST
    episode_return, steps = 0.0, 0
    while not time_step.is_last():
        action_step = policy.action(policy.params, time_step, (), jax.random.PRNGKey(steps))
        time_step = env.step(action_step.action)
        episode_return += time_step.reward
        steps += 1
    assert episode_return.shape == (1,) and float(episode_return[0]) == steps
    np.testing.assert_array_equal(env.current_time_step().observation[0], py_env.current_time_step().observation)
    # The same object still serves a compiled driver.
    episodes = jax_metrics.NumberOfEpisodes()
    DynamicEpisodeDriver(env, policy, [episodes], num_episodes=2).run()
    assert int(episodes.result()) == 2
    with pytest.raises(ValueError, match=r"`action`.*shape"):
        env.step(jnp.int32(1))  # no batch dimension


def test_run_pure_with_static_iterations_equals_the_while_loop():
    """`iterations=n` runs exactly n loop iterations: the same state as the counted loop stopped at n."""
    env = suite_jax.load("CartPole-v1", batch_size=3)
    policy = RandomJaxPolicy(env.time_step_spec(), env.action_spec())
    steps = jax_metrics.EnvironmentSteps()
    driver = DynamicStepDriver(env, policy, [steps], num_steps=10_000)
    state = driver.initial_state(jax.random.PRNGKey(4))
    counted = jax.jit(lambda s: driver.run_pure(None, s, maximum_iterations=40))(state)
    fixed = jax.jit(lambda s: driver.run_pure(None, s, iterations=40))(state)
    for a, b in zip(jax.tree.leaves(counted), jax.tree.leaves(fixed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert 40 * 3 - 10 <= int(fixed.observer_states[0]) <= 40 * 3  # boundaries do not count
