"""`CompiledTrainer`: collection, replay and the agent's `train_step` in one `jit`, `vmap`ped over seeds.

Generic over agents: the config supplies the agent (`make_agent`) and how an iteration
collects (`collection()`); the trainer supplies the rest. One iteration is: a compiled
driver (`DynamicEpisodeDriver` or `DynamicStepDriver` over `num_envs` batched JAX envs,
continuing from the previous iteration's state) writes into the memory, then the agent
trains: on-policy, the memory is a `TrajectoryRecorder` emptied every iteration and
`train_step` runs once on what it holds (with its mask as weights; on-policy steps, PPO,
fill every row: the driver's `collect_pure` scans exactly that many steps and returns them,
and they go into the recorder and the step and episode counters after the loop, so a GPU
launches no observer kernels per step); off-policy, the
recorded iteration is then added in one scatter to a `JaxUniformReplayBuffer` (or, with
`prioritized`, a `JaxPrioritizedSequenceReplayBuffer`) kept across iterations outside the
driver's loop (first filled by a random policy for `initial_collect_steps`), and
`train_step` runs `train_steps_per_iteration` times on sampled
`[sample_batch_size, train_sequence_length]` sequences (skipped while the buffer cannot
yet be sampled). `run(count)` runs `count` iterations inside one `fori_loop` (the count
is an argument, so chunks of any length share one compiled program, and a run split
into chunks, e.g. interrupted and resumed, computes exactly what an unsplit run does).
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
from agentax.agents.jax_agent import td_priorities
from agentax.policies.random_jax_policy import RandomJaxPolicy
from agentax.replay_buffers.jax_prioritized_sequence_replay_buffer import (JaxPrioritizedSequenceReplayBuffer,
                                                                         importance_weights)
from agentax.replay_buffers.jax_uniform_replay_buffer import JaxUniformReplayBuffer
from agentax.replay_buffers.trajectory_recorder import RecorderState, TrajectoryRecorder
from agentax.specs import array_spec
from agentax.train.config import TrainConfig
from agentax.train.evaluation import compiled_avg_return
from agentax.trajectories.trajectory import Trajectory


class TrainerState(NamedTuple):
    """Everything a compiled run carries (leading axis: seeds)."""

    agent: Any
    driver: Any
    key: Any
    eval_key: Any
    iteration: Any
    replay: Any = None  # off-policy: the replay buffer's state


def with_bootstrap_step(experience, time_step):
    """`experience` `[B, T]` with one more step `[B, T + 1]` made of `time_step` (the time step the
    driver stands at): its observation and step type, zero action, info and reward. On-policy agents
    that bootstrap from the last step's value (PPO, as TF-Agents' `train_sequence_length + 1`)
    train on the first T steps and only read the last one's observation."""
    last = Trajectory(time_step.step_type, time_step.observation,
                      jax.tree.map(lambda x: jnp.zeros_like(x[:, -1]), experience.action),
                      jax.tree.map(lambda x: jnp.zeros_like(x[:, -1]), experience.policy_info),
                      time_step.step_type, jnp.zeros_like(experience.reward[:, -1]), time_step.discount)
    return jax.tree.map(lambda x, y: jnp.concatenate([x, jnp.asarray(y, x.dtype)[:, None]], axis=1),
                        experience, last)


# `init` runs once and `evaluate` is a small share of a run: on CPU, LLVM's optimisations of
# their code cost more compile time (DQN's default: 1.2 s of 5.2 s) than they ever save.
def _run_once_options() -> dict | None:
    return {"xla_backend_optimization_level": 0} if jax.default_backend() == "cpu" else None


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class CompiledTrainer:
    """Trains `num_seeds` runs of `config` at once (seeds `config.seed + i`)."""

    def __init__(self, config: TrainConfig, num_seeds: int = 1):
        if not isinstance(num_seeds, int) or num_seeds < 1:
            raise ValueError(f"`num_seeds` (--num-seeds) must be an integer >= 1, got {num_seeds!r}")
        collection = config.collection()
        self.config, self.num_seeds, self.collection = config, num_seeds, collection
        self.env = suite_jax.load(config.env, batch_size=collection.num_envs)
        self.eval_env = suite_jax.load(config.env, batch_size=config.num_eval_episodes)
        self.agent = config.make_agent(self.env.time_step_spec(), self.env.action_spec())
        max_steps = int(self.env.max_episode_steps)
        if collection.episodes:
            # At most max_steps + 1 loop iterations finish `num_envs` episodes (one per env).
            self.capacity = max_steps + 1
        elif collection.on_policy:
            # On-policy steps (PPO): exactly `steps / num_envs` loop iterations, a full `[num_envs, T]`
            # batch, to which the driver's current time step is appended to bootstrap from.
            self.capacity = math.ceil(collection.steps / collection.num_envs)
        else:
            self.capacity = math.ceil(collection.steps / collection.num_envs) + 1
        self._check_memory()
        spec = self.agent.collect_data_spec
        # The driver records each iteration's steps; off-policy they then go into the replay in one
        # scatter (`add_sequence`). Keeping the replay out of the driver's `while_loop` matters under
        # `vmap`: there the loop `select`s its whole carry at every step, and the replay is large.
        self.initial_capacity = math.ceil(collection.initial_collect_steps / collection.num_envs) + 1
        self.memory = TrajectoryRecorder(spec, self.capacity if collection.on_policy
                                         else max(self.capacity, self.initial_capacity))
        self.replay = None
        if not collection.on_policy:
            rows = max(collection.replay_capacity // collection.num_envs, 1)
            self.replay = (JaxPrioritizedSequenceReplayBuffer(spec, collection.num_envs, rows,
                                                              self.agent.train_sequence_length,
                                                              collection.priority_exponent)
                           if collection.prioritized else JaxUniformReplayBuffer(spec, collection.num_envs, rows))
        self.env_steps = jax_metrics.EnvironmentSteps()
        self.episodes = jax_metrics.NumberOfEpisodes()
        observers = [self.memory, self.env_steps, self.episodes]
        if collection.episodes:
            self.driver = DynamicEpisodeDriver(self.env, self.agent.collect_policy, observers,
                                               num_episodes=collection.episodes)
        else:
            self.driver = DynamicStepDriver(self.env, self.agent.collect_policy, observers, num_steps=collection.steps)
        self.initial_driver = None
        if collection.initial_collect_steps:
            random_policy = RandomJaxPolicy(self.env.time_step_spec(), self.env.action_spec(),
                                            self.agent.collect_policy.policy_state_spec)
            self.initial_driver = DynamicStepDriver(self.env, random_policy, observers,
                                                    num_steps=collection.initial_collect_steps)
        self.eval_iterations = (max_steps + 1) * 2
        self._init = jax.jit(self.init)  # one seed at a time: see `initialize`
        self._run = jax.jit(self._over_seeds(self.run_iterations, in_axes=(0, None)))
        self._eval = jax.jit(self._over_seeds(self.evaluate))
        self.state: TrainerState | None = None
        self.compile_seconds = 0.0

    def _over_seeds(self, fn, in_axes=0):
        """`fn` over the leading seed axis: `vmap` for several seeds; for one, a plain call between a
        squeeze and an expand, because `vmap` turns the drivers' `while_loop`s into loops that
        `select` their whole carry (the recorder included) at every step."""
        if self.num_seeds > 1:
            return jax.vmap(fn, in_axes=in_axes)
        axes = in_axes if isinstance(in_axes, tuple) else None

        def one_seed(*args):
            args = [a if axes is not None and axes[i] is None else jax.tree.map(lambda x: x[0], a)
                    for i, a in enumerate(args)]
            return jax.tree.map(lambda x: x[None], fn(*args))

        return one_seed

    def _check_memory(self) -> None:
        """Refuse, before compiling, a batch whose recorded steps cannot fit in memory."""
        step_bytes = sum(int(np.prod(s.shape)) * np.dtype(s.dtype).itemsize
                         for s in array_spec.flatten(self.agent.collect_data_spec))
        # On-policy: the recorder, its batch-major copy, activations and gradients of the train step;
        # off-policy: the replay.
        collection = self.collection
        held = (self.capacity * collection.num_envs * (step_bytes * 3 + 4 * 1024) if collection.on_policy
                else collection.replay_capacity * step_bytes)
        need = held * self.num_seeds
        have = _memory_bytes()
        if need > 0.5 * have:
            raise ValueError(
                f"the run holds about {need / 2**30:.1f} GiB of steps ({collection.num_envs} environments, "
                f"replay capacity {collection.replay_capacity}, {self.num_seeds} seeds: `num_envs` / "
                f"`collect_episodes_per_iteration`, `replay_capacity`, `num_seeds`), more than half of this "
                f"machine's {have / 2**30:.1f} GiB; use fewer environments, seeds or a smaller replay")

    # ---- the pure core (one seed; vmapped by the shell)
    def init(self, key) -> TrainerState:
        agent_key, driver_key, train_key, eval_key = jax.random.split(key, 4)
        driver_state = self.driver.initial_state(driver_key)
        replay = None
        if self.replay is not None:
            replay = self.replay.init()
            if self.initial_driver is not None:  # uniformly random steps into the replay first
                driver_state = self.initial_driver.run_pure(None, driver_state,
                                                            maximum_iterations=self.initial_capacity)
                replay = self._add_recorded(replay, driver_state)
        return TrainerState(self.agent.init(agent_key), self._fresh_recorder(driver_state), train_key, eval_key,
                            jnp.asarray(0, jnp.int32), replay)

    def _fresh_recorder(self, driver_state):
        fresh = (self.memory.init(self.collection.num_envs),) + driver_state.observer_states[1:]
        return driver_state._replace(observer_states=fresh)

    def _add_recorded(self, replay, driver_state):
        recorded = driver_state.observer_states[0]
        items = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), recorded.data)
        return self.replay.add_sequence(replay, items, recorded.length)

    def _collect_full_rows(self, params, driver_state):
        """On-policy steps (PPO) fill every row: exactly `capacity` steps, a scan returning their
        trajectories, which then go into the recorder and the step and episode counters at once (the
        same states as per-step updates, without their kernels in every step of a GPU's loop)."""
        driver_state, trajectories = self.driver.collect_pure(params, driver_state, self.capacity)
        recorder, *counters = driver_state.observer_states
        recorded = RecorderState(jax.tree.map(lambda buf, x: x.astype(buf.dtype), recorder.data, trajectories),
                                 jnp.asarray(self.capacity, jnp.int32))
        counted = tuple(metric.update(s, trajectories) for metric, s in zip((self.env_steps, self.episodes), counters))
        return driver_state._replace(observer_states=(recorded,) + counted)

    def iteration(self, state: TrainerState):
        """Pure: collect with the current parameters, then train on the memory."""
        params = self.agent.collect_policy_params(state.agent)
        if self.collection.on_policy and not self.collection.episodes:
            driver_state = self._collect_full_rows(params, state.driver)
        else:
            driver_state = self.driver.run_pure(params, state.driver, maximum_iterations=self.capacity)
        key, train_key = jax.random.split(state.key)
        replay = state.replay
        if self.collection.on_policy:
            experience, mask = self.memory.batch_major(driver_state.observer_states[0])
            if not self.collection.episodes:  # full rows: no mask, the next time step appended
                experience, mask = with_bootstrap_step(experience, driver_state.time_step), None
            agent_state, loss = self.agent.train_step(state.agent, experience, train_key, mask)
        else:
            replay = self._add_recorded(replay, driver_state)
            (agent_state, replay), loss = self._train_from_replay(state.agent, replay, train_key)
        return TrainerState(agent_state, self._fresh_recorder(driver_state), key, state.eval_key,
                            state.iteration + 1, replay), loss

    def _train_from_replay(self, agent_state, replay, key):
        """Pure: `train_steps_per_iteration` train steps on sampled sequences (none while the
        replay cannot be sampled). Prioritized: importance weights go to `train_step`, and the
        sampled items' priorities become `|td_error|` of the step."""
        buffer, collection = self.replay, self.collection
        length = self.agent.train_sequence_length

        def one_step(carry, step_key):
            agent_state, replay = carry
            sample_key, train_key = jax.random.split(step_key)
            if not collection.prioritized:
                experience, _ = buffer.sample(replay, sample_key, collection.sample_batch_size, length)
                agent_state, loss = self.agent.train_step(agent_state, experience, train_key)
                return (agent_state, replay), loss
            experience, info = buffer.sample(replay, sample_key, collection.sample_batch_size)
            weights = importance_weights(info, collection.importance_exponent)
            agent_state, loss = self.agent.train_step(agent_state, experience, train_key, weights)
            return (agent_state, buffer.update_priorities(replay, info.indices, td_priorities(loss))), loss

        def train(carry):
            keys = jax.random.split(key, collection.train_steps_per_iteration)
            carry, losses = jax.lax.scan(one_step, carry, keys)
            return carry, jax.tree.map(lambda x: x[-1], losses)

        def skip(carry):
            shapes = jax.eval_shape(train, carry)[1]
            return carry, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

        return jax.lax.cond(buffer.can_sample(replay, length), train, skip, (agent_state, replay))

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
        # Seed by seed, then stacked: under `vmap`, orthogonal initializers become a batched QR that
        # deadlocked XLA's CPU runtime (LAPACK in ParallelBatchMap) on 2 cores; the values are the same.
        init = self._init.lower(keys[0]).compile(_run_once_options())
        states = [init(key) for key in keys]
        self.state = jax.tree.map(lambda *leaves: jnp.stack(leaves), *states)
        del states
        self._run = self._run.lower(self.state, np.int32(0)).compile()
        self._eval = self._eval.lower(self.state).compile(_run_once_options())
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

