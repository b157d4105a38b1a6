"""A training run on disk: config, metrics, returns plot, video and checkpoint in one directory."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from agentax.environments import suite_gym
from agentax.policies.py_jax_policy import PyJaxPolicy
from agentax.training import checkpoint, outputs
from agentax.training.evaluation import compute_avg_return
from agentax.training.reinforce import CompiledTrainer, ReinforceConfig, make_agent, train_python

METRIC_COLUMNS = ["iteration", "loss", "eval_return", "wall_s"]


def new_run_dir(root: str | Path = "runs", name: str = "reinforce") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{name}-{stamp}-{suffix}"
    return path


def load_config(run_dir: str | Path) -> ReinforceConfig:
    data = json.loads((Path(run_dir) / "config.json").read_text())
    data["fc_layer_params"] = tuple(data["fc_layer_params"])
    data["value_fc_layer_params"] = tuple(data["value_fc_layer_params"])
    return ReinforceConfig(**data)


def train_run(config: ReinforceConfig, run_dir: str | Path, echo=print, progress_bar: bool = True) -> dict:
    """Train, then evaluate on the Gymnasium environment, plot, render and checkpoint into `run_dir`."""
    from tqdm import tqdm

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=False)
    (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    writer = outputs.MetricsWriter(run_dir, METRIC_COLUMNS)
    bar = tqdm(total=config.iterations, desc=f"reinforce {config.env} ({config.trainer})", unit="it",
               disable=not progress_bar, leave=False)

    def log(row: dict) -> None:
        writer.write(row)
        parts = [f"step = {row['iteration']}"]
        if "loss" in row:
            parts.append(f"loss = {row['loss']:.4f}")
        if "eval_return" in row:
            parts.append(f"Average Return = {row['eval_return']:.1f}")
        (bar.write if progress_bar else echo)(": ".join(parts))

    try:
        if config.trainer == "python":
            agent, history = train_python(config, log, bar.update)
        else:
            agent, history = CompiledTrainer(config).train(log, bar.update)
    finally:
        bar.close()
        writer.close()

    outputs.plot_returns(history.eval_iterations, history.eval_returns, run_dir / "returns.png",
                         title=f"REINFORCE on {config.env} ({config.trainer} trainer)")
    checkpoint.save_checkpoint(agent, run_dir / "checkpoint")
    summary = {"train_seconds": round(history.train_seconds, 3), "compile_seconds": round(history.compile_seconds, 3),
               "eval_iterations": history.eval_iterations, "eval_returns": history.eval_returns}
    summary.update(evaluate_run(run_dir, config.num_eval_episodes, config.video_episodes, seed=config.seed))
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    echo(f"final Average Return (Gymnasium {config.env}, {config.num_eval_episodes} episodes) = "
         f"{summary['final_eval_return']:.1f}")
    echo(f"run directory: {run_dir}")
    return summary


def evaluate_run(run_dir: str | Path, num_episodes: int = 10, video_episodes: int = 3, seed: int = 0) -> dict:
    """Reload a run's checkpoint, evaluate its greedy policy on the Gymnasium env, render `eval.mp4`."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    env = suite_gym.load(config.env)
    env.seed(seed + 20_000)
    agent = make_agent(config, env.time_step_spec(), env.action_spec())
    checkpoint.restore_checkpoint(agent, run_dir / "checkpoint")
    policy = PyJaxPolicy(agent.policy, action_spec=env.action_spec())
    result = {"final_eval_return": compute_avg_return(env, policy, num_episodes), "final_eval_episodes": num_episodes}
    if video_episodes > 0:
        frames = outputs.record_video(env, policy, run_dir / "eval.mp4", num_episodes=video_episodes)
        result["video_frames"] = frames
    return result
