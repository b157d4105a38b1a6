"""End to end: the CLI's run directory, checkpoints restored in a fresh process, the tutorial example."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import jax
import numpy as np

from agentax.environments import suite_gym
from agentax.replay_buffers import EpisodicReplayBuffer
from agentax.training import checkpoint
from agentax.training.reinforce import PRESETS, make_agent

ROOT = Path(__file__).resolve().parents[1]


def run(*args, timeout=600):
    env = {"AGENTAX_CACHE_DIR": "", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def check_run_dir(run_dir: Path):
    png = imageio.imread(run_dir / "returns.png")
    assert png.ndim == 3 and png.shape[0] > 100
    reader = imageio.get_reader(run_dir / "eval.mp4")
    frames = [frame for frame in reader]
    assert len(frames) >= 10 and frames[0].shape[2] == 3
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert set(rows[0]) == {"iteration", "loss", "eval_return", "wall_s"}
    assert [int(r["iteration"]) for r in rows][0] == 0
    assert (run_dir / "checkpoint" / "checkpoint.msgpack").is_file()
    assert any((run_dir / "tensorboard").iterdir())
    return rows, json.loads((run_dir / "summary.json").read_text())


def test_cli_compiled_training_run_directory(tmp_path):
    run_dir = tmp_path / "compiled"
    out = run("-m", "agentax", "train", "reinforce", "--iterations", "4", "--collect-episodes", "4",
              "--eval-interval", "2", "--log-interval", "2", "--eval-episodes", "2", "--video-episodes", "1",
              "--run-dir", str(run_dir), "--no-progress")
    rows, summary = check_run_dir(run_dir)
    assert [int(r["iteration"]) for r in rows] == [0, 2, 4]
    assert "final Average Return" in out and summary["eval_iterations"] == [0, 2, 4]
    out = run("-m", "agentax", "eval", str(run_dir), "--episodes", "2", "--video-episodes", "1")
    assert "Average Return over 2 episodes" in out


def test_cli_tutorial_preset_on_the_python_path(tmp_path):
    run_dir = tmp_path / "tutorial"
    run("-m", "agentax", "train", "reinforce", "--preset", "tutorial", "--iterations", "2", "--eval-interval", "1",
        "--log-interval", "1", "--eval-episodes", "1", "--video-episodes", "1", "--run-dir", str(run_dir),
        "--no-progress")
    rows, _ = check_run_dir(run_dir)
    assert [int(r["iteration"]) for r in rows] == [0, 1, 2] and rows[1]["loss"] != ""
    config = json.loads((run_dir / "config.json").read_text())
    assert config["trainer"] == "python" and config["learning_rate"] == 1e-3


def test_cli_rejects_bad_flags():
    result = subprocess.run([sys.executable, "-m", "agentax", "train", "reinforce", "--iterations", "0"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2 and "iterations" in result.stderr


def test_checkpoint_restores_exactly_in_a_fresh_process(tmp_path):
    env = suite_gym.load("CartPole-v0")
    env.seed(0)
    agent = make_agent(PRESETS["tutorial"], env.time_step_spec(), env.action_spec())
    agent.initialize()
    buffer = EpisodicReplayBuffer(seed=0)
    rng = np.random.default_rng(0)
    time_step = env.reset()
    while buffer.num_episodes < 3:  # three random episodes
        action = np.int64(rng.integers(2))
        next_time_step = env.step(action)
        from agentax.trajectories import PolicyStep, from_transition
        buffer.observer(from_transition(time_step, PolicyStep(action), next_time_step))
        time_step = next_time_step
    experience, mask = buffer.gather_all()
    for _ in range(3):
        agent.train(experience, mask)
    checkpoint.save_checkpoint(agent, tmp_path / "ckpt")
    np.savez(tmp_path / "batch.npz", mask=mask, **experience._asdict() | {"policy_info": np.zeros(1)})
    next_loss = float(agent.train(experience, mask).loss)
    script = f"""
import numpy as np, jax, json
from agentax.environments import suite_gym
from agentax.training import checkpoint
from agentax.training.reinforce import PRESETS, make_agent
from agentax.trajectories import Trajectory
env = suite_gym.load("CartPole-v0")
agent = make_agent(PRESETS["tutorial"], env.time_step_spec(), env.action_spec())
state = checkpoint.restore_checkpoint(agent, {str(tmp_path / 'ckpt')!r})
d = dict(np.load({str(tmp_path / 'batch.npz')!r}))
mask = d.pop("mask"); d["policy_info"] = ()
leaves = [np.asarray(x).tolist() for x in jax.tree.leaves(state.actor_params)]
print(json.dumps({{"step": int(state.step), "loss": float(agent.train(Trajectory(**d), mask).loss),
                   "params": leaves}}))
"""
    restored = json.loads(run("-c", script).strip().splitlines()[-1])
    assert restored["step"] == 3
    assert restored["loss"] == next_loss  # the same next loss, bit for bit
    # The parameters before that step are identical too.
    agent_params = checkpoint.restore_checkpoint(agent, tmp_path / "ckpt").actor_params
    assert restored["params"] == [np.asarray(x).tolist() for x in jax.tree.leaves(agent_params)]


def test_drivers_tutorial_example_runs():
    out = run(str(ROOT / "examples" / "drivers_tutorial.py"))
    assert "Average Return:" in out and out.count("Number of Episodes:  2") == 2
    assert out.count("Number of Episodes:  4") == 2
