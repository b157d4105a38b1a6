"""A training run on disk, the same for every agent and both trainers.

The run directory holds `config.json`, `metrics.jsonl`, `checkpoints/` (everything a
run needs to continue), `policies/{greedy_policy,collect_policy}/` (exports that run
without agentax's training stack), `returns.png`, `eval.mp4`, `summary.json` and
TensorBoard events under `tensorboard/`. Running the same command on an existing run
directory continues from its last checkpoint; a directory made by another command
is refused, never overwritten.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np

from agentax.train import outputs
from agentax.train.config import TrainConfig
from agentax.train.triggers import GREEDY_POLICY_SAVED_MODEL_DIR, PolicySavedModelTrigger
from agentax.utils import common

AGENTS = {"reinforce": "agentax.agents.reinforce.config", "dqn": "agentax.agents.dqn.config",
          "ddqn": "agentax.agents.dqn.ddqn_config", "c51": "agentax.agents.categorical_dqn.config",
          "sac": "agentax.agents.sac.config",
          "td3": "agentax.agents.td3.config", "ddpg": "agentax.agents.ddpg.config",
          "ppo": "agentax.agents.ppo.config"}
"""Agent name -> the module holding its `CONFIG` class and `PRESETS`."""

CHECKPOINT_DIR = "checkpoints"
POLICIES_DIR = "policies"


def agent_config_module(name: str):
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; agents: {', '.join(sorted(AGENTS))}")
    return importlib.import_module(AGENTS[name])


def new_run_dir(name: str, root: str | Path = "runs") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{name}-{stamp}-{suffix}"
    return path


def load_config(run_dir: str | Path) -> TrainConfig:
    """The config a run directory was made with (a clear error if it is missing or damaged)."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; {run_dir} is not an agentax run directory")
    try:
        data = json.loads(path.read_text())
        module = agent_config_module(data.pop("agent"))
        fields = {f.name: f for f in dataclasses.fields(module.CONFIG)}
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        unknown = set(data) - set(fields)
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        return module.CONFIG(**data)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} is damaged or not an agentax config: {err}") from err


def _check_run_dir(run_dir: Path, config: TrainConfig, resume: bool) -> bool:
    """Whether `run_dir` holds a run to continue; refuses a directory it must not touch."""
    for parent in [run_dir, *run_dir.parents]:
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"`run_dir` (--run-dir) {run_dir}: {parent} is a file, not a directory")
    if not run_dir.exists() or not any(run_dir.iterdir()):
        if resume:
            raise ValueError(f"--resume: {run_dir} holds no run to resume")
        return False
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"`run_dir` (--run-dir) {run_dir} exists and is not an agentax run directory "
                         f"(no config.json); choose another directory")
    previous = load_config(run_dir)
    ours, theirs = config.to_dict(), previous.to_dict()
    changed = [k for k in sorted(set(ours) | set(theirs))
               if ours.get(k) != theirs.get(k) and k not in TrainConfig.RESUMABLE_CHANGES]
    if changed:
        details = ", ".join(f"{k}: {theirs.get(k)!r} there, {ours.get(k)!r} now" for k in changed)
        raise ValueError(f"`run_dir` (--run-dir) {run_dir} holds another run ({details}); it was not changed. "
                         f"Use another --run-dir, or the same settings to continue it")
    return True


def make_trainer(config: TrainConfig, num_seeds: int = 1):
    if config.distributed:  # Ray is imported only here
        from agentax.distributed.trainer import DistributedTrainer
        return DistributedTrainer(config, num_seeds)
    if config.trainer == "compiled":
        from agentax.train.compiled_trainer import CompiledTrainer
        return CompiledTrainer(config, num_seeds)
    from agentax.train.python_trainer import PythonTrainer
    return PythonTrainer(config, num_seeds)


class _Interrupt:
    """Turns Ctrl-C (SIGINT) and SIGTERM into a flag the loop checks between chunks."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class RunInterrupted(Exception):
    """The run was interrupted; its checkpoint was saved first."""


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values))


def train_run(config: TrainConfig, run_dir: str | Path | None = None, *, num_seeds: int = 1, resume: bool = False,
              progress: bool = True, echo=print) -> dict:
    """Train `config` into `run_dir` (continuing a run already there); returns the summary.

    A new run is set up in a hidden sibling directory (config, a first checkpoint, the
    saved policies, the first evaluation) and renamed into place, so `run_dir` exists
    only once it can be evaluated and resumed: a run killed at any moment never leaves
    a half-made run directory.
    """
    config.check_environment()
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(config.agent_name)
    continuing = _check_run_dir(run_dir, config, resume)
    trainer = make_trainer(config, num_seeds)
    try:
        return _train(config, run_dir, trainer, continuing, progress, echo)
    finally:
        close = getattr(trainer, "close", None)  # the distributed trainer's Ray actors (and the cluster it started)
        if close is not None:
            close()


def _train(config: TrainConfig, run_dir: Path, trainer, continuing: bool, progress: bool, echo) -> dict:
    start = time.perf_counter()
    trainer.initialize()
    if not continuing:
        staging = run_dir.with_name(f".{run_dir.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            with _Session(config, staging, trainer, start, trainer.compile_seconds, progress, echo) as session:
                session.evaluate_and_log(0)
                session.save_checkpoint()
            if run_dir.exists():
                run_dir.rmdir()  # empty (checked above)
            os.rename(staging, run_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        start, compile_seconds = time.perf_counter(), 0.0  # the checkpoint's clock counts what came before
    else:
        compile_seconds = trainer.compile_seconds
    with _Session(config, run_dir, trainer, start, compile_seconds, progress, echo) as session:
        if continuing:
            echo(f"resuming {run_dir} from iteration {trainer.iteration_count}")
        session.train()
        return session.finish()


class _Session:
    """One process's work on a run directory: restore, train in chunks, log, checkpoint, finish."""

    def __init__(self, config: TrainConfig, run_dir: Path, trainer, start: float, compile_seconds: float,
                 progress: bool, echo):
        """`start`: when this session's time began; `compile_seconds`: how much of it was compilation."""
        self.config, self.run_dir, self.trainer, self.start, self.progress, self.echo = (
            config, run_dir, trainer, start, progress, echo)
        self.compile_seconds = compile_seconds
        run_dir.mkdir(parents=True, exist_ok=True)
        self.clock = common.Variable(np.zeros(2, np.float64), name="wall_and_train_seconds")
        self.checkpointer = common.Checkpointer(run_dir / CHECKPOINT_DIR, max_to_keep=3, clock=self.clock,
                                                **trainer.checkpoint_objects())
        self.checkpointer.initialize_or_restore()
        self.offsets = tuple(float(x) for x in self.clock.value())
        iteration = trainer.iteration_count
        self.rows = outputs.read_metrics(run_dir / "metrics.jsonl", up_to_iteration=iteration)
        outputs.write_atomic(run_dir / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in self.rows))
        outputs.write_atomic(run_dir / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
        trainer.select_seed(0)
        self.train_step = trainer.agent.train_step_counter
        self.policy_trigger = PolicySavedModelTrigger(run_dir / POLICIES_DIR, trainer.agent, self.train_step,
                                                      interval=0)
        self.writer = outputs.MetricsWriter(run_dir)
        self.bar = None

    def __enter__(self):
        from tqdm import tqdm

        config = self.config
        self.bar = tqdm(total=config.iterations, initial=min(self.trainer.iteration_count, config.iterations),
                        disable=not self.progress, desc=f"{config.agent_name} {config.env} ({config.trainer})",
                        unit="it", leave=False)
        return self

    def __exit__(self, *exc):
        self.bar.close()
        self.writer.close()

    def elapsed(self) -> tuple[float, float]:
        """(wall seconds, wall seconds excluding compilation), over every session of the run."""
        now = time.perf_counter() - self.start
        return self.offsets[0] + now, self.offsets[1] + now - self.compile_seconds

    def log(self, row: dict) -> None:
        self.rows.append(row)
        self.writer.write(row)
        text = [f"step = {row['iteration']}"]
        if "loss" in row:
            text.append(f"loss = {row['loss']:.4f}")
        if "eval_return" in row:
            text.append(f"Average Return = {row['eval_return']:.1f}")
        (self.bar.write if self.progress else self.echo)(": ".join(text))

    def row(self, iteration: int) -> dict:
        trainer = self.trainer
        return {"iteration": iteration, "train_step": int(trainer.train_steps_now()[0]),
                "env_steps": int(trainer.env_steps_now()[0]), "wall_seconds": round(self.elapsed()[0], 4)}

    def evaluate(self, row: dict) -> None:
        returns = self.trainer.evaluate_now()
        row["eval_return"] = _mean(returns)
        if self.trainer.num_seeds > 1:
            row["eval_return_per_seed"] = returns.tolist()

    def evaluate_and_log(self, iteration: int) -> None:
        row = self.row(iteration)
        self.evaluate(row)
        self.log(row)

    def save_checkpoint(self) -> None:
        """Checkpoint, then the saved policies' parameters (before any plot or video)."""
        self.clock.assign(np.array(self.elapsed()))
        self.checkpointer.save(self.trainer.iteration_count)
        self.trainer.select_seed(0)
        self.policy_trigger.save()

    def train(self) -> None:
        """Iterations up to `config.iterations` in chunks that end at each log, eval and checkpoint."""
        config, trainer = self.config, self.trainer
        iteration = trainer.iteration_count
        with _Interrupt() as interrupt:
            while iteration < config.iterations:
                intervals = (config.log_interval, config.eval_interval, config.checkpoint_every)
                target = min([config.iterations] + [(iteration // k + 1) * k for k in intervals])
                losses = trainer.run(target - iteration)
                self.bar.update(target - iteration)
                iteration = target
                final = iteration == config.iterations
                row = self.row(iteration)
                if iteration % config.log_interval == 0 or final:
                    row["loss"] = _mean(losses)
                    if trainer.num_seeds > 1:
                        row["loss_per_seed"] = losses.tolist()
                if iteration % config.eval_interval == 0 or final:
                    self.evaluate(row)
                if len(row) > 4:
                    self.log(row)
                if iteration % config.checkpoint_every == 0 or final:
                    self.save_checkpoint()
                if interrupt.requested:
                    self.save_checkpoint()
                    raise RunInterrupted(f"interrupted at iteration {iteration}; checkpoint saved in "
                                         f"{self.run_dir / CHECKPOINT_DIR}. Run the same command (or add "
                                         f"--resume) to continue")

    def finish(self) -> dict:
        wall, train_seconds = self.elapsed()
        return _finish(self.config, self.run_dir, self.trainer, self.rows, wall, train_seconds, self.echo)


def _finish(config, run_dir: Path, trainer, rows: list, wall: float, train_seconds: float, echo) -> dict:
    """After the last checkpoint: plot, summary, final evaluation and video of the saved policy."""
    evals = [r for r in rows if r.get("eval_return") is not None]
    curve = [[r["env_steps"], r["eval_return"]] for r in evals]
    outputs.plot_returns([c[0] for c in curve], [c[1] for c in curve], run_dir / "returns.png",
                         title=f"{config.agent_name} on {config.env} ({config.trainer} trainer)")
    summary = {"agent": config.agent_name, "env": config.env, "seed": config.seed, "trainer": config.trainer,
               "num_seeds": trainer.num_seeds, "iterations": trainer.iteration_count,
               "env_steps": int(trainer.env_steps_now()[0]), "train_steps": int(trainer.train_steps_now()[0]),
               "compile_seconds": round(trainer.compile_seconds, 3), "train_seconds": round(train_seconds, 3),
               "wall_seconds": round(wall, 3),
               "best_eval_return": max((r["eval_return"] for r in evals), default=None),
               "eval_returns": curve}
    if trainer.num_seeds > 1:
        summary["per_seed"] = [
            {"seed": config.seed + s, "env_steps": int(trainer.env_steps_now()[s]),
             "final_eval_return": evals[-1]["eval_return_per_seed"][s],
             "best_eval_return": max(r["eval_return_per_seed"][s] for r in evals),
             "eval_returns": [[r["env_steps"], r["eval_return_per_seed"][s]] for r in evals]}
            for s in range(trainer.num_seeds)]
    summary.update(evaluate_run(run_dir, config.num_eval_episodes, config.video_episodes, seed=config.seed))
    outputs.write_atomic(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    echo(f"final Average Return ({summary['final_eval_env']} {config.env}, {config.num_eval_episodes} episodes, "
         f"saved greedy policy{' of seed ' + str(config.seed) if trainer.num_seeds > 1 else ''}) = "
         f"{summary['final_eval_return']:.1f}")
    if summary.get("video", "").startswith("not rendered"):
        echo(f"video: {summary['video']}")
    echo(f"run directory: {run_dir}")
    return summary


def evaluate_run(run_dir: str | Path, num_episodes: int = 10, video_episodes: int = 3, seed: int = 0) -> dict:
    """Load the run's saved greedy policy, evaluate it on the run's env, render `eval.mp4`.

    The env is Gymnasium's when the run's id is a Gymnasium id, else the compiled env seen from
    Python (`JaxAsPyEnvironment`: gymnax, Brax ids); `final_eval_env` says which. The video is
    rendered only when the env can render: otherwise `video` says "not rendered: <reason>" and
    there is no `video_frames`, so the end of a long run never fails over a video.
    """
    from agentax.policies import policy_loader
    from agentax.train.evaluation import compute_avg_return

    run_dir = Path(run_dir)
    config = load_config(run_dir)
    policy_dir = run_dir / POLICIES_DIR / GREEDY_POLICY_SAVED_MODEL_DIR
    policy = policy_loader.load(policy_dir)
    env, env_kind = _evaluation_env(config.env)
    env.seed(seed + 20_000)
    _check_policy_fits(policy, env, policy_dir)
    result = {"final_eval_return": compute_avg_return(env, policy, num_episodes),
              "final_eval_episodes": num_episodes, "final_eval_env": env_kind,
              "policy_train_step": policy.get_train_step()}
    if video_episodes > 0:
        try:
            result["video_frames"] = outputs.record_video(env, policy, run_dir / "eval.mp4",
                                                          num_episodes=video_episodes)
            result["video"] = "eval.mp4"
        except Exception as err:  # noqa: BLE001 - a video is never worth losing the run's summary
            result["video"] = f"not rendered: {type(err).__name__}: {err}"
    env.close()
    return result


def _evaluation_env(env_id: str):
    """(a `PyEnvironment` of `env_id`, "Gymnasium" or "compiled"): Gymnasium's env when it has the id,
    else the JAX env of `suite_jax.load(env_id)` seen from Python."""
    import gymnasium

    if env_id in gymnasium.registry:
        from agentax.environments import suite_gym
        return suite_gym.load(env_id), "Gymnasium"
    from agentax.environments import jax_as_py_environment
    return jax_as_py_environment.load(env_id), "compiled"


def _check_policy_fits(policy, env, policy_dir: Path) -> None:
    from agentax.specs import array_spec

    theirs = [s.shape for s in array_spec.flatten(env.observation_spec())]
    mine = [s.shape for s in array_spec.flatten(policy.time_step_spec.observation)]
    if mine != theirs:
        raise ValueError(f"{policy_dir}: the saved policy takes observations of shapes {mine}, but the run's "
                         f"environment gives {theirs}")

