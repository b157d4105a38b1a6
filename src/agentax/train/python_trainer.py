"""`PythonTrainer`: the Python path as TF-Agents' examples wire it, generic over agents.

An `Actor` (a `PyDriver` over the Gymnasium environment with `PyJaxPolicy(agent.collect_policy)`)
writes into replay; a `Learner` samples it and calls `agent.train`. The same shell as
`CompiledTrainer` (one seed), so `train.run` drives either.
"""

from __future__ import annotations

import numpy as np

from agentax.environments import suite_gym
from agentax.policies.py_jax_policy import PyJaxPolicy
from agentax.replay_buffers import EpisodicReplayBuffer
from agentax.train.actor import Actor
from agentax.train.config import TrainConfig
from agentax.train.evaluation import compute_avg_return
from agentax.train.learner import Learner
from agentax.utils import common


class PythonTrainer:
    """One seed of `config` on the Python path."""

    num_seeds = 1
    compile_seconds = 0.0

    def __init__(self, config: TrainConfig, num_seeds: int = 1):
        if num_seeds != 1:
            raise ValueError(f"`num_seeds` (--num-seeds) > 1 needs --trainer compiled, got {num_seeds}")
        collection = config.collection()
        if not collection.on_policy or not collection.episodes:
            raise NotImplementedError(f"{type(config).__name__}: the Python trainer has no off-policy replay yet")
        self.config, self.collection = config, collection
        self.env = suite_gym.load(config.env)
        self.env.seed(config.seed)
        self.eval_env = suite_gym.load(config.env)
        self.agent = config.make_agent(self.env.time_step_spec(), self.env.action_spec())
        self.replay = EpisodicReplayBuffer(capacity=max(collection.episodes, 1), seed=config.seed)
        self.counters = common.Variable(np.zeros(2, np.int64), name="iterations_and_env_steps")

    def initialize(self) -> None:
        self.agent.initialize()
        self.actor = Actor(self.env, PyJaxPolicy(self.agent.collect_policy), self.agent.train_step_counter,
                           episodes_per_run=self.collection.episodes,
                           observers=[self.replay.observer, self._count_env_steps], summary_interval=0)
        self.learner = Learner(None, self.agent.train_step_counter, self.agent, self._experience,
                               checkpoint_interval=-1, summary_interval=0, use_kwargs_in_agent_train=True)
        self.eval_policy = PyJaxPolicy(self.agent.policy)

    def _count_env_steps(self, trajectory) -> None:
        self.counters.value()[1] += int(np.sum(~np.asarray(trajectory.is_boundary())))

    def _experience(self):
        """On-policy: what the last actor run collected (or `sample_batch_size` episodes of it), then clear."""
        while True:
            n = self.collection.sample_batch_size
            experience, mask = self.replay.sample(n) if n else self.replay.gather_all()
            self.replay.clear()
            yield {"experience": experience, "weights": mask}, None

    @property
    def iteration_count(self) -> int:
        return int(self.counters.value()[0])

    def run(self, count: int) -> np.ndarray:
        for _ in range(count):
            self.actor.run()
            loss = self.learner.run(iterations=1)
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
        return {"agent": self.agent, "counters": self.counters}
