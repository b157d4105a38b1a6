"""`Actor`: collects experience with a `PyDriver`, continuing from where the last run stopped
(mirror of `tf_agents.train.actor.Actor`)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from agentax.drivers.py_driver import PyDriver


class Actor:
    """Runs `policy` in `env` for `steps_per_run` steps or `episodes_per_run` episodes per `run()`.

    `metrics` are observers too; every `summary_interval` train steps (checked after a
    run) their results are written as TensorBoard scalars to `summary_dir`.
    """

    def __init__(self, env, policy, train_step, steps_per_run: int | None = None,
                 episodes_per_run: int | None = None, observers: Sequence | None = None,
                 transition_observers: Sequence | None = None, info_observers: Sequence | None = None,
                 metrics: Sequence | None = None, summary_dir: str | Path | None = None,
                 summary_interval: int = 1000, end_episode_on_boundary: bool = True, name: str = ""):
        self._env = env
        self._policy = policy
        self._train_step = train_step
        self._metrics = list(metrics or [])
        self._observers = list(observers or []) + self._metrics
        self._summary_interval = int(summary_interval)
        self._summary_dir = None if summary_dir is None else Path(summary_dir)
        self._writer = None
        self.name = name
        self._driver = PyDriver(env, policy, self._observers, transition_observers=transition_observers,
                                info_observers=info_observers, max_steps=steps_per_run,
                                max_episodes=episodes_per_run, end_episode_on_boundary=end_episode_on_boundary)
        self.reset()

    @property
    def metrics(self) -> list:
        return self._metrics

    @property
    def policy(self):
        return self._policy

    @property
    def train_step(self):
        return self._train_step

    @property
    def summary_writer(self):
        if self._writer is None and self._summary_dir is not None:
            from tensorboardX import SummaryWriter
            self._writer = SummaryWriter(str(self._summary_dir))
        return self._writer

    def run(self) -> None:
        """One driver run from the current time step; writes summaries on the interval."""
        self._time_step, self._policy_state = self._driver.run(self._time_step, self._policy_state)
        if self._summary_interval > 0 and int(self._train_step) % self._summary_interval == 0:
            self.write_metric_summaries()

    def write_metric_summaries(self) -> None:
        writer = self.summary_writer
        if writer is None:
            return
        step = int(self._train_step)
        for metric in self._metrics:
            writer.add_scalar(f"Metrics/{self.name + '/' if self.name else ''}{metric.name}",
                              float(np.asarray(metric.result())), step)
        writer.flush()

    def reset(self) -> None:
        """Reset the environment and the policy state; the next run starts a new episode."""
        self._time_step = self._env.reset()
        self._policy_state = self._policy.get_initial_state(self._env.batch_size)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
