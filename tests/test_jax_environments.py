import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.environments import suite_gymnax, suite_jax
from agentax.environments.jax_cartpole import CartPoleState
from agentax.environments.jax_environment import JaxEnvState, StatefulJaxEnvironment
from agentax.trajectories import StepType


def test_jax_cartpole_follows_gymnasium_step_for_step():
    """Copy Gymnasium's state into the JAX state before each step (float64 vs float32
    would drift otherwise) and compare observation, reward and termination."""
    gym_env = gym.make("CartPole-v1").unwrapped
    gym_env.reset(seed=0)
    env = suite_jax.load("CartPole-v1")
    step = jax.jit(env._step)
    rng = np.random.default_rng(0)
    terminations = 0
    for i in range(600):
        action = int(rng.integers(2))
        jax_state = CartPoleState(jnp.asarray(gym_env.state, jnp.float32), jnp.int32(0))
        obs, reward, terminated, _, _ = gym_env.step(action)
        _, time_step = step(jax_state, jnp.int32(action), jax.random.PRNGKey(i))
        np.testing.assert_allclose(np.asarray(time_step.observation), obs, rtol=1e-5, atol=1e-6)
        assert float(time_step.reward) == reward
        assert bool(time_step.step_type == StepType.LAST) == terminated
        assert float(time_step.discount) == (0.0 if terminated else 1.0)
        if terminated:
            terminations += 1
            gym_env.reset(seed=i)
    assert terminations >= 10


@pytest.mark.parametrize("env_id,limit", [("CartPole-v0", 200), ("CartPole-v1", 500)])
def test_time_limits_truncate_with_discount_one(env_id, limit):
    env = suite_jax.load(env_id)
    state, time_step = env.reset(jax.random.PRNGKey(0))
    # Hold the pole up with a hand-written controller until the time limit.
    step = jax.jit(env.step)
    steps = 0
    while not bool(time_step.is_last()):
        obs = np.asarray(time_step.observation)
        state, time_step = step(state, jnp.int32(1 if obs[2] + 0.5 * obs[3] > 0 else 0))
        steps += 1
    assert steps == limit and float(time_step.discount) == 1.0


def test_auto_reset_ignores_the_action_after_last():
    env = suite_jax.load("CartPole-v0", batch_size=3)
    state, time_step = env.reset(jax.random.PRNGKey(1))
    step = jax.jit(env.step)
    types = []
    for _ in range(40):
        state, time_step = step(state, jnp.ones(3, jnp.int32))
        types.append(np.asarray(time_step.step_type))
    types = np.stack(types)
    for column in types.T:
        last = np.flatnonzero(column == StepType.LAST)
        assert len(last) >= 1 and (column[last + 1] == StepType.FIRST).all()
    first_after = types[np.flatnonzero(types[:, 0] == StepType.LAST)[0] + 1]
    assert first_after[0] == StepType.FIRST


def test_stateful_shell_and_render():
    shell = StatefulJaxEnvironment(suite_jax.load("CartPole-v0"), seed=0)
    first = shell.reset()
    assert int(first.step_type) == StepType.FIRST and shell.current_time_step() is first
    nxt = shell.step(jnp.int32(0))
    assert int(nxt.step_type) == StepType.MID and isinstance(shell.state, JaxEnvState)
    frame = shell.render()
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8
    assert (frame == 0).any() and (frame == 255).any()  # a black cart on white


def test_unknown_jax_env_id_names_close_matches():
    with pytest.raises(ValueError, match="CartPole-v1"):
        suite_jax.load("CartPole-v3")


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "Pendulum-v1"])
def test_gymnax_adapter(env_id):
    env = suite_gymnax.load(env_id, batch_size=2)
    state, time_step = env.reset(jax.random.PRNGKey(0))
    assert time_step.observation.shape == (2,) + env.observation_spec().shape
    spec = env.action_spec()
    step = jax.jit(env.step)
    action = jnp.zeros((2,) + spec.shape, spec.dtype)
    state, time_step = step(state, action)
    assert (np.asarray(time_step.step_type) == StepType.MID).all()
    assert time_step.reward.dtype == jnp.float32


def test_gymnax_truncation_keeps_discount_one_and_termination_zero():
    env = suite_gymnax.load("Pendulum-v1")  # never terminates; truncated at 200 steps
    state, time_step = env.reset(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    for i in range(200):
        state, time_step = step(state, jnp.zeros((1,), jnp.float32))
    assert int(time_step.step_type) == StepType.LAST and float(time_step.discount) == 1.0
    state, time_step = step(state, jnp.zeros((1,), jnp.float32))
    assert int(time_step.step_type) == StepType.FIRST

    env = suite_gymnax.load("CartPole-v1")
    state, time_step = env.reset(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    while not bool(time_step.is_last()):
        state, time_step = step(state, jnp.int32(1))
    obs = np.asarray(time_step.observation)
    assert float(time_step.discount) == 0.0
    # The true final observation: past a threshold, not a freshly reset state.
    assert abs(obs[0]) > 2.4 or abs(obs[2]) > 12 * 2 * np.pi / 360


@pytest.mark.parametrize("env_id", suite_gymnax.registered_ids())
def test_every_gymnax_env_resets_and_steps(env_id):
    if env_id == "MNISTBandit-bsuite":
        pytest.skip("gymnax downloads MNIST when this env is made; this machine has no network")
    env = suite_gymnax.load(env_id)
    state, time_step = env.reset(jax.random.PRNGKey(0))
    spec = env.action_spec()
    state, time_step = jax.jit(env.step)(state, jnp.zeros(spec.shape, spec.dtype))
    assert int(time_step.step_type) in (StepType.MID, StepType.LAST)
    assert np.shape(time_step.observation) == env.observation_spec().shape


@pytest.mark.parametrize("bad", [5, -7])
def test_jax_cartpole_refuses_concrete_actions_outside_the_spec(bad):
    env = suite_jax.load("CartPole-v0")
    state, _ = env.reset(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"`action`.*bounds"):
        env.step(state, jnp.int32(bad))
    shell = StatefulJaxEnvironment(env)
    shell.reset()
    with pytest.raises(ValueError, match=r"`action`.*bounds"):
        shell.step(bad)


def test_inside_jit_actions_are_value_checked_only_with_check_actions():
    env = suite_jax.load("CartPole-v0")
    state, _ = env.reset(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    # Unchecked (the default, documented): any action but 1 pushes left, like 0.
    np.testing.assert_array_equal(step(state, jnp.int32(5))[1].observation,
                                  step(state, jnp.int32(0))[1].observation)
    env = suite_jax.load("CartPole-v0")
    env.check_actions = True  # before the first trace: it is read when the step is traced
    checked = jax.jit(env.step)
    assert int(checked(state, jnp.int32(1))[1].step_type) == StepType.MID
    with pytest.raises(Exception, match=r"`action` is outside its spec"):
        jax.block_until_ready(checked(state, jnp.int32(-7)))


def test_jax_env_accepts_lossless_action_dtypes_and_refuses_lossy_ones():
    env = suite_jax.load("CartPole-v0", batch_size=2)
    state, _ = env.reset(jax.random.PRNGKey(0))
    _, time_step = jax.jit(env.step)(state, jnp.ones(2, jnp.int8))  # int8 -> int32 is lossless
    assert time_step.step_type.shape == (2,)
    _, time_step = env.step(state, np.array([1, 0]))  # NumPy int64 values that fit: concrete, accepted
    with pytest.raises(ValueError, match="dtype float32, expected int32"):
        jax.jit(env.step)(state, jnp.ones(2, jnp.float32))
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(2,\)"):
        env.step(state, jnp.ones(3, jnp.int32))
