"""`agentax` command line: `agentax train reinforce ...`, `agentax eval RUN_DIR`."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from agentax.training.reinforce import PRESETS, ReinforceConfig

_FLAGS = {  # config field -> (flag, type, help)
    "env": ("--env", str, "environment id (default CartPole-v0)"),
    "trainer": ("--trainer", str, "'compiled' (JAX envs, one jit) or 'python' (PyDriver on Gymnasium)"),
    "iterations": ("--iterations", int, "training iterations"),
    "collect_episodes_per_iteration": ("--collect-episodes", int, "episodes collected per iteration"),
    "sample_batch_size": ("--sample-batch-size", int, "python trainer: episodes sampled per update (0 = all)"),
    "learning_rate": ("--learning-rate", float, "Adam learning rate"),
    "gamma": ("--gamma", float, "discount of the returns"),
    "entropy_regularization": ("--entropy-regularization", float, "entropy bonus coefficient"),
    "gradient_clipping": ("--gradient-clipping", float, "global-norm gradient clipping (0 = off)"),
    "log_interval": ("--log-interval", int, "iterations between loss lines"),
    "eval_interval": ("--eval-interval", int, "iterations between evaluations"),
    "num_eval_episodes": ("--eval-episodes", int, "episodes per evaluation"),
    "seed": ("--seed", int, "random seed (same seed, same curve)"),
    "video_episodes": ("--video-episodes", int, "episodes in eval.mp4 (0 = none)"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentax", description="agentax: reinforcement learning on JAX")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train an agent")
    agents = train.add_subparsers(dest="agent", required=True)
    reinforce = agents.add_parser("reinforce", help="REINFORCE on CartPole (the reference tutorial)",
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    reinforce.add_argument("--preset", choices=sorted(PRESETS), default="default",
                           help="'default' solves CartPole in seconds; 'tutorial' is the reference's exact settings")
    for field, (flag, kind, text) in _FLAGS.items():
        reinforce.add_argument(flag, dest=field, type=kind, default=None, help=text)
    reinforce.add_argument("--fc-layers", dest="fc_layer_params", type=int, nargs="+", default=None,
                           help="actor hidden layer sizes")
    reinforce.add_argument("--value-fc-layers", dest="value_fc_layer_params", type=int, nargs="+", default=None,
                           help="value network hidden layer sizes")
    reinforce.add_argument("--value-baseline", dest="value_baseline", action=argparse.BooleanOptionalAction,
                           default=None, help="learn a value baseline")
    reinforce.add_argument("--normalize-returns", dest="normalize_returns", action=argparse.BooleanOptionalAction,
                           default=None, help="standardize advantages per batch")
    reinforce.add_argument("--run-dir", default=None, help="where to write the run (default runs/reinforce-<time>)")
    reinforce.add_argument("--no-progress", action="store_true", help="no progress bar")
    evaluate = commands.add_parser("eval", help="reload a run, evaluate it and render eval.mp4")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--episodes", type=int, default=10)
    evaluate.add_argument("--video-episodes", type=int, default=3)
    evaluate.add_argument("--seed", type=int, default=0)
    return parser


def config_from_args(args: argparse.Namespace) -> ReinforceConfig:
    """The preset with every flag the user gave laid over it."""
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(ReinforceConfig)
                 if getattr(args, f.name, None) is not None}
    for name in ("fc_layer_params", "value_fc_layer_params"):
        if name in overrides:
            overrides[name] = tuple(overrides[name])
    config = dataclasses.replace(PRESETS[args.preset], **overrides)
    validate_config(config)
    return config


def validate_config(config: ReinforceConfig) -> None:
    if config.trainer not in ("compiled", "python"):
        raise ValueError(f"--trainer must be 'compiled' or 'python', got {config.trainer!r}")
    for name in ("iterations", "collect_episodes_per_iteration", "log_interval", "eval_interval",
                 "num_eval_episodes"):
        if getattr(config, name) < 1:
            raise ValueError(f"`{name}` must be >= 1, got {getattr(config, name)}")
    if config.learning_rate <= 0:
        raise ValueError(f"`learning_rate` must be > 0, got {config.learning_rate}")
    import gymnasium

    from agentax.environments import suite_jax
    if config.env not in gymnasium.registry:
        raise ValueError(f"--env must be a Gymnasium id (runs are evaluated and rendered on Gymnasium), "
                         f"got {config.env!r}")
    if config.trainer == "compiled" and config.env not in suite_jax.registered_ids():
        raise ValueError(f"--env {config.env!r} has no JAX environment for the compiled trainer; "
                         f"use --trainer python or one of {suite_jax.registered_ids()[:6]}")


def enable_compilation_cache() -> None:
    """Keep compiled XLA programs on disk (AGENTAX_CACHE_DIR, default ~/.cache/agentax/xla),
    so a second run with the same shapes skips most of its compile time."""
    import os
    from pathlib import Path

    import jax

    directory = os.environ.get("AGENTAX_CACHE_DIR", str(Path.home() / ".cache" / "agentax" / "xla"))
    if directory:
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    enable_compilation_cache()
    from agentax.training import run

    try:
        if args.command == "train":
            config = config_from_args(args)
            run.train_run(config, args.run_dir or run.new_run_dir(), progress_bar=not args.no_progress)
        else:
            result = run.evaluate_run(args.run_dir, args.episodes, args.video_episodes, args.seed)
            print(f"Average Return over {args.episodes} episodes = {result['final_eval_return']:.1f}")
            if args.video_episodes:
                print(f"video: {args.run_dir}/eval.mp4 ({result['video_frames']} frames)")
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"agentax: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
