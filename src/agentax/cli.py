"""`agentax` command line: `train AGENT`, `eval RUN_DIR`, `list`, `--version`.

`agentax train AGENT` is generated from the agent's typed config dataclass (tyro):
every field is a flag with its line of doc and the chosen preset's value as default;
validation lives in the config, so the CLI and the Python API give the same errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Annotated, Literal

import agentax


def _run_options(presets: dict):
    """The options every `train` command shares, with the agent's presets as choices."""
    help_ = lambda text: tyro_arg(help=text)
    return dataclasses.make_dataclass("RunOptions", [
        ("preset", Annotated[Literal[tuple(presets)], help_("preset whose values are the defaults shown here")],
         dataclasses.field(default="default")),
        ("run_dir", Annotated[str | None, help_("run directory (default runs/<agent>-<time>); an existing run "
                                                 "directory made by the same command is continued")],
         dataclasses.field(default=None)),
        ("num_seeds", Annotated[int, help_("train seeds seed..seed+N-1 at once in one compiled program "
                                           "(vmap); summary.json gets one row per seed")],
         dataclasses.field(default=1)),
        ("resume", Annotated[bool, help_("continue the run in --run-dir from its last checkpoint (an error if "
                                         "there is none)")], dataclasses.field(default=False)),
        ("no_progress", Annotated[bool, help_("no progress bar: one line per log row")],
         dataclasses.field(default=False)),
    ])


def tyro_arg(**kwargs):
    import tyro
    return tyro.conf.arg(**kwargs)


def _preset_of(args: list[str], presets: dict) -> str:
    for i, arg in enumerate(args):
        if arg == "--preset" and i + 1 < len(args):
            return args[i + 1] if args[i + 1] in presets else "default"
        if arg.startswith("--preset="):
            value = arg.split("=", 1)[1]
            return value if value in presets else "default"
    return "default"


def parse_train(agent: str, args: list[str]):
    """`(config, run_options)` from `agentax train AGENT ARGS` (tyro exits on --help or bad flags)."""
    import tyro

    from agentax.train.run import agent_config_module

    module = agent_config_module(agent)
    presets = module.PRESETS
    options_type = _run_options(presets)
    default = (presets[_preset_of(args, presets)], options_type())
    config, options = tyro.cli(tuple[module.CONFIG, options_type], default=default, args=args,
                               prog=f"agentax train {agent}", description=module.CONFIG.__doc__,
                               config=(tyro.conf.OmitArgPrefixes,))
    return config, options


def _parser() -> argparse.ArgumentParser:
    from agentax.train.run import AGENTS

    parser = argparse.ArgumentParser(prog="agentax", description="agentax: reinforcement learning with "
                                     "TF-Agents' design on NumPy, Gymnasium and compiled JAX")
    parser.add_argument("--version", action="version", version=f"agentax {agentax.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train an agent (agentax train AGENT --help lists its flags)",
                                add_help=False)
    train.add_argument("agent", choices=sorted(AGENTS), help="the agent to train")
    evaluate = commands.add_parser("eval", help="evaluate a run's saved greedy policy on its Gymnasium env "
                                   "and render eval.mp4", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    evaluate.add_argument("run_dir", help="a run directory written by agentax train")
    evaluate.add_argument("--episodes", type=int, default=10, help="episodes to average over")
    evaluate.add_argument("--video-episodes", type=int, default=0, help="episodes rendered into eval.mp4")
    evaluate.add_argument("--seed", type=int, default=0, help="environment seed")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    commands.add_parser("list", help="list the agents and their presets")
    return parser


def _list() -> None:
    from agentax.train.run import AGENTS, agent_config_module

    for name in sorted(AGENTS):
        module = agent_config_module(name)
        print(f"{name}: {module.CONFIG.__doc__.strip().splitlines()[0]}")
        for preset, config in module.PRESETS.items():
            print(f"  --preset {preset}: trainer={config.trainer}, env={config.env}, iterations={config.iterations}")


def _eval(args) -> None:
    from agentax.train import run

    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    if args.video_episodes < 0:
        raise ValueError(f"--video-episodes must be >= 0, got {args.video_episodes}")
    config = run.load_config(args.run_dir)
    result = run.evaluate_run(args.run_dir, args.episodes, args.video_episodes, args.seed)
    if args.json:
        print(json.dumps({"average_return": result["final_eval_return"], "episodes": args.episodes,
                          "env": config.env, "agent": config.agent_name, "seed": args.seed,
                          "train_step": result["policy_train_step"], "video": result.get("video"),
                          "video_frames": result.get("video_frames")}))
        return
    print(f"Average Return over {args.episodes} episodes = {result['final_eval_return']:.1f}")
    if "video_frames" in result:
        print(f"video: {args.run_dir}/eval.mp4 ({result['video_frames']} frames)")
    elif args.video_episodes:
        print(f"video: {result['video']}")


def enable_compilation_cache() -> None:
    """Keep compiled XLA programs on disk (AGENTAX_CACHE_DIR, default ~/.cache/agentax/xla; empty: off),
    so a second run with the same shapes skips most of its compile time."""
    import os
    from pathlib import Path

    import jax

    directory = os.environ.get("AGENTAX_CACHE_DIR", str(Path.home() / ".cache" / "agentax" / "xla"))
    if directory:
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = _parser().parse_known_args(argv)
    from agentax.train import run
    from agentax.utils.common import CheckpointError

    try:
        if args.command == "train":
            config, options = parse_train(args.agent, rest)
            enable_compilation_cache()
            run.train_run(config, options.run_dir, num_seeds=options.num_seeds, resume=options.resume,
                          progress=not options.no_progress)
        elif rest:
            _parser().parse_args(argv)  # reports the unknown arguments and exits 2
        elif args.command == "eval":
            enable_compilation_cache()
            _eval(args)
        else:
            _list()
    except run.RunInterrupted as err:
        print(f"agentax: {err}", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, CheckpointError) as err:
        print(f"agentax: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
