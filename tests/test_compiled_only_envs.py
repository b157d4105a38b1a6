"""Compiled-only environments (gymnax, Brax ids) from the CLI: `JaxAsPyEnvironment` (a JAX env
stepped from Python), `--trainer compiled` on an id Gymnasium lacks, and the run's final
evaluation and `agentax eval` on the JAX env, with the video skipped and said so."""

import json

import jax
import numpy as np
import pytest

from agentax import cli
from agentax.drivers.py_driver import PyDriver
from agentax.environments import jax_as_py_environment
from agentax.environments.jax_as_py_environment import JaxAsPyEnvironment
from agentax.environments.jax_cartpole import CartPole
from agentax.policies.random_py_policy import RandomPyPolicy
from agentax.train.evaluation import compute_avg_return
from agentax.trajectories import time_step as ts

ACTIONS = [0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0]  # crosses two episode boundaries of 5 steps


def direct_time_steps(jax_env, key, actions):
    step = jax.jit(jax_env.step)
    state, time_step = jax.jit(jax_env.reset)(key)
    steps = [time_step]
    for action in actions:
        state, time_step = step(state, action)
        steps.append(time_step)
    return steps


def assert_same(a: ts.TimeStep, b: ts.TimeStep, squeeze=False):
    for x, y in zip(a, b):
        y = np.asarray(y)
        np.testing.assert_array_equal(np.asarray(x), y[0] if squeeze else y)
        assert np.asarray(x).dtype == y.dtype


@pytest.mark.parametrize("batch_size", [None, 1])
def test_view_gives_the_jax_envs_time_steps_for_the_same_key_and_actions(batch_size):
    """The JAX env stepped directly (a batch of one: actions of shape (1,), time steps squeezed here)."""
    squeeze = batch_size == 1
    expected = direct_time_steps(CartPole(max_episode_steps=5, batch_size=batch_size), jax.random.PRNGKey(7),
                                 [np.full((1,) if squeeze else (), a, np.int32) for a in ACTIONS])
    env = JaxAsPyEnvironment(CartPole(max_episode_steps=5, batch_size=batch_size), seed=7)
    assert env.batch_size is None and not env.batched
    assert env.time_step_spec() == CartPole(5).time_step_spec()
    got = [env.reset()] + [env.step(np.int32(a)) for a in ACTIONS]
    assert [int(t.step_type) for t in got] == [0, 1, 1, 1, 1, 2, 0, 1, 1, 1, 1, 2, 0, 1]
    for g, e in zip(got, expected):
        assert isinstance(g.observation, np.ndarray) and g.observation.shape == (4,)
        assert_same(g, e, squeeze)
    assert_same(env.current_time_step(), expected[-1], squeeze)


def test_seed_auto_reset_and_action_checks():
    env = jax_as_py_environment.load("CartPole-v1")
    env.seed(7)
    first = env.reset()
    assert_same(first, CartPole(500).reset(jax.random.PRNGKey(7))[1])
    env.seed(7)
    assert_same(env.reset(), first)
    again = env.reset()  # an explicit reset without seed(): a new key
    assert not np.array_equal(again.observation, first.observation)
    with pytest.raises(ValueError, match="action"):
        env.step(np.int32(2))  # outside [0, 1]: refused, never clipped
    with pytest.raises(ValueError, match="action"):
        env.step(np.float32(0.5))  # a lossy cast

    short = JaxAsPyEnvironment(CartPole(max_episode_steps=1))
    short.reset()
    assert short.step(np.int32(0)).is_last()
    assert short.step(np.int32(5)).is_first()  # after LAST the action is ignored (not even checked)


def test_py_driver_and_compute_avg_return_run_on_the_view():
    env = JaxAsPyEnvironment(CartPole(max_episode_steps=5), seed=3)
    policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    trajectories = []
    driver = PyDriver(env, policy, [trajectories.append], max_episodes=2)
    driver.run(env.reset())
    # 5 steps an episode (CartPole cannot fall in 5), then the boundary (LAST -> FIRST) that counts it.
    assert [int(t.step_type) for t in trajectories] == [0, 1, 1, 1, 1, 2] * 2
    assert [int(t.next_step_type) for t in trajectories] == [1, 1, 1, 1, 2, 0] * 2
    assert compute_avg_return(env, policy, num_episodes=3) == 5.0  # reward 1 a step, 5 steps


def test_render_where_the_jax_env_can_and_a_clear_error_where_it_cannot():
    frame = jax_as_py_environment.load("CartPole-v0").render()
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8 and frame.min() == 0
    breakout = jax_as_py_environment.load("Breakout-MinAtar")
    time_step = breakout.reset()
    assert time_step.observation.shape == (10, 10, 4) and breakout.action_spec().maximum == 2
    with pytest.raises(NotImplementedError, match="Breakout-MinAtar.*cannot render"):
        breakout.render()


def test_view_refuses_a_batch_larger_than_one():
    with pytest.raises(ValueError, match="batch_size=2"):
        JaxAsPyEnvironment(CartPole(batch_size=2))
    with pytest.raises(TypeError, match="JaxEnvironment"):
        JaxAsPyEnvironment("CartPole-v1")


TINY = ["--iterations", "2", "--num-envs", "2", "--conv-layers", "4", "3", "1", "--fc-layers", "16",
        "--collect-steps", "4", "--train-steps", "1", "--initial-collect-steps", "8", "--replay-capacity", "32",
        "--batch-size", "4", "--eval-episodes", "1", "--eval-interval", "2", "--log-interval", "2",
        "--video-episodes", "1", "--no-progress"]


def test_dqn_trains_on_breakout_minatar_compiled_and_evaluates_on_the_jax_env(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert cli.main(["train", "dqn", "--env", "Breakout-MinAtar", "--trainer", "compiled",
                     "--run-dir", str(run_dir), *TINY]) == 0
    out = capsys.readouterr().out
    assert "final Average Return (compiled Breakout-MinAtar, 1 episodes" in out
    assert "video: not rendered: NotImplementedError" in out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["env"] == "Breakout-MinAtar" and summary["iterations"] == 2
    assert summary["final_eval_env"] == "compiled" and summary["final_eval_episodes"] == 1
    assert isinstance(summary["final_eval_return"], float) and summary["policy_train_step"] == 2
    assert summary["video"].startswith("not rendered: ") and "cannot render" in summary["video"]
    assert "video_frames" not in summary and not (run_dir / "eval.mp4").exists()

    assert cli.main(["eval", str(run_dir), "--episodes", "1", "--video-episodes", "1", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "Average Return over 1 episodes = " in out and "video: not rendered: NotImplementedError" in out
    assert cli.main(["eval", str(run_dir), "--episodes", "1", "--video-episodes", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["video"].startswith("not rendered: NotImplementedError") and out["video_frames"] is None


def test_python_trainer_refuses_a_compiled_only_id_naming_the_compiled_trainer(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert cli.main(["train", "dqn", "--env", "Breakout-MinAtar", "--trainer", "python",
                     "--run-dir", str(run_dir), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "'Breakout-MinAtar' is a compiled-only environment" in err and "use --trainer compiled" in err
    assert not run_dir.exists()
