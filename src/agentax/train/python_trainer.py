"""`PythonTrainer`: the Python path as TF-Agents' examples wire it, generic over agents.

An `Actor` (a `PyDriver` over the Gymnasium environment with `PyJaxPolicy(agent.collect_policy)`)
writes into an `agentax.reverb` table; a `Learner` samples it and calls `agent.train`.

- On-policy, as the REINFORCE tutorial: whole episodes through `ReverbAddEpisodeObserver`;
  each iteration trains on `sample_batch_size` episodes drawn uniformly from what was just
  collected (0: every collected episode once, from a queue table), then the table is
  cleared. Episodes of different lengths are padded into one batch with a mask.
- On-policy in steps, as TF-Agents' PPO example (`ppo_clip_train_eval.py`): `num_envs` Gymnasium
  envs in a `BatchedPyEnvironment`; `ReverbTrajectorySequenceObserver` writes one sequence of
  `steps / num_envs + 1` steps per env (across episode boundaries; the last step only
  bootstraps) into a FIFO table with `max_times_sampled=1`; after each actor run the observer
  drops its cached extra steps (`reset(write_cached_steps=False)`, as the example), the learner
  trains once on the `[num_envs, T + 1]` batch, and the table is cleared.
- Off-policy, as TF-Agents' `dqn_train_eval.py`: `ReverbAddTrajectoryObserver` writes
  sequences of `train_sequence_length` steps (stride 1) into a uniform table of
  `replay_capacity` items, first filled by a random policy for `initial_collect_steps`;
  the learner reads `as_dataset(sample_batch_size, num_steps=train_sequence_length)`. The
  table's contents are part of the checkpoint, so a resumed run keeps its replay.

The same shell as `CompiledTrainer` (one seed), so `train.run` drives either.
"""

from __future__ import annotations

import jax
import numpy as np

from agentax.agents.jax_agent import td_priorities
from agentax.environments import suite_gym
from agentax.policies.py_jax_policy import PyJaxPolicy
from agentax.policies.random_py_policy import RandomPyPolicy
from agentax import reverb
from agentax.replay_buffers import ReverbReplayBuffer, pad_episodes, reverb_utils
from agentax.train.actor import Actor
from agentax.train.config import TrainConfig
from agentax.train.evaluation import compute_avg_return
from agentax.train.learner import Learner
from agentax.utils import common


class PythonTrainer:
    """One seed of `config` on the Python path."""

    num_seeds = 1
    compile_seconds = 0.0
    TABLE = "episodes"
    TIMEOUT_MS = 60_000

    def __init__(self, config: TrainConfig, num_seeds: int = 1):
        if num_seeds != 1:
            raise ValueError(f"`num_seeds` (--num-seeds) > 1 needs --trainer compiled, got {num_seeds}")
        collection = config.collection()
        self.config, self.collection = config, collection
        self.on_policy_steps = collection.on_policy and not collection.episodes
        if self.on_policy_steps and collection.num_envs > 1:
            from agentax.environments.batched_py_environment import BatchedPyEnvironment
            self.env = BatchedPyEnvironment([suite_gym.load(config.env) for _ in range(collection.num_envs)])
        else:
            self.env = suite_gym.load(config.env)
        self.env.seed(config.seed)
        self.eval_env = suite_gym.load(config.env)
        self.agent = config.make_agent(self.env.time_step_spec(), self.env.action_spec())
        length = None if collection.on_policy else self.agent.train_sequence_length
        capacity = max(collection.episodes, 1) if collection.on_policy else collection.replay_capacity
        if self.on_policy_steps:
            self.sequence_length = collection.steps // collection.num_envs + 1
            length, capacity = self.sequence_length, collection.num_envs
            table = reverb.Table(self.TABLE, max_size=capacity, sampler=reverb.selectors.Fifo(),
                                 remover=reverb.selectors.Fifo(), rate_limiter=reverb.rate_limiters.MinSize(1),
                                 max_times_sampled=1)
        elif collection.on_policy and not collection.sample_batch_size:
            table = reverb.Table.queue(self.TABLE, max_size=capacity)
        else:
            sampler = (reverb.selectors.Prioritized(collection.priority_exponent, seed=config.seed)
                       if collection.prioritized else reverb.selectors.Uniform(seed=config.seed))
            table = reverb.Table(self.TABLE, max_size=capacity, sampler=sampler,
                                 remover=reverb.selectors.Fifo(), rate_limiter=reverb.rate_limiters.MinSize(1))
        self.server = reverb.Server([table])
        self.replay = ReverbReplayBuffer(self.agent.collect_data_spec, self.TABLE, sequence_length=length,
                                         local_server=self.server)
        if self.on_policy_steps:
            self.observer = reverb_utils.ReverbTrajectorySequenceObserver(
                self.replay.py_client, self.TABLE, sequence_length=length, stride_length=length)
        elif collection.on_policy:
            limit = getattr(self.env, "max_episode_steps", None)
            self.observer = reverb_utils.ReverbAddEpisodeObserver(self.replay.py_client, self.TABLE,
                                                                  max_sequence_length=(limit or 100_000) + 1)
        else:
            self.observer = reverb_utils.ReverbAddTrajectoryObserver(self.replay.py_client, self.TABLE,
                                                                     sequence_length=length, stride_length=1)
        self.counters = common.Variable(np.zeros(2, np.int64), name="iterations_and_env_steps")

    def initialize(self) -> None:
        collection, train_step = self.collection, self.agent.train_step_counter
        self.agent.initialize()
        observers = [self.observer, self._count_env_steps]
        steps = collection.steps
        if self.on_policy_steps:  # every env takes at least T + 1 steps (boundaries do not count)
            steps = self.sequence_length * collection.num_envs
        self.actor = Actor(self.env, PyJaxPolicy(self.agent.collect_policy), train_step,
                           episodes_per_run=collection.episodes or None, steps_per_run=steps or None,
                           observers=observers, summary_interval=0)
        after_step = None
        if self.on_policy_steps:
            dataset_fn, kwargs = self._on_policy_sequences, False
        elif collection.on_policy:
            dataset_fn, kwargs = self._episodes, True
        elif collection.prioritized:
            dataset_fn, kwargs, after_step = self._weighted_sequences, True, self._update_priorities
        else:
            dataset_fn, kwargs = self._sequences, False
        self.learner = Learner(None, train_step, self.agent, dataset_fn, checkpoint_interval=-1,
                               summary_interval=0, use_kwargs_in_agent_train=kwargs,
                               after_train_strategy_step_fn=after_step)
        self.eval_policy = PyJaxPolicy(self.agent.policy)
        self._initial_collect_pending = bool(collection.initial_collect_steps)

    def _count_env_steps(self, trajectory) -> None:
        self.counters.value()[1] += int(np.sum(~np.asarray(trajectory.is_boundary())))

    def _initial_collect(self) -> None:
        """Fill the replay with `initial_collect_steps` steps of a uniformly random policy (once)."""
        policy = RandomPyPolicy(self.env.time_step_spec(), self.env.action_spec(), seed=self.config.seed)
        initial = Actor(self.env, policy, self.agent.train_step_counter,
                        steps_per_run=self.collection.initial_collect_steps,
                        observers=[self.observer, self._count_env_steps], summary_interval=0)
        initial.run()
        # Both actors step the one environment: collection continues where the random steps stopped
        # (the observer's cached steps are of that episode), not from the time step it had before.
        self.actor._time_step = initial._time_step
        self._initial_collect_pending = False

    def _sequences(self):
        return self.replay.as_dataset(self.collection.sample_batch_size, num_steps=self.agent.train_sequence_length,
                                      seed=self.config.seed)

    def _weighted_sequences(self):
        """Prioritized: each batch with its importance weights `(N * P) ** -importance_exponent` (max 1)."""
        for experience, info in self._sequences():
            weights = (info.table_size[:, 0] * info.probability[:, 0]) ** -self.collection.importance_exponent
            yield {"experience": experience, "weights": (weights / weights.max()).astype(np.float32)}, info

    def _update_priorities(self, experience_and_info, loss) -> None:
        """Prioritized: the sampled items' new priorities, `|td_error|` of the step that trained on them."""
        keys = np.asarray(experience_and_info[1].key)[:, 0]
        self.replay.update_priorities(keys, np.asarray(td_priorities(loss)))

    def _on_policy_sequences(self):
        """On-policy steps: the one `[T + 1]` sequence of each env from the last actor run, as a batch."""
        client = self.replay.py_client
        while True:
            self.observer.reset(write_cached_steps=False)  # drop the steps past each env's sequence
            samples = list(client.sample(self.TABLE, self.collection.num_envs, emit_timesteps=False,
                                         unpack_as_table_signature=True, timeout_ms=self.TIMEOUT_MS))
            self.replay.clear()
            experience = jax.tree.map(lambda *xs: np.stack(xs), *[sample.data for sample in samples])
            yield experience, [sample.info for sample in samples]

    def _episodes(self):
        """On-policy: `sample_batch_size` episodes of the last actor run (0: all of them), then clear."""
        client = self.replay.py_client
        while True:
            n = self.collection.sample_batch_size or self.replay.num_frames()
            samples = list(client.sample(self.TABLE, n, emit_timesteps=False, unpack_as_table_signature=True,
                                         timeout_ms=self.TIMEOUT_MS))
            self.replay.clear()
            experience, mask = pad_episodes([sample.data for sample in samples])
            yield {"experience": experience, "weights": mask}, [sample.info for sample in samples]

    @property
    def iteration_count(self) -> int:
        return int(self.counters.value()[0])

    def run(self, count: int) -> np.ndarray:
        if self._initial_collect_pending and self.iteration_count == 0:
            self._initial_collect()
        for _ in range(count):
            self.actor.run()
            loss = self.learner.run(iterations=self.collection.train_steps_per_iteration)
            self.counters.value()[0] += 1
        return np.asarray([float(loss.loss)], np.float64)

    def evaluate_now(self) -> np.ndarray:
        self.eval_env.seed(self.config.seed + 10_000 + self.iteration_count)
        return np.asarray([compute_avg_return(self.eval_env, self.eval_policy, self.config.num_eval_episodes,
                                              max_steps=self._eval_step_cap())])

    def _eval_step_cap(self) -> int | None:
        limit = getattr(self.env, "max_episode_steps", None)
        return None if limit is None else (int(limit) + 1) * self.config.num_eval_episodes * 2

    def env_steps_now(self) -> np.ndarray:
        return np.asarray([int(self.counters.value()[1])])

    def train_steps_now(self) -> np.ndarray:
        return np.asarray([int(self.agent.train_step_counter)])

    def select_seed(self, index: int = 0) -> None:
        pass

    def checkpoint_objects(self) -> dict:
        objects = {"agent": self.agent, "counters": self.counters}
        if not self.collection.on_policy:
            objects["replay"] = _ReplayContents(self.server)
        return objects


class _ReplayContents:
    """A Reverb server's tables as a checkpointable object (shapes vary with the contents)."""

    checkpoint_shapes_vary = True

    def __init__(self, server):
        self.server = server

    def get_checkpoint_state(self):
        return self.server.get_state()

    def set_checkpoint_state(self, state) -> None:
        self.server.set_state(state)
