"""`CompiledTrainer`: collection, replay and the agent's `train_step` in one `jit`, `vmap`ped over seeds.

Generic over agents: the config supplies the agent (`make_agent`) and how an iteration
collects (`collection()`); the trainer supplies the rest. One iteration is: a compiled
driver (`DynamicEpisodeDriver` or `DynamicStepDriver` over `num_envs` batched JAX envs,
continuing from the previous iteration's state) writes into a `TrajectoryRecorder`,
then `agent.train_step` runs on what was recorded (on-policy agents). `run(count)`
runs `count` iterations inside one `while_loop` (the count is an argument, so chunks of
any length share one compiled program, and a run split into chunks, e.g. interrupted
and resumed, computes exactly what an unsplit run does).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agentax.drivers import DynamicEpisodeDriver, DynamicStepDriver
from agentax.environments import suite_jax
from agentax.metrics import jax_metrics
from agentax.replay_buffers.trajectory_recorder import TrajectoryRecorder
from agentax.specs import array_spec
from agentax.train.config import TrainConfig
from agentax.train.evaluation import compiled_avg_return


class TrainerState(NamedTuple):
    """Everything a compiled run carries (leading axis: seeds)."""

    agent: Any
    driver: Any
    key: Any
    eval_key: Any
    iteration: Any


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class CompiledTrainer:
    """Trains `num_seeds` runs of `config` at once (seeds `config.seed + i`)."""

    def __init__(self, config: TrainConfig, num_seeds: int = 1):
        if not isinstance(num_seeds, int) or num_seeds < 1:
            raise ValueError(f"`num_seeds` (--num-seeds) must be an integer >= 1, got {num_seeds!r}")
        collection = config.collection()
        if not collection.on_policy:
            raise NotImplementedError(f"{type(config).__name__}: the compiled trainer has no off-policy replay yet")
        self.config, self.num_seeds, self.collection = config, num_seeds, collection
        self.env = suite_jax.load(config.env, batch_size=collection.num_envs)
        self.eval_env = suite_jax.load(config.env, batch_size=config.num_eval_episodes)
        self.agent = config.make_agent(self.env.time_step_spec(), self.env.action_spec())
        max_steps = int(self.env.max_episode_steps)
        if collection.episodes:
            # At most max_steps + 1 loop iterations finish `num_envs` episodes (one per env).
            self.capacity = max_steps + 1
            make_driver = lambda observers: DynamicEpisodeDriver(self.env, self.agent.collect_policy, observers,
                                                                 num_episodes=collection.episodes)
        else:
            self.capacity = math.ceil(collection.steps / collection.num_envs) + 1
            make_driver = lambda observers: DynamicStepDriver(self.env, self.agent.collect_policy, observers,
                                                              num_steps=collection.steps)
        self._check_memory()
        self.recorder = TrajectoryRecorder(self.agent.collect_data_spec, self.capacity)
        self.env_steps = jax_metrics.EnvironmentSteps()
        self.episodes = jax_metrics.NumberOfEpisodes()
        self.driver = make_driver([self.recorder, self.env_steps, self.episodes])
        self.eval_iterations = (max_steps + 1) * 2
        self._init = jax.jit(jax.vmap(self.init))
        self._run = jax.jit(jax.vmap(self.run_iterations, in_axes=(0, None)))
        self._eval = jax.jit(jax.vmap(self.evaluate))
        self.state: TrainerState | None = None
        self.compile_seconds = 0.0

    def _check_memory(self) -> None:
        """Refuse, before compiling, a batch whose recorded steps cannot fit in memory."""
        step_bytes = sum(int(np.prod(s.shape)) * np.dtype(s.dtype).itemsize
                         for s in array_spec.flatten(self.agent.collect_data_spec))
        # The recorder, its batch-major copy, and activations and gradients of the train step.
        need = self.capacity * self.collection.num_envs * self.num_seeds * (step_bytes * 3 + 4 * 1024)
        have = _memory_bytes()
        if need > 0.5 * have:
            raise ValueError(
                f"`collect_episodes_per_iteration`/`num_envs` ({self.collection.num_envs}) x `num_seeds` "
                f"({self.num_seeds}) x {self.capacity} steps needs about {need / 2**30:.1f} GiB, more than half "
                f"of this machine's {have / 2**30:.1f} GiB; use fewer environments or seeds")

    # ---- the pure core (one seed; vmapped by the shell)
    def init(self, key) -> TrainerState:
        agent_key, driver_key, train_key, eval_key = jax.random.split(key, 4)
        return TrainerState(self.agent.init(agent_key), self.driver.initial_state(driver_key), train_key, eval_key,
                            jnp.asarray(0, jnp.int32))

    def iteration(self, state: TrainerState):
        """Pure: collect with the current parameters, then one `train_step` on what was collected."""
        observer_states = (self.recorder.init(self.collection.num_envs),) + state.driver.observer_states[1:]
        driver_state = state.driver._replace(observer_states=observer_states)
        driver_state = self.driver.run_pure(self.agent.collect_policy_params(state.agent), driver_state,
                                            maximum_iterations=self.capacity)
        experience, mask = self.recorder.batch_major(driver_state.observer_states[0])
        key, train_key = jax.random.split(state.key)
        agent_state, loss = self.agent.train_step(state.agent, experience, train_key, mask)
        return TrainerState(agent_state, driver_state, key, state.eval_key, state.iteration + 1), loss

    def run_iterations(self, state: TrainerState, count):
        """Pure: `count` iterations (a traced value); returns the state and the last loss."""
        loss_shape = jax.eval_shape(lambda s: self.iteration(s)[1], state)
        loss = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), loss_shape)
        return jax.lax.fori_loop(0, count, lambda _, carry: self.iteration(carry[0]), (state, loss))

    def evaluate(self, state: TrainerState):
        """Pure: the greedy policy's average return over `num_eval_episodes` episodes."""
        key = jax.random.fold_in(state.eval_key, state.iteration)
        return compiled_avg_return(self.eval_env, self.agent.policy, self.agent.policy_params(state.agent), key,
                                   self.config.num_eval_episodes, self.eval_iterations)

    # ---- the shell used by `train.run`
    def initialize(self) -> None:
        """Create the state of every seed and compile everything (timed in `compile_seconds`)."""
        start = time.perf_counter()
        keys = jnp.stack([jax.random.PRNGKey(self.config.seed + i) for i in range(self.num_seeds)])
        self.state = self._init(keys)
        self._run = self._run.lower(self.state, np.int32(0)).compile()
        self._eval = self._eval.lower(self.state).compile()
        self.compile_seconds = time.perf_counter() - start

    @property
    def iteration_count(self) -> int:
        return int(np.asarray(self.state.iteration)[0])

    def run(self, count: int) -> np.ndarray:
        """Run `count` iterations of every seed; returns each seed's last loss `[num_seeds]`."""
        self.state, loss = self._run(self.state, np.int32(count))
        return np.asarray(loss.loss, np.float64)

    def evaluate_now(self) -> np.ndarray:
        return np.asarray(self._eval(self.state), np.float64)

    def env_steps_now(self) -> np.ndarray:
        return np.asarray(self.state.driver.observer_states[1], np.int64)

    def train_steps_now(self) -> np.ndarray:
        return np.asarray(self.state.agent.step, np.int64)

    def select_seed(self, index: int = 0) -> None:
        """Put seed `index`'s state into `self.agent` (its policies act with it)."""
        self.agent.set_state(jax.tree.map(lambda x: x[index], self.state.agent))

    def checkpoint_objects(self) -> dict:
        return {"trainer": _StateHolder(self)}


class _StateHolder:
    """The trainer's state as a checkpointable object."""

    def __init__(self, trainer: CompiledTrainer):
        self.trainer = trainer

    def get_checkpoint_state(self):
        return self.trainer.state

    def set_checkpoint_state(self, state) -> None:
        self.trainer.state = jax.tree.map(jnp.asarray, state)

