"""End to end through the CLI: the run directory contract, exact resume, kill -9 and Ctrl-C, saved policies,
vmapped seeds, refused input. Small networks and few iterations; compiled programs are cached on disk."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--collect-episodes", "4", "--fc-layers", "8", "--value-fc-layers", "8", "--eval-episodes", "2",
         "--video-episodes", "0", "--no-progress"]


@pytest.fixture(scope="module")
def cache_dir():
    return os.environ["AGENTAX_CACHE_DIR"]  # the suite's XLA disk cache (tests/conftest.py)


def command(cache_dir, *args):
    env = {"AGENTAX_CACHE_DIR": str(cache_dir), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    return [sys.executable, "-m", "agentax", *args], env


def cli(cache_dir, *args, expect=0, timeout=300):
    argv, env = command(cache_dir, *args)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    assert result.returncode == expect, result.stderr[-3000:]
    return result


def params_of(run_dir: Path, name="greedy_policy"):
    with np.load(run_dir / "policies" / name / "variables" / "params.npz") as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k[1:]))]


def rows_of(run_dir: Path):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_run_directory_contract_and_eval_json(tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    cli(cache_dir, "train", "reinforce", "--iterations", "4", "--eval-interval", "2", "--log-interval", "2",
        "--run-dir", str(run_dir), *SMALL[:-3], "--video-episodes", "1", "--no-progress")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["agent"] == "reinforce" and config["fc_layer_params"] == [8]
    rows = rows_of(run_dir)
    assert [r["iteration"] for r in rows] == [0, 2, 4]
    assert all({"env_steps", "train_step", "wall_seconds"} <= set(r) for r in rows)
    assert [r["train_step"] for r in rows] == [0, 2, 4] and rows[1]["env_steps"] > 4 * 8
    assert isinstance(rows[2]["loss"], float) and "eval_return" in rows[0]
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("agent", "env", "seed", "trainer", "env_steps", "train_steps", "compile_seconds", "train_seconds",
                "wall_seconds", "final_eval_return", "best_eval_return", "eval_returns"):
        assert key in summary, key
    assert summary["train_steps"] == 4 and summary["eval_returns"][0] == [0, rows[0]["eval_return"]]
    assert summary["train_seconds"] < summary["wall_seconds"] and summary["compile_seconds"] > 0
    assert imageio.imread(run_dir / "returns.png").shape[0] > 100
    assert sum(1 for _ in imageio.get_reader(run_dir / "eval.mp4")) >= 10
    for name in ("greedy_policy", "collect_policy"):
        assert (run_dir / "policies" / name / "action.jaxexport").is_file()
    assert any((run_dir / "tensorboard").iterdir()) and (run_dir / "checkpoints").is_dir()
    out = json.loads(cli(cache_dir, "eval", str(run_dir), "--episodes", "3", "--json").stdout)
    assert out["env"] == "CartPole-v0" and out["episodes"] == 3 and out["average_return"] > 0
    assert out["train_step"] == 4 and out["video"] is None and out["video_frames"] is None


def test_stop_and_resume_ends_bit_identical_to_an_uninterrupted_run(tmp_path, cache_dir):
    full, split = tmp_path / "full", tmp_path / "split"
    common = ["--eval-interval", "3", "--log-interval", "3", *SMALL]
    cli(cache_dir, "train", "reinforce", "--iterations", "6", "--run-dir", str(full), *common)
    cli(cache_dir, "train", "reinforce", "--iterations", "3", "--run-dir", str(split), *common)
    out = cli(cache_dir, "train", "reinforce", "--iterations", "6", "--resume", "--run-dir", str(split), *common)
    assert "resuming" in out.stdout
    for a, b in zip(params_of(full), params_of(split)):
        np.testing.assert_array_equal(a, b)
    assert rows_of(full)[-1]["loss"] == rows_of(split)[-1]["loss"]
    assert [r["iteration"] for r in rows_of(split)] == [0, 3, 6]
    summaries = [json.loads((d / "summary.json").read_text()) for d in (full, split)]
    assert summaries[0]["final_eval_return"] == summaries[1]["final_eval_return"]
    assert summaries[0]["eval_returns"] == summaries[1]["eval_returns"]


def start(cache_dir, *args):
    argv, env = command(cache_dir, *args)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)


def wait_for(condition, timeout=120):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def checkpoint_steps(run_dir: Path):
    path = run_dir / "checkpoints"
    return sorted(int(p.name) for p in path.iterdir() if p.name.isdigit()) if path.is_dir() else []


def test_sigkill_after_a_checkpoint_then_resume_matches_an_uninterrupted_run(tmp_path, cache_dir):
    full, killed = tmp_path / "full", tmp_path / "killed"
    args = ["train", "reinforce", "--iterations", "60", "--checkpoint-interval", "3", "--eval-interval", "30",
            "--log-interval", "3", *SMALL]
    cli(cache_dir, *args, "--run-dir", str(full))
    process = start(cache_dir, *args, "--run-dir", str(killed))
    wait_for(lambda: any(s >= 3 for s in checkpoint_steps(killed)))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not (killed / "summary.json").exists()  # killed mid-run
    cli(cache_dir, *args, "--run-dir", str(killed))  # the same command continues
    for a, b in zip(params_of(full), params_of(killed)):
        np.testing.assert_array_equal(a, b)
    final = [json.loads((d / "summary.json").read_text())["final_eval_return"] for d in (full, killed)]
    assert final[0] == final[1]
    assert rows_of(full)[-1]["loss"] == rows_of(killed)[-1]["loss"]


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    args = ["train", "reinforce", "--iterations", "100000", "--checkpoint-interval", "100000",
            "--log-interval", "50", "--eval-interval", "100000", *SMALL, "--run-dir", str(run_dir)]
    process = start(cache_dir, *args)
    wait_for(lambda: (run_dir / "metrics.jsonl").exists() and len(rows_of(run_dir)) >= 2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and b"checkpoint saved" in err
    steps = checkpoint_steps(run_dir)
    assert steps[-1] >= 50  # saved at the interrupt, not at an interval
    out = json.loads(cli(cache_dir, "eval", str(run_dir), "--episodes", "1", "--json").stdout)
    assert out["train_step"] == steps[-1]


def test_kill_at_random_moments_always_leaves_a_usable_run_directory(tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    args = ["train", "reinforce", "--iterations", "300", "--checkpoint-interval", "2", "--eval-interval", "50",
            "--log-interval", "2", *SMALL, "--run-dir", str(run_dir)]
    rng = random.Random(0)
    for attempt in range(3):
        process = start(cache_dir, *args)
        time.sleep(rng.uniform(0.5, 6.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".run.partial")]
        for p in leftovers:  # a start killed before its rename: the next start replaces its own
            assert not (run_dir.exists() and p == run_dir)
        if run_dir.exists():
            for line in (run_dir / "metrics.jsonl").read_text().splitlines():
                json.loads(line)
            out = json.loads(cli(cache_dir, "eval", str(run_dir), "--episodes", "1", "--json").stdout)
            assert out["episodes"] == 1
    cli(cache_dir, *args, timeout=600)
    assert json.loads((run_dir / "summary.json").read_text())["train_steps"] == 300


def test_num_seeds_trains_in_one_program_with_a_row_per_seed(tmp_path, cache_dir):
    run_dir = tmp_path / "seeds"
    cli(cache_dir, "train", "reinforce", "--iterations", "2", "--eval-interval", "2", "--log-interval", "2",
        "--num-seeds", "3", "--run-dir", str(run_dir), *SMALL)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [row["seed"] for row in summary["per_seed"]] == [0, 1, 2]
    assert len(rows_of(run_dir)[-1]["loss_per_seed"]) == 3
    assert len(set(rows_of(run_dir)[-1]["loss_per_seed"])) == 3


def test_python_trainer_tutorial_preset(tmp_path, cache_dir):
    run_dir = tmp_path / "tutorial"
    cli(cache_dir, "train", "reinforce", "--preset", "tutorial", "--iterations", "2", "--eval-interval", "1",
        "--log-interval", "1", "--eval-episodes", "1", "--video-episodes", "0", "--no-progress",
        "--run-dir", str(run_dir))
    config = json.loads((run_dir / "config.json").read_text())
    assert config["trainer"] == "python" and config["learning_rate"] == 1e-3
    rows = rows_of(run_dir)
    assert [r["iteration"] for r in rows] == [0, 1, 2] and rows[1]["env_steps"] >= 2 * 8


def test_a_run_directory_of_another_command_is_refused_and_left_alone(tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    cli(cache_dir, "train", "reinforce", "--iterations", "2", "--eval-interval", "2", "--log-interval", "2",
        "--run-dir", str(run_dir), *SMALL)
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    err = cli(cache_dir, "train", "reinforce", "--iterations", "2", "--fc-layers", "16", "--run-dir", str(run_dir),
              *SMALL[2:4], *SMALL[6:], expect=2).stderr
    assert "holds another run" in err and "fc_layer_params" in err
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("mine")
    err = cli(cache_dir, "train", "reinforce", "--run-dir", str(tmp_path / "plain"), *SMALL, expect=2).stderr
    assert "not an agentax run directory" in err
    err = cli(cache_dir, "train", "reinforce", "--resume", "--run-dir", str(tmp_path / "nothing"), *SMALL,
              expect=2).stderr
    assert "no run to resume" in err and not (tmp_path / "nothing").exists()


def test_list_version_and_help_show_the_presets_defaults(cache_dir):
    assert "reinforce" in cli(cache_dir, "list").stdout and "--preset tutorial" in cli(cache_dir, "list").stdout
    assert cli(cache_dir, "--version").stdout.startswith("agentax ")
    help_text = cli(cache_dir, "train", "reinforce", "--preset", "tutorial", "--help").stdout
    assert "(default: python)" in help_text and "(default: 0.001)" in help_text
    assert "--collect-episodes" in help_text and "{compiled,python}" in help_text
    assert "--json" in cli(cache_dir, "eval", "--help").stdout


def test_a_saved_policy_drives_gymnasium_without_the_training_stack(tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    cli(cache_dir, "train", "reinforce", "--iterations", "2", "--eval-interval", "2", "--log-interval", "2",
        "--run-dir", str(run_dir), *SMALL)
    expected = json.loads(cli(cache_dir, "eval", str(run_dir), "--episodes", "3", "--json").stdout)
    script = f"""
import json, sys
from agentax.policies import policy_loader
policy = policy_loader.load({str(run_dir / 'policies' / 'greedy_policy')!r})
heavy = [m for m in ("flax", "optax", "gymnasium") if m in sys.modules]
from agentax.environments import suite_gym  # the environment needs gymnasium; the policy did not
from agentax.train.evaluation import compute_avg_return
env = suite_gym.load("CartPole-v0")
env.seed(20000)
print(json.dumps({{"heavy": heavy, "average_return": compute_avg_return(env, policy, 3)}}))
"""
    argv, env = command(cache_dir, "x")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["heavy"] == [] and out["average_return"] == expected["average_return"]
