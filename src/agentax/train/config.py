"""`TrainConfig`: the fields every training run shares, checked in `__post_init__`.

Each agent subclasses it in its folder (`agents/<name>/config.py`) with its own typed
fields (one line of doc each; the CLI is generated from them), `make_agent` and
`collection`. Validation lives here, so the Python API and the CLI give the same
clear error, naming the field and its flag.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Literal, NamedTuple

import tyro


class Collection(NamedTuple):
    """How one training iteration collects and replays data.

    `num_envs` environments run side by side on the compiled path (the Python path
    steps one); each iteration runs `episodes` episodes or `steps` steps (summed over
    the envs, as drivers count).
    On-policy (`on_policy=True`): train once on what was just collected
    (`sample_batch_size` episodes of it, 0 = all), then drop it.
    Off-policy: steps go into a replay of `replay_capacity` steps (uniform; Reverb
    table on the Python path, `JaxUniformReplayBuffer` compiled); the first iteration
    is preceded by `initial_collect_steps` steps of a uniformly random policy; each
    iteration then runs `train_steps_per_iteration` train steps on `sample_batch_size`
    sequences of the agent's `train_sequence_length` steps. `prioritized`: sequences are
    drawn with probability `priority ** priority_exponent / sum` (new ones at the largest
    priority seen, then `|td_error|` of the step that sampled them), and train steps get
    importance weights `(N * P) ** -importance_exponent` scaled to a maximum of 1.
    """

    num_envs: int
    episodes: int = 0
    steps: int = 0
    on_policy: bool = True
    sample_batch_size: int = 0
    replay_capacity: int = 0
    initial_collect_steps: int = 0
    train_steps_per_iteration: int = 1
    prioritized: bool = False
    priority_exponent: float = 0.6
    importance_exponent: float = 0.4


def alias(*flags: str):
    """Extra CLI spellings of a config field: `field: Annotated[int, alias("--short")] = 1`."""
    return tyro.conf.arg(aliases=flags)


def flag(name: str) -> str:
    """The CLI flag of a config field."""
    return "--" + name.replace("_", "-")


def check(condition: bool, name: str, expected: str, value) -> None:
    """Raise `ValueError` naming the field and its flag unless `condition`."""
    if not condition:
        raise ValueError(f"`{name}` ({flag(name)}) must be {expected}, got {value!r}")


def check_positive_int(config, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        check(isinstance(value, int) and value >= 1, name, "an integer >= 1", value)


def check_finite(config, name: str, minimum: float = 0.0, strict: bool = False, maximum: float | None = None):
    value = getattr(config, name)
    ok = isinstance(value, (int, float)) and math.isfinite(value) and (value > minimum if strict
                                                                          else value >= minimum)
    if maximum is not None:
        ok = ok and value <= maximum
    bound = (f"> {minimum}" if strict else f">= {minimum}") + (f" and <= {maximum}" if maximum is not None else "")
    check(ok, name, f"a finite number {bound}", value)


def check_layers(config, name: str, allow_empty: bool = True) -> None:
    layers = getattr(config, name)
    ok = all(isinstance(u, int) and u >= 1 for u in layers) and (allow_empty or len(layers) > 0)
    check(ok, name, "layer sizes >= 1 (e.g. 100 or 64 64)", tuple(layers))


@dataclasses.dataclass
class TrainConfig:
    """Fields shared by every agent's training run."""

    env: str = "CartPole-v0"
    """environment id (Gymnasium; a JAX environment of the same id for the compiled trainer)"""
    trainer: Literal["compiled", "python"] = "compiled"
    """'compiled': JAX envs, collection and training in one jit; 'python': PyDriver on Gymnasium"""
    iterations: int = 100
    """training iterations"""
    seed: int = 0
    """seeds everything: the same seed gives the same run (bit for bit on the compiled path)"""
    log_interval: int = 25
    """iterations between loss rows in metrics.jsonl"""
    eval_interval: int = 25
    """iterations between evaluations"""
    num_eval_episodes: Annotated[int, alias("--eval-episodes")] = 10
    """episodes per evaluation"""
    checkpoint_interval: int = 0
    """iterations between checkpoints (0 = at every evaluation)"""
    video_episodes: int = 3
    """episodes rendered into eval.mp4 at the end (0 = no video)"""
    distributed: bool = False
    """collect with Ray actors (agentax[distributed]): a replay server, --num-collectors collectors, the learner
    here; implies --trainer python (off-policy agents)"""
    num_collectors: int = 2
    """collector actors with --distributed"""
    ray_address: str | None = None
    """with --distributed, the Ray cluster to join (default: start a local one)"""

    agent_name = "agent"  # set by each agent's config class

    def __post_init__(self):
        check(isinstance(self.distributed, bool), "distributed", "True or False", self.distributed)
        if self.distributed:
            self.trainer = "python"  # implied: collectors run the Python path's Actor
        check(isinstance(self.num_collectors, int) and not isinstance(self.num_collectors, bool)
              and self.num_collectors >= 1, "num_collectors", "an integer >= 1", self.num_collectors)
        check(self.ray_address is None or isinstance(self.ray_address, str) and self.ray_address != "",
              "ray_address", "a Ray address (host:port, 'auto') or unset", self.ray_address)
        check(isinstance(self.env, str) and self.env != "", "env", "an environment id", self.env)
        check(self.trainer in ("compiled", "python"), "trainer", "'compiled' or 'python'", self.trainer)
        check_positive_int(self, "iterations", "log_interval", "eval_interval", "num_eval_episodes")
        check(isinstance(self.seed, int) and 0 <= self.seed < 2**31, "seed", "an integer in [0, 2**31)", self.seed)
        check(isinstance(self.checkpoint_interval, int) and self.checkpoint_interval >= 0, "checkpoint_interval",
              "an integer >= 0", self.checkpoint_interval)
        check(isinstance(self.video_episodes, int) and self.video_episodes >= 0, "video_episodes",
              "an integer >= 0", self.video_episodes)

    # ---- what each agent supplies
    def make_agent(self, time_step_spec, action_spec):
        """The agent this config describes, for environments with these specs."""
        raise NotImplementedError

    def collection(self) -> Collection:
        """How each iteration collects data."""
        raise NotImplementedError

    # ---- shared
    def check_environment(self) -> None:
        """Refuse an environment id the chosen trainer cannot load, naming close matches.

        The compiled trainer takes any id `suite_jax.load` knows (agentax's own, gymnax's, Brax's),
        Gymnasium id or not (runs on compiled-only ids are evaluated on the JAX env); the Python
        trainer takes Gymnasium ids only."""
        import difflib

        import gymnasium

        from agentax.environments import suite_jax
        in_gymnasium = self.env in gymnasium.registry
        if self.trainer == "compiled":
            try:
                suite_jax.load(self.env)  # native ids first: gymnax is imported only for its own ids
                return
            except ValueError:
                if in_gymnasium:
                    raise ValueError(f"`env` (--env) {self.env!r} has no JAX environment for the compiled trainer; "
                                     f"use --trainer python or one of {suite_jax.registered_ids()[:6]}") from None
        elif in_gymnasium:
            return
        compiled_ids = suite_jax.registered_ids()
        if self.env in compiled_ids:
            raise ValueError(f"`env` (--env) {self.env!r} is a compiled-only environment (no Gymnasium id), which "
                             f"the Python trainer cannot step; use --trainer compiled")
        known = list(dict.fromkeys([*gymnasium.registry, *compiled_ids]))
        close = difflib.get_close_matches(self.env, known, n=4, cutoff=0.6)
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise ValueError(f"`env` (--env) must be a Gymnasium id or (with --trainer compiled) a JAX environment "
                         f"id, got {self.env!r}{hint}")

    @property
    def checkpoint_every(self) -> int:
        return self.checkpoint_interval or self.eval_interval

    def to_dict(self) -> dict:
        return {"agent": self.agent_name, **dataclasses.asdict(self)}

    # Fields a resumed run may change (how long it runs, how it reports); the rest must match.
    RESUMABLE_CHANGES = ("iterations", "log_interval", "eval_interval", "num_eval_episodes", "checkpoint_interval",
                         "video_episodes", "num_collectors", "ray_address")
