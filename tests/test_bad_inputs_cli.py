"""The catalogue of bad input to the training frame: every case is a clear error naming the argument (flag or
field), raised up front, leaving nothing half-made; damaged run directories name the file and the cause."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentax.agents.reinforce.config import ReinforceConfig
from agentax.train.compiled_trainer import CompiledTrainer
from agentax.train.run import train_run

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(iterations=2, collect_episodes_per_iteration=2, fc_layer_params=(8,), value_fc_layer_params=(8,),
             num_eval_episodes=1, video_episodes=0, eval_interval=2, log_interval=2)


@pytest.mark.parametrize("field, value, words", [
    ("learning_rate", float("nan"), "--learning-rate"),
    ("learning_rate", float("inf"), "--learning-rate"),
    ("learning_rate", 0.0, "--learning-rate"),
    ("gradient_clipping", -1.0, "--gradient-clipping"),
    ("entropy_regularization", -0.1, "--entropy-regularization"),
    ("gamma", 1.5, "--gamma"),
    ("fc_layer_params", (0,), "--fc-layer-params"),
    ("value_fc_layer_params", (64, -3), "--value-fc-layer-params"),
    ("iterations", 0, "--iterations"),
    ("collect_episodes_per_iteration", 0, "--collect-episodes-per-iteration"),
    ("num_eval_episodes", 0, "--num-eval-episodes"),
    ("eval_interval", -5, "--eval-interval"),
    ("checkpoint_interval", -1, "--checkpoint-interval"),
    ("video_episodes", -1, "--video-episodes"),
    ("seed", -1, "--seed"),
    ("trainer", "gpu", "--trainer"),
    ("sample_batch_size", -2, "--sample-batch-size"),
])
def test_config_refuses_values_that_wreck_a_run(field, value, words):
    with pytest.raises(ValueError, match=words) as info:
        ReinforceConfig(**{field: value})
    assert repr(value)[:3] in str(info.value) or str(value)[:3] in str(info.value)


def cli(*args, cwd=ROOT, timeout=300):
    env = {"AGENTAX_CACHE_DIR": os.environ["AGENTAX_CACHE_DIR"], "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    return subprocess.run([sys.executable, "-m", "agentax", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


@pytest.mark.parametrize("args, words", [
    (["--learning-rate", "nan"], "--learning-rate"),
    (["--gradient-clipping", "-1"], "--gradient-clipping"),
    (["--fc-layers", "0"], "--fc-layer-params"),
    (["--entropy-regularization", "-1"], "--entropy-regularization"),
    (["--iterations", "0"], "--iterations"),
    (["--trainer", "tpu"], "tpu"),
    (["--env", "CartPole-v9"], "CartPole-v0"),  # suggests close ids
    (["--env", "Taxi-v4"], "no JAX environment"),
    (["--num-seeds", "0"], "--num-seeds"),
    (["--num-seeds", "2", "--trainer", "python"], "--num-seeds"),
    (["--preset", "nope"], "nope"),
    (["--no-such-flag", "1"], "--no-such-flag"),
])
def test_cli_refuses_bad_flags_with_exit_code_2_and_makes_no_run_directory(tmp_path, args, words):
    run_dir = tmp_path / "run"
    result = cli("train", "reinforce", "--run-dir", str(run_dir), *args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert not run_dir.exists() and list(tmp_path.iterdir()) == []


def test_an_output_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    result = cli("train", "reinforce", "--run-dir", str(tmp_path / "file" / "run"), "--iterations", "1")
    assert result.returncode == 2 and "is a file" in result.stderr and "--run-dir" in result.stderr


def test_a_batch_that_cannot_fit_is_refused_before_compiling():
    config = ReinforceConfig(collect_episodes_per_iteration=5_000_000)
    with pytest.raises(ValueError, match="collect_episodes_per_iteration") as info:
        CompiledTrainer(config)
    assert "GiB" in str(info.value)


def test_eval_names_a_missing_or_damaged_run(tmp_path):
    result = cli("eval", str(tmp_path / "nothing"), "--json")
    assert result.returncode == 2 and "config.json" in result.stderr and "not an agentax run" in result.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    result = cli("eval", str(tmp_path / "bad"))
    assert result.returncode == 2 and "config.json is damaged" in result.stderr
    result = cli("eval", str(tmp_path / "bad"), "--episodes", "0")
    assert result.returncode == 2 and "--episodes" in result.stderr


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    train_run(ReinforceConfig(**SMALL), run_dir, progress=False, echo=lambda *a: None)
    return run_dir


def copy_run(trained_run, tmp_path):
    import shutil
    target = tmp_path / "copy"
    shutil.copytree(trained_run, target)
    return target


def test_eval_of_a_truncated_saved_policy_names_the_file(trained_run, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    params = run_dir / "policies" / "greedy_policy" / "variables" / "params.npz"
    params.write_bytes(params.read_bytes()[:50])
    result = cli("eval", str(run_dir), "--json")
    assert result.returncode == 2 and "params.npz" in result.stderr and "Traceback" not in result.stderr


def test_resume_from_a_truncated_checkpoint_names_the_checkpoint(trained_run, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    latest = max(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit())
    for path in (run_dir / "checkpoints" / str(latest)).rglob("*"):
        if path.is_file() and path.stat().st_size > 100:
            path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(Exception, match=f"checkpoints/{latest}"):
        train_run(ReinforceConfig(**{**SMALL, "iterations": 4}), run_dir, progress=False, echo=lambda *a: None)


def test_a_config_that_does_not_match_the_checkpoint_is_refused(trained_run, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    config = json.loads((run_dir / "config.json").read_text())
    config["fc_layer_params"] = [32]  # edited by hand: the checkpoint holds 8 units
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="checkpoints/2") as info:
        train_run(ReinforceConfig(**{**SMALL, "fc_layer_params": (32,)}), run_dir, progress=False,
                  echo=lambda *a: None)
    assert "shape" in str(info.value) or "match" in str(info.value)


def test_python_and_cli_give_the_same_error():
    with pytest.raises(ValueError) as info:
        dataclasses.replace(ReinforceConfig(), learning_rate=float("nan"))
    result = cli("train", "reinforce", "--learning-rate", "nan")
    unboxed = "".join(ch for ch in result.stderr if ch not in "│╭╮╰╯─ \n")  # tyro frames its errors
    assert result.returncode == 2 and "".join(str(info.value).split()) in unboxed


def test_num_seeds_must_be_positive():
    with pytest.raises(ValueError, match="--num-seeds"):
        CompiledTrainer(ReinforceConfig(**SMALL), num_seeds=0)


def test_every_flag_spelling_of_the_first_cli_still_parses():
    from agentax.cli import parse_train

    config, options = parse_train("reinforce", [
        "--preset", "tutorial", "--env", "CartPole-v1", "--trainer", "compiled", "--iterations", "7",
        "--collect-episodes", "3", "--sample-batch-size", "2", "--learning-rate", "0.002", "--gamma", "0.9",
        "--entropy-regularization", "0.01", "--gradient-clipping", "1.5", "--log-interval", "2",
        "--eval-interval", "3", "--eval-episodes", "4", "--seed", "5", "--video-episodes", "0",
        "--fc-layers", "16", "16", "--value-fc-layers", "8", "--no-value-baseline", "--no-normalize-returns",
        "--run-dir", "/tmp/x", "--no-progress"])
    assert (config.env, config.trainer, config.iterations, config.collect_episodes_per_iteration) == \
        ("CartPole-v1", "compiled", 7, 3)
    assert (config.sample_batch_size, config.learning_rate, config.gamma, config.entropy_regularization) == \
        (2, 0.002, 0.9, 0.01)
    assert (config.gradient_clipping, config.log_interval, config.eval_interval, config.num_eval_episodes) == \
        (1.5, 2, 3, 4)
    assert (config.seed, config.video_episodes, config.fc_layer_params, config.value_fc_layer_params) == \
        (5, 0, (16, 16), (8,))
    assert not config.value_baseline and not config.normalize_returns
    assert options.run_dir == "/tmp/x" and options.no_progress and options.preset == "tutorial"
    defaults, _ = parse_train("reinforce", [])
    assert defaults == ReinforceConfig()  # the defaults did not change
