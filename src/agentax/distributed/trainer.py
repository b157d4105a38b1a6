"""`DistributedTrainer`: the Python path with collection on Ray (`agentax train AGENT --distributed`).

TF-Agents' distributed examples in one command: a `ReplayServer` actor (the experience
table and a one-slot `variables` table), `num_collectors` `Collector` actors each running
`train.Actor`, and the learner here in the driver running `train.Learner` on
`ReverbReplayBuffer(server_address=...).as_dataset(...)`. The learner pushes the collect
policy's parameters every `push_interval` train steps; collectors pull when the version
changed, before each task of `task_runs * steps_per_run` steps.

The learner keeps the in-process trainer's ratio of train steps to env steps: iteration
`i` trains only once `initial_collect_steps + i * collect_steps_per_iteration` env steps are
in the table; collectors run at most `lookahead_steps` ahead of that. Same shell as
`PythonTrainer` (the run directory, checkpoints, `--resume` and the replay contents in the
checkpoint are the same), for off-policy agents.

Faults: a collector whose process dies is restarted by Ray (`max_restarts`); the driver
logs it and hands its task out again. The replay server restarts from its own checkpoint
(written every `checkpoint_every` items to a temporary folder of this run); the learner's
samples wait for it (retried, logged). Every wait has a timeout (`task_timeout_s`).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time

import jax
import numpy as np

from agentax import reverb
from agentax.distributed.collector import start_collectors
from agentax.distributed.remote import call, connect, disconnect
from agentax.distributed.replay_server import start_replay_server
from agentax.distributed.variable_container import (DEFAULT_TABLE, POLICY_KEY, TRAIN_STEP_KEY, VariableContainer,
                                                    variables_table)
from agentax.environments import suite_gym
from agentax.policies.py_jax_policy import PyJaxPolicy
from agentax.replay_buffers import ReverbReplayBuffer
from agentax.train.config import TrainConfig
from agentax.train.evaluation import compute_avg_return
from agentax.train.learner import Learner
from agentax.utils import common

_log = logging.getLogger("agentax.distributed")


def init_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Join the Ray cluster at `address`, or start a local one; False when Ray was already initialised."""
    try:
        import ray
    except ImportError as err:
        raise ImportError("`distributed` (--distributed) needs Ray: pip install 'agentax[distributed]'") from err

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    return True


def _make_tables(name: str, capacity: int, seed: int):
    def make():
        table = reverb.Table(name, max_size=capacity, sampler=reverb.selectors.Uniform(seed=seed),
                             remover=reverb.selectors.Fifo(), rate_limiter=reverb.rate_limiters.MinSize(1))
        return [table, variables_table(DEFAULT_TABLE)]
    return make


class DistributedTrainer:
    """One seed of `config` with `num_collectors` Ray collectors (see the module docstring)."""

    num_seeds = 1
    compile_seconds = 0.0
    TABLE = "episodes"  # PythonTrainer's, so checkpoints of either hold the same replay state

    def __init__(self, config: TrainConfig, num_seeds: int = 1, *, num_collectors: int | None = None,
                 ray_address: str | None = None, steps_per_run: int = 50, task_runs: int = 2,
                 push_interval: int = 10, lookahead_steps: int | None = None, checkpoint_every: int = 5000,
                 max_restarts: int = 100, collector_cpus: float | None = None, task_timeout_s: float = 300.0,
                 client_options: dict | None = None, env_factory=None):
        if num_seeds != 1:
            raise ValueError(f"`num_seeds` (--num-seeds) > 1 needs --trainer compiled, got {num_seeds}")
        collection = config.collection()
        if collection.on_policy or not collection.steps:
            raise ValueError(f"`distributed` (--distributed) needs an off-policy agent collecting steps per "
                             f"iteration (dqn, ddqn, c51), got {config.agent_name}")
        num_collectors = getattr(config, "num_collectors", 2) if num_collectors is None else num_collectors
        ray_address = getattr(config, "ray_address", None) if ray_address is None else ray_address
        if not isinstance(num_collectors, int) or num_collectors < 1:
            raise ValueError(f"`num_collectors` (--num-collectors) must be an integer >= 1, got {num_collectors!r}")
        for name, value in (("steps_per_run", steps_per_run), ("task_runs", task_runs),
                            ("push_interval", push_interval)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}")
        self.config, self.collection = config, collection
        self.num_collectors, self.steps_per_run, self.task_runs = num_collectors, steps_per_run, task_runs
        self.push_interval, self.task_timeout_s, self.max_restarts = push_interval, task_timeout_s, max_restarts
        self.lookahead_steps = (num_collectors * steps_per_run * task_runs if lookahead_steps is None
                                else int(lookahead_steps))
        self._started_ray = init_ray(ray_address, num_cpus=max(os.cpu_count() or 1, num_collectors + 1))
        try:  # nothing this constructor started outlives a failure in it
            import ray

            self._ray = ray
            cpus = collector_cpus if collector_cpus is not None else min(
                1.0, ray.cluster_resources().get("CPU", 1) / (num_collectors + 1))
            self.env = suite_gym.load(config.env)
            self.eval_env = suite_gym.load(config.env)
            self.agent = config.make_agent(self.env.time_step_spec(), self.env.action_spec())
            self._replay_dir = tempfile.mkdtemp(prefix="agentax-replay-")
            self.server = start_replay_server(_make_tables(self.TABLE, collection.replay_capacity, config.seed),
                                              self._replay_dir, checkpoint_every)
            self.client = connect(self.server, prefetch_tables=(self.TABLE,), **(client_options or {}))
            self.address = self.client.server_address
            self.replay = ReverbReplayBuffer(self.agent.collect_data_spec, self.TABLE,
                                             sequence_length=self.agent.train_sequence_length,
                                             server_address=self.address)
            self.variables = VariableContainer(self.address)
            self.collectors = start_collectors(config, num_collectors, self.server, self.address, self.TABLE,
                                               steps_per_run, max_restarts=max_restarts, num_cpus=cpus,
                                               client_options=client_options, env_factory=env_factory)
        except BaseException:
            self._abort_start()
            raise
        self.counters = common.Variable(np.zeros(2, np.int64), name="iterations_and_env_steps")
        self._inflight: dict = {}          # ref -> (collector index, steps asked)
        self._busy = [False] * num_collectors
        self._down_since = [None] * num_collectors  # when each collector's failures began (None: healthy)
        self._retry_at = [0.0] * num_collectors
        self.restarts = 0
        self._pushed_step = None
        self._closed = False

    # -------------------------------------------------------------- the trainer shell
    def initialize(self) -> None:
        self.agent.initialize()
        self.learner = Learner(None, self.agent.train_step_counter, self.agent,
                               lambda: self.replay.as_dataset(self.collection.sample_batch_size,
                                                              num_steps=self.agent.train_sequence_length,
                                                              seed=self.config.seed),
                               checkpoint_interval=-1, summary_interval=0)
        self.eval_policy = PyJaxPolicy(self.agent.policy)
        self._initial_collect_pending = bool(self.collection.initial_collect_steps)

    @property
    def iteration_count(self) -> int:
        return int(self.counters.value()[0])

    def env_steps_now(self) -> np.ndarray:
        return np.asarray([int(self.counters.value()[1])])

    def train_steps_now(self) -> np.ndarray:
        return np.asarray([int(self.agent.train_step_counter)])

    def select_seed(self, index: int = 0) -> None:
        pass

    def evaluate_now(self) -> np.ndarray:
        self.eval_env.seed(self.config.seed + 10_000 + self.iteration_count)
        limit = getattr(self.env, "max_episode_steps", None)
        cap = None if limit is None else (int(limit) + 1) * self.config.num_eval_episodes * 2
        return np.asarray([compute_avg_return(self.eval_env, self.eval_policy, self.config.num_eval_episodes,
                                              max_steps=cap)])

    def checkpoint_objects(self) -> dict:
        from agentax.train.python_trainer import _ReplayContents
        return {"agent": self.agent, "counters": self.counters, "replay": _ReplayContents(self.client._server)}

    # -------------------------------------------------------------- parameters
    def push(self, wait: bool = False) -> None:
        """Publish the collect policy's parameters (versioned by the train step): `VariableContainer.push`,
        sent without waiting (the previous push is waited for first; `wait` waits for this one too)."""
        step = int(self.agent.train_step_counter)
        params = jax.device_get(self.agent.collect_policy_params(self.agent.state))
        values = {POLICY_KEY: jax.tree.map(np.asarray, params), TRAIN_STEP_KEY: np.int64(step)}
        self._wait_push()
        self._push = (self.server.insert.remote(values, {DEFAULT_TABLE: 1.0}, None), values)
        self._pushed_step = step
        if wait:
            self._wait_push()

    def _wait_push(self) -> None:
        pending, self._push = getattr(self, "_push", None), None
        if pending is not None:
            try:
                call(pending[0], self.task_timeout_s, "push of policy parameters")
            except self._ray.exceptions.RayActorError:  # lost with a restarting server: push again, retried
                self.client._server._call("insert", pending[1], {DEFAULT_TABLE: 1.0}, None)

    # -------------------------------------------------------------- collection
    def _submit(self, limit: int, random: bool) -> None:
        """Give idle collectors tasks while the steps done and asked stay under `limit`."""
        asked = sum(n for _, n in self._inflight.values())
        for i, collector in enumerate(self.collectors):
            done = int(self.counters.value()[1])
            if self._busy[i] or time.monotonic() < self._retry_at[i]:
                continue
            if done + asked >= limit:
                return
            runs = self.task_runs
            if random:  # no more random steps than asked for (up to a run)
                runs = max(1, min(runs, math.ceil((limit - done - asked) / self.steps_per_run)))
            ref = collector.run.remote(runs, random)
            self._inflight[ref] = (i, runs * self.steps_per_run)
            self._busy[i] = True
            asked += runs * self.steps_per_run

    def _settle(self) -> None:
        """Take the results of the tasks that have finished."""
        if not self._inflight:
            return
        ready, _ = self._ray.wait(list(self._inflight), num_returns=len(self._inflight), timeout=0)
        for ref in ready:
            index, _ = self._inflight.pop(ref)
            self._busy[index] = False
            try:
                result = self._ray.get(ref, timeout=self.task_timeout_s)
            except self._ray.exceptions.RayActorError as err:
                now = time.monotonic()
                if self._down_since[index] is None:
                    self._down_since[index] = now
                    self.restarts += 1
                    _log.warning("collector %d lost its task (%s); Ray restarts it (max_restarts=%d); the task is "
                                 "handed out again", index, type(err).__name__, self.max_restarts)
                elif now - self._down_since[index] > self.task_timeout_s:
                    raise RuntimeError(f"collector {index} has not come back for {self.task_timeout_s:.0f} s; last "
                                       f"error: {err}") from err
                self._retry_at[index] = now + 0.5
                continue
            if self._down_since[index] is not None:
                _log.warning("collector %d is back (pid %d) after %.1f s", index, result["pid"],
                             time.monotonic() - self._down_since[index])
                self._down_since[index] = None
            self.counters.value()[1] += result["env_steps"]

    def _collect_until(self, needed: int, limit: int, random: bool = False) -> None:
        """Wait until `needed` env steps are in the table, with collectors asked up to `limit`."""
        deadline = time.monotonic() + self.task_timeout_s
        self._settle()
        while int(self.counters.value()[1]) < needed:
            self._submit(limit, random)
            if time.monotonic() > deadline:
                raise TimeoutError(f"distributed collection: fewer than {needed} env steps after "
                                   f"{self.task_timeout_s:.0f} s ({int(self.counters.value()[1])} so far)")
            if self._inflight:
                self._ray.wait(list(self._inflight), num_returns=1, timeout=max(0.0, deadline - time.monotonic()))
            else:  # every collector is restarting
                time.sleep(0.1)
            self._settle()
        self._submit(limit, random)

    def _drain_random(self) -> None:
        while self._inflight:
            ready, _ = self._ray.wait(list(self._inflight), num_returns=len(self._inflight),
                                      timeout=self.task_timeout_s)
            if not ready:
                raise TimeoutError(f"distributed collection: no collector answered in {self.task_timeout_s:.0f} s")
            self._settle()

    def run(self, count: int) -> np.ndarray:
        collection = self.collection
        if self._pushed_step != int(self.agent.train_step_counter):
            self.push(wait=True)
        if self._initial_collect_pending and self.iteration_count == 0:
            initial = collection.initial_collect_steps
            self._collect_until(initial, initial, random=True)
            self._drain_random()
            self._initial_collect_pending = False
        initial = collection.initial_collect_steps
        loss = None
        for _ in range(count):
            needed = initial + (self.iteration_count + 1) * collection.steps
            self._collect_until(needed, needed + self.lookahead_steps)
            loss = self.learner.run(iterations=collection.train_steps_per_iteration)
            self.counters.value()[0] += 1
            if int(self.agent.train_step_counter) % self.push_interval == 0:
                self.push()
        return np.asarray([float(loss.loss)], np.float64)

    # -------------------------------------------------------------- shutdown
    def _abort_start(self) -> None:
        """Undo a half-finished constructor: its actors, replay folder and the Ray cluster it started."""
        import ray

        for actor in [*getattr(self, "collectors", []), getattr(self, "server", None)]:
            if actor is not None:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:  # noqa: BLE001 - already gone
                    pass
        if getattr(self, "_replay_dir", None):
            shutil.rmtree(self._replay_dir, ignore_errors=True)
        if self._started_ray:
            ray.shutdown()
        self._closed = True

    def close(self) -> None:
        """Stop the collectors and the replay server (and the local Ray cluster this trainer started)."""
        if self._closed:
            return
        self._closed = True
        ray = self._ray
        dataset = getattr(getattr(self, "learner", None), "_experience_iterator", None)
        if dataset is not None and hasattr(dataset, "close"):
            dataset.close()
        for actor in [*self.collectors, self.server]:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        disconnect(self.address)
        shutil.rmtree(self._replay_dir, ignore_errors=True)
        if self._started_ray:
            ray.shutdown()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
