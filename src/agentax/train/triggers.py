"""Triggers: callables a `Learner` calls with the train step after every `run` (as `tf_agents.train.triggers`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

LOG = logging.getLogger("agentax.train")

# The layout of a saved-policies directory, as TF-Agents' learner names it.
POLICY_SAVED_MODEL_DIR = "policies"
GREEDY_POLICY_SAVED_MODEL_DIR = "greedy_policy"
COLLECT_POLICY_SAVED_MODEL_DIR = "collect_policy"
POLICY_CHECKPOINT_DIR = "checkpoints"


class IntervalTrigger:
    """Calls `fn()` when the value passed has moved `interval` past the last trigger (or gone
    back below it, e.g. after a restore); `interval <= 0` never triggers."""

    def __init__(self, interval: int, fn: Callable[[], None], start: int = 0):
        self._interval = int(interval)
        self._original_start_value = int(start)
        self._last_trigger_value = int(start)
        self._fn = fn

    def __call__(self, value, force_trigger: bool = False) -> None:
        if self._interval <= 0:
            return
        value = int(value)
        if force_trigger or value >= self._last_trigger_value + self._interval or value < self._last_trigger_value:
            self._last_trigger_value = value
            self._fn()

    def reset(self) -> None:
        self._last_trigger_value = self._original_start_value

    def set_start(self, start: int) -> None:
        self._last_trigger_value = int(start)


class PolicySavedModelTrigger(IntervalTrigger):
    """Exports `agent.policy` (greedy) and `agent.collect_policy` with `PolicySaver` under
    `saved_model_dir/{greedy_policy,collect_policy}` when created, and every `interval` train
    steps writes their parameters again (and a parameters checkpoint under
    `saved_model_dir/checkpoints/policy_checkpoint_<step>`), so the exports always hold the
    latest weights. (TF-Agents re-writes only the checkpoints; agentax also refreshes the
    exports' parameters, so loading an export never gives stale weights.)"""

    def __init__(self, saved_model_dir, agent, train_step, interval: int, start: int = 0, batch_size=None,
                 save_greedy_policy: bool = True, save_collect_policy: bool = True, metadata_metrics=None):
        from agentax.policies.policy_saver import PolicySaver

        self._dir = Path(saved_model_dir)
        self._train_step = train_step
        self._metadata_metrics = dict(metadata_metrics or {})
        self._savers = []
        if save_greedy_policy:
            self._savers.append((PolicySaver(agent.policy, batch_size=batch_size, train_step=train_step),
                                 GREEDY_POLICY_SAVED_MODEL_DIR))
        if save_collect_policy:
            self._savers.append((PolicySaver(agent.collect_policy, batch_size=batch_size, train_step=train_step),
                                 COLLECT_POLICY_SAVED_MODEL_DIR))
        for saver, name in self._savers:
            saver.save(self._dir / name)
        super().__init__(interval, self.save, start)

    def save(self) -> None:
        """Write the policies' current parameters now."""
        step = int(self._train_step)
        for saver, name in self._savers:
            saver.save_checkpoint(self._dir / name)
        if self._savers:
            self._savers[0][0].save_checkpoint(self._dir / POLICY_CHECKPOINT_DIR / f"policy_checkpoint_{step:010d}")


class StepPerSecondLogTrigger(IntervalTrigger):
    """Logs (and keeps in `.steps_per_sec`) the train steps per second every `interval` steps."""

    def __init__(self, train_step, interval: int, log: Callable[[str], None] = LOG.info):
        self._train_step = train_step
        self._log = log
        self._last = (int(train_step), time.perf_counter())
        self.steps_per_sec = None
        super().__init__(interval, self._measure, int(train_step))

    def _measure(self) -> None:
        step, now = int(self._train_step), time.perf_counter()
        last_step, last_time = self._last
        if now > last_time:
            self.steps_per_sec = (step - last_step) / (now - last_time)
            self._log(f"{self.steps_per_sec:.3f} steps/sec")
        self._last = (step, now)
