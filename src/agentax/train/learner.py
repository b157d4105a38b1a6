"""`Learner`: trains an agent on batches from an experience iterator, with checkpoints and
triggers (mirror of `tf_agents.train.learner.Learner`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import jax
import numpy as np

from agentax.train.triggers import IntervalTrigger
from agentax.utils import common

TRAIN_DIR = "train"
POLICY_CHECKPOINT_DIR = "checkpoints"


class Learner:
    """Calls `agent.train` on `next(iterator)` `iterations` times per `run()`.

    `experience_dataset_fn()` returns an iterable of `(experience, sample_info)` (as
    `ReverbReplayBuffer.as_dataset` does). On creation the agent is initialized and the
    latest checkpoint under `root_dir/train/checkpoints` (agent state and `train_step`)
    is restored; every `checkpoint_interval` train steps (checked after a run; <= 0 turns
    it off) a checkpoint is written. After every run each trigger is called with the
    train step. `after_train_strategy_step_fn((experience, sample_info), loss_info)` runs
    after each step (e.g. to update priorities).
    """

    def __init__(self, root_dir, train_step: common.Variable, agent, experience_dataset_fn: Callable | None = None,
                 after_train_strategy_step_fn: Callable | None = None, triggers: Sequence | None = None,
                 checkpoint_interval: int = 100000, summary_interval: int = 1000, max_checkpoints_to_keep: int = 3,
                 use_kwargs_in_agent_train: bool = False):
        self.train_step = train_step
        self._agent = agent
        if root_dir is None and (checkpoint_interval > 0 or summary_interval > 0):
            raise ValueError("Learner: `root_dir` is needed for checkpoints and summaries "
                             "(or set checkpoint_interval=-1, summary_interval=0)")
        self._train_dir = None if root_dir is None else Path(root_dir) / TRAIN_DIR
        self._experience_iterator = iter(experience_dataset_fn()) if experience_dataset_fn else None
        self.after_train_strategy_step_fn = after_train_strategy_step_fn
        self.use_kwargs_in_agent_train = use_kwargs_in_agent_train
        self.summary_interval = int(summary_interval)
        self._writer = None
        if agent.state is None:
            agent.initialize()
        self._checkpointer = None
        if checkpoint_interval > 0:
            objects = {"agent": agent}
            if train_step is not agent.train_step_counter:
                objects["train_step"] = train_step
            self._checkpointer = common.Checkpointer(self._train_dir / POLICY_CHECKPOINT_DIR,
                                                     max_to_keep=max_checkpoints_to_keep, **objects)
            self._checkpointer.initialize_or_restore()
        self.triggers = list(triggers or [])
        for trigger in self.triggers:
            if hasattr(trigger, "set_start"):
                trigger.set_start(int(self.train_step))
        if self._checkpointer is not None:
            self.triggers.append(IntervalTrigger(checkpoint_interval, self.save_checkpoint,
                                                 start=int(self.train_step)))

    @property
    def train_step_numpy(self) -> np.ndarray:
        return np.asarray(int(self.train_step), np.int64)

    @property
    def checkpointer(self) -> common.Checkpointer | None:
        return self._checkpointer

    def save_checkpoint(self) -> None:
        self._checkpointer.save(self.train_step)

    def run(self, iterations: int = 1, iterator=None):
        """`iterations` train steps; returns the last step's `LossInfo` (as NumPy)."""
        if iterations < 1:
            raise ValueError(f"Learner.run: `iterations` must be >= 1, got {iterations}")
        iterator = iterator or self._experience_iterator
        if iterator is None:
            raise ValueError("Learner.run: no experience: give `experience_dataset_fn` or `iterator`")
        for _ in range(iterations):
            loss_info = self.single_train_step(iterator)
        loss_info = jax.tree.map(np.asarray, loss_info)
        self._write_summary(loss_info)
        for trigger in self.triggers:
            trigger(int(self.train_step))
        return loss_info

    def single_train_step(self, iterator):
        experience, sample_info = next(iterator)
        if self.use_kwargs_in_agent_train:
            loss_info = self._agent.train(**experience)
        else:
            loss_info = self._agent.train(experience)
        if self._agent.train_step_counter is not self.train_step:
            self.train_step.assign_add(1)
        if self.after_train_strategy_step_fn:
            self.after_train_strategy_step_fn((experience, sample_info), loss_info)
        return loss_info

    def _write_summary(self, loss_info) -> None:
        step = int(self.train_step)
        if self.summary_interval <= 0 or step % self.summary_interval:
            return
        if self._writer is None:
            from tensorboardX import SummaryWriter
            self._writer = SummaryWriter(str(self._train_dir))
        self._writer.add_scalar("Losses/total_loss", float(loss_info.loss), step)
        self._writer.flush()
