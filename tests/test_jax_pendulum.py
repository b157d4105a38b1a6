"""The compiled Pendulum-v1 (`suite_jax.load`, gymnax's dynamics) against Gymnasium's, step for step.

As for the JAX CartPole: Gymnasium's state (float64) is copied into the JAX state
(float32) before each step, then observation, reward and end of episode are compared.
gymnax's Pendulum matches Gymnasium's (same constants, clipping, cost and Euler step;
reset uniform on [-pi, pi] x [-1, 1]; truncated after 200 steps), so no native port is needed.
"""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agentax.environments import suite_gym, suite_jax
from agentax.trajectories import StepType


def test_jax_pendulum_follows_gymnasium_step_for_step():
    gym_env = gym.make("Pendulum-v1").unwrapped
    gym_env.reset(seed=0)
    env = suite_jax.load("Pendulum-v1")
    step = jax.jit(env._step)
    template = jax.jit(env._reset)(jax.random.PRNGKey(0))[0]  # gymnax's EnvState
    key = jax.random.PRNGKey(0)
    rng = np.random.default_rng(0)
    clipped = 0
    for i in range(400):
        action = rng.uniform(-2.5, 2.5, (1,)).astype(np.float32)  # past the bounds: both clip to [-2, 2]
        clipped += int(abs(action[0]) > 2)
        theta, theta_dot = gym_env.state
        obs, reward, terminated, truncated, _ = gym_env.step(action)
        jax_state = template.replace(theta=jnp.float32(theta), theta_dot=jnp.float32(theta_dot))
        _, time_step = step(jax_state, action, key)  # Pendulum's step draws nothing
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
