"""Compiled Pendulum-v1 against Gymnasium's, step for step: agentax's native one
(`suite_jax.load`) and gymnax's (`suite_gymnax.load`), which computes the same.

As for the JAX CartPole: Gymnasium's state (float64) is copied into the JAX state
(float32) before each step, then observation, reward and end of episode are compared.
"""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.environments import suite_gym, suite_jax
from agentax.environments.jax_environment import StatefulJaxEnvironment
from agentax.environments.jax_pendulum import Pendulum, PendulumState
from agentax.trajectories import StepType


def _native():
    env = suite_jax.load("Pendulum-v1")
    assert isinstance(env, Pendulum)  # native wins over gymnax's id
    return env, lambda theta, theta_dot: PendulumState(jnp.float32(theta), jnp.float32(theta_dot), jnp.int32(0))


def _gymnax():
    suite_gymnax = pytest.importorskip("agentax.environments.suite_gymnax")
    env = suite_gymnax.load("Pendulum-v1")
    template = jax.jit(env._reset)(jax.random.PRNGKey(0))[0]  # gymnax's EnvState
    return env, lambda theta, theta_dot: template.replace(theta=jnp.float32(theta), theta_dot=jnp.float32(theta_dot))


@pytest.mark.parametrize("make", [_native, _gymnax], ids=["native", "gymnax"])
def test_jax_pendulum_follows_gymnasium_step_for_step(make):
    gym_env = gym.make("Pendulum-v1").unwrapped
    gym_env.reset(seed=0)
    env, state_of = make()
    step = jax.jit(env._step)
    key = jax.random.PRNGKey(0)  # Pendulum's step draws nothing
    rng = np.random.default_rng(0)
    clipped = 0
    for i in range(400):
        action = rng.uniform(-2.5, 2.5, (1,)).astype(np.float32)  # past the bounds: both clip to [-2, 2]
        clipped += int(abs(action[0]) > 2)
        theta, theta_dot = gym_env.state
        obs, reward, terminated, truncated, _ = gym_env.step(action)
        _, time_step = step(state_of(theta, theta_dot), action, key)
        np.testing.assert_allclose(np.asarray(time_step.observation), obs, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(float(time_step.reward), reward, rtol=1e-5, atol=1e-5)
        assert int(time_step.step_type) == StepType.MID and float(time_step.discount) == 1.0
        assert not terminated and not truncated
        if i % 100 == 99:
            gym_env.reset(seed=i)
    assert clipped > 50


def test_jax_pendulum_reset_specs_and_200_step_truncation_match_gymnasium():
    py_env = suite_gym.load("Pendulum-v1")
    env = suite_jax.load("Pendulum-v1", batch_size=64)
    assert env.max_episode_steps == 200
    for jax_spec, py_spec in ((env.observation_spec(), py_env.observation_spec()),
                              (env.action_spec(), py_env.action_spec())):
        assert jax_spec.shape == py_spec.shape and jax_spec.dtype == py_spec.dtype == np.float32
        np.testing.assert_array_equal(jax_spec.minimum, py_spec.minimum)
        np.testing.assert_array_equal(jax_spec.maximum, py_spec.maximum)
    state, time_step = env.reset(jax.random.PRNGKey(0))
    theta, theta_dot = np.asarray(state.env_state.theta), np.asarray(state.env_state.theta_dot)
    assert (np.abs(theta) <= np.pi).all() and (np.abs(theta_dot) <= 1).all()  # Gymnasium's reset bounds
    assert np.ptp(theta) > 3 and np.ptp(theta_dot) > 1  # spread over them, one draw per element
    np.testing.assert_allclose(np.asarray(time_step.observation),
                               np.stack([np.cos(theta), np.sin(theta), theta_dot], -1), rtol=1e-6)

    py_env.reset()
    step = jax.jit(env.step)
    zeros = jnp.zeros((64, 1), jnp.float32)
    for t in range(1, 202):
        py_step = py_env.step(np.zeros(1, np.float32))
        state, time_step = step(state, zeros)
        types = np.asarray(time_step.step_type)
        assert (types == int(py_step.step_type)).all(), t
        if t == 200:  # Gymnasium's TimeLimit: truncation, discount 1
            assert (types == StepType.LAST).all() and (np.asarray(time_step.discount) == 1.0).all()
    assert (types == StepType.FIRST).all()  # step 201 starts a new episode on both


def test_jax_pendulum_refuses_concrete_actions_outside_the_spec_and_renders():
    shell = StatefulJaxEnvironment(suite_jax.load("Pendulum-v1"), seed=0)
    shell.reset()
    with pytest.raises(ValueError, match=r"`action`.*bounds"):
        shell.step(np.array([2.5], np.float32))
    with pytest.raises(ValueError, match="`max_episode_steps`"):
        Pendulum(max_episode_steps=0)
    shell.set_state(shell.state._replace(env_state=PendulumState(jnp.float32(0), jnp.float32(0), jnp.int32(0))),
                    shell.current_time_step())
    frame = shell.render()  # upright: the red rod above the axle
    assert frame.shape == (500, 500, 3) and frame.dtype == np.uint8
    red = np.all(frame == (204, 77, 77), axis=-1)
    rows = np.flatnonzero(red.any(axis=1))
    assert rows.min() < 150 and rows.max() <= 262 and red[:, 250].sum() > 100
