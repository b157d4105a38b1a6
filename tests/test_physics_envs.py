"""Physics environments: Gymnasium's MuJoCo (`agentax[mujoco]`) and Brax (`agentax[brax]`).

Each part is skipped only when its extra is not installed (CI installs both with `[test]`).
"""

import os

import numpy as np
import pytest

from agentax.environments import suite_mujoco
from agentax.specs import array_spec
from agentax.trajectories import StepType

needs_mujoco = pytest.mark.skipif(not suite_mujoco.is_available(),
                                  reason="the agentax[mujoco] extra is not installed")


@needs_mujoco
@pytest.mark.parametrize("env_id,obs_dim,act_dim,limit", [
    ("HalfCheetah-v5", 17, 6, 1000), ("Hopper-v5", 11, 3, 1000), ("Reacher-v5", 10, 2, 50)])
def test_mujoco_envs_load_step_and_match_their_specs(env_id, obs_dim, act_dim, limit):
    env = suite_mujoco.load(env_id)
    obs_spec, act_spec = env.observation_spec(), env.action_spec()
    assert obs_spec.shape == (obs_dim,) and act_spec.shape == (act_dim,)
    assert act_spec.dtype == np.float32 and np.all(act_spec.minimum < act_spec.maximum)
    assert env.gym.spec.max_episode_steps == limit
    env.seed(0)
    time_step = env.reset()
    assert time_step.step_type == StepType.FIRST
    array_spec.validate(obs_spec, time_step.observation, "observation")
    rng = np.random.default_rng(0)
    for _ in range(5):
        action = rng.uniform(act_spec.minimum, act_spec.maximum, act_spec.shape).astype(np.float32)
        time_step = env.step(action)
        array_spec.validate(obs_spec, time_step.observation, "observation")
        assert np.isfinite(time_step.reward) and np.asarray(time_step.reward).dtype == np.float32
    with pytest.raises(ValueError, match="`action`"):
        env.step(np.full(act_spec.shape, 10.0, np.float32))  # outside the bounds: refused, not clipped
    env.close()


@needs_mujoco
def test_mujoco_time_limit_truncates_with_discount_one_then_resets():
    env = suite_mujoco.load("HalfCheetah-v5", max_episode_steps=3)  # HalfCheetah never terminates
    env.reset()
    zeros = np.zeros(6, np.float32)
    types = [int(env.step(zeros).step_type) for _ in range(3)]
    assert types == [StepType.MID, StepType.MID, StepType.LAST]
    assert float(env.current_time_step().discount) == 1.0
    assert env.step(zeros).step_type == StepType.FIRST


@needs_mujoco
def test_mujoco_same_seed_same_trajectory_and_renders():
    def rollout():
        env = suite_mujoco.load("Hopper-v5")
        env.seed(3)
        obs = [env.reset().observation]
        obs += [env.step(np.full(3, 0.5, np.float32)).observation for _ in range(3)]
        return np.stack(obs), env
    first, env = rollout()
    second, _ = rollout()
    np.testing.assert_array_equal(first, second)
    try:
        frame = env.render()
    except Exception as error:  # noqa: BLE001 - mujoco raises several kinds when GL is missing
        pytest.skip(f"no OpenGL backend for MuJoCo rendering on this machine (MUJOCO_GL="
                    f"{os.environ.get('MUJOCO_GL')}): {type(error).__name__}: {error}")
    assert frame.shape == (480, 480, 3) and frame.dtype == np.uint8 and frame.std() > 0


@needs_mujoco
@pytest.mark.parametrize("bad", ["CartPole-v1", "HalfCheetah-v9", 7])
def test_mujoco_refuses_other_ids(bad):
    with pytest.raises(ValueError, match="suite_mujoco.load.*`env_id`"):
        suite_mujoco.load(bad)


def test_mujoco_missing_extra_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(suite_mujoco, "mujoco", None)
    assert not suite_mujoco.is_available()
    with pytest.raises(ImportError, match=r"pip install 'agentax\[mujoco\]'"):
        suite_mujoco.load("HalfCheetah-v5")


# ---------------------------------------------------------------- Brax

from agentax.environments import suite_brax  # noqa: E402

needs_brax = pytest.mark.skipif(not suite_brax.is_available(), reason="the agentax[brax] extra is not installed")


def _roll(env, actions, key=0):
    import jax
    state, time_step = env.reset(jax.random.PRNGKey(key))
    step = jax.jit(env.step)
    out = [time_step]
    for action in actions:
        state, time_step = step(state, action)
        out.append(time_step)
    return out


@needs_brax
def test_brax_fast_env_values_truncation_and_auto_reset():
    """Brax's `fast` env: vel += dt * (action > 0), pos += dt * vel, reward = pos, obs = [pos, vel]."""
    import jax.numpy as jnp
    env = suite_brax.load("fast", episode_length=3)
    assert env.max_episode_steps == 3
    assert env.observation_spec().shape == (2,) and env.observation_spec().dtype == np.float32
    spec = env.action_spec()
    assert spec.shape == (1,) and spec.dtype == np.float32 and spec.minimum == -1.0 and spec.maximum == 1.0
    one = jnp.ones((1,), jnp.float32)
    steps = _roll(env, [one] * 5)
    assert [int(s.step_type) for s in steps] == [0, 1, 1, 2, 0, 1]
    dt = 0.02
    vel = [0.0, dt, 2 * dt, 3 * dt]
    pos = [0.0, dt * dt, 3 * dt * dt, 6 * dt * dt]
    for i in range(4):
        np.testing.assert_allclose(np.asarray(steps[i].observation), [pos[i], vel[i]], rtol=1e-5)
    np.testing.assert_allclose([float(s.reward) for s in steps[1:4]], pos[1:], rtol=1e-5)
    assert float(steps[3].discount) == 1.0  # truncated: discount 1, the true final observation kept
    np.testing.assert_array_equal(np.asarray(steps[4].observation), [0.0, 0.0])  # the action was ignored
    assert float(steps[4].reward) == 0.0
    import jax
    _, first = env.reset(jax.random.key(0))  # a new-style typed key works too
    assert int(first.step_type) == StepType.FIRST


@needs_brax
def test_brax_done_is_a_termination_with_discount_zero():
    import jax.numpy as jnp
    from brax.envs.base import Env, State

    class Countdown(Env):  # terminates on its third step, reward = step index
        def reset(self, rng):
            return State(pipeline_state=None, obs=jnp.zeros(3), reward=jnp.float32(0), done=jnp.float32(0))

        def step(self, state, action):
            n = state.obs[0] + 1.0
            return state.replace(obs=jnp.full(3, n), reward=n, done=(n >= 3).astype(jnp.float32))

        @property
        def observation_size(self):
            return 3

        @property
        def action_size(self):
            return 2

        @property
        def backend(self):
            return "none"

    env = suite_brax.BraxEnvironment(Countdown(), episode_length=10, batch_size=2)
    assert env.batch_size == 2 and env.observation_spec().shape == (3,)
    steps = _roll(env, [jnp.zeros((2, 2), jnp.float32)] * 4)
    assert [s.step_type.tolist() for s in steps] == [[0, 0], [1, 1], [1, 1], [2, 2], [0, 0]]
    assert steps[3].discount.tolist() == [0.0, 0.0] and steps[2].discount.tolist() == [1.0, 1.0]
    assert steps[3].reward.tolist() == [3.0, 3.0] and steps[3].observation.tolist() == [[3.0] * 3] * 2


@needs_brax
def test_brax_physics_env_loads_steps_and_matches_its_specs():
    """One small physics env: specs from the env, a few steps. Compiling Brax physics is
    the slow part on CPU (~10 s here), so `_reset`/`_step` are jitted alone (the auto-reset
    around them is the same code the `fast` env's test covers) and unbatched."""
    import jax
    import jax.numpy as jnp
    env = suite_brax.load("inverted_pendulum")
    obs_spec, act_spec = env.observation_spec(), env.action_spec()
    assert obs_spec.shape == (env.brax_env.observation_size,) == (4,)
    assert act_spec.shape == (1,) and act_spec.minimum == -3.0 and act_spec.maximum == 3.0  # its ctrl_range
    state, time_step = jax.jit(env._reset)(jax.random.PRNGKey(0))
    assert int(time_step.step_type) == StepType.FIRST
    step = jax.jit(env._step)
    observations = [np.asarray(time_step.observation)]
    for action in (0.5, -0.5, 0.5):
        state, time_step = step(state, jnp.full((1,), action, jnp.float32), None)
        assert int(time_step.step_type) == StepType.MID and float(time_step.discount) == 1.0
        assert time_step.reward.shape == () and float(time_step.reward) == 1.0  # +1 per step balanced
        assert time_step.observation.shape == (4,) and time_step.observation.dtype == jnp.float32
        observations.append(np.asarray(time_step.observation))
    assert np.isfinite(observations).all() and int(state.t) == 3
    assert len({o.tobytes() for o in observations}) == 4  # the physics moved
    with pytest.raises(ValueError, match="`action`"):
        env._check_action(jnp.full((1,), 5.0, jnp.float32))  # outside ctrl_range: what `step` refuses


@needs_brax
def test_brax_bad_arguments():
    with pytest.raises(ValueError, match=r"suite_brax.load.*`env_id`='halfcheeta'.*halfcheetah"):
        suite_brax.load("halfcheeta")
    with pytest.raises(ValueError, match="`episode_length`"):
        suite_brax.load("fast", episode_length=0)


def test_brax_missing_extra_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(suite_brax, "brax_envs", None)
    assert not suite_brax.is_available() and suite_brax.registered_ids() == []
    with pytest.raises(ImportError, match=r"pip install 'agentax\[brax\]'"):
        suite_brax.load("fast")
