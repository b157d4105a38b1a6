"""Physics environments: Gymnasium's MuJoCo (`agentax[mujoco]`) and Brax (`agentax[brax]`).

Each part is skipped only when its extra is not installed (CI installs both with `[test]`).
"""

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
def test_mujoco_same_seed_same_trajectory_and_render():
    def rollout():
        env = suite_mujoco.load("Hopper-v5")
        env.seed(3)
        obs = [env.reset().observation]
        obs += [env.step(np.full(3, 0.5, np.float32)).observation for _ in range(3)]
        return np.stack(obs), env
    first, env = rollout()
    second, _ = rollout()
    np.testing.assert_array_equal(first, second)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8


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
