"""REINFORCE on CartPole, the reference tutorial as a program: two trainers, one agent.

- `train_python`: the tutorial's loop. `PyDriver` + `PyJaxPolicy` collect whole
  episodes from the Gymnasium environment into an `EpisodicReplayBuffer`; one
  compiled train step per iteration.
- `CompiledTrainer`: collection by `DynamicEpisodeDriver` over a batch of JAX
  CartPoles and the train step in one `jit`; `train_many_seeds` `vmap`s whole
  training runs over seeds.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentax.agents.reinforce.reinforce_agent import ReinforceAgent, TrainState
from agentax.drivers import DynamicEpisodeDriver, PyDriver
from agentax.environments import suite_gym, suite_jax
from agentax.networks import ActorDistributionNetwork, ValueNetwork
from agentax.policies.py_jax_policy import PyJaxPolicy
from agentax.replay_buffers import EpisodicReplayBuffer
from agentax.replay_buffers.trajectory_recorder import TrajectoryRecorder
from agentax.training.evaluation import compute_avg_return


@dataclasses.dataclass
class ReinforceConfig:
    """Hyperparameters of a REINFORCE run (every field is a CLI flag)."""

    env: str = "CartPole-v0"                 # environment id (Gymnasium; JAX for the compiled trainer)
    trainer: str = "compiled"                # "compiled" (JAX envs, one jit) or "python" (PyDriver, Gymnasium)
    iterations: int = 100                    # training iterations (one gradient step each)
    collect_episodes_per_iteration: int = 64  # episodes collected per iteration (batched envs when compiled)
    sample_batch_size: int = 0               # python trainer: episodes sampled per update (0 = all collected)
    fc_layer_params: tuple = (100,)          # actor hidden layers
    learning_rate: float = 5e-3              # Adam
    gamma: float = 1.0                       # discount of the returns
    normalize_returns: bool = True           # standardize advantages in each batch
    value_baseline: bool = True              # learn a value network and use returns - value
    value_fc_layer_params: tuple = (100,)    # value network hidden layers
    entropy_regularization: float = 0.0      # entropy bonus coefficient (0 = off)
    gradient_clipping: float = 0.0           # global-norm clipping (0 = off)
    log_interval: int = 25                   # iterations between loss lines
    eval_interval: int = 25                  # iterations between evaluations
    num_eval_episodes: int = 10              # episodes per evaluation
    seed: int = 0                            # seeds everything: same seed, same curve
    video_episodes: int = 3                  # episodes in eval.mp4 (0 = no video)


PRESETS = {
    # CLI default: batched episodes, value baseline, higher learning rate, compiled.
    "default": ReinforceConfig(),
    # The reference tutorial's exact settings, on the Python path.
    "tutorial": ReinforceConfig(trainer="python", iterations=250, collect_episodes_per_iteration=2,
                                sample_batch_size=1, learning_rate=1e-3, value_baseline=False,
                                log_interval=25, eval_interval=50, num_eval_episodes=10),
}


def make_agent(config: ReinforceConfig, time_step_spec, action_spec) -> ReinforceAgent:
    actor = ActorDistributionNetwork(time_step_spec.observation, action_spec, tuple(config.fc_layer_params))
    value = ValueNetwork(time_step_spec.observation, tuple(config.value_fc_layer_params)) \
        if config.value_baseline else None
    return ReinforceAgent(time_step_spec, action_spec, actor, optax.adam(config.learning_rate),
                          gamma=config.gamma, normalize_returns=config.normalize_returns,
                          entropy_regularization=config.entropy_regularization or None, value_network=value,
                          gradient_clipping=config.gradient_clipping or None, seed=config.seed)


class History(NamedTuple):
    """What a run measured: evaluation curve, losses and timings."""

    eval_iterations: list
    eval_returns: list
    rows: list               # one dict per logged iteration
    train_seconds: float     # wall time of the training loop (compilation included)
    compile_seconds: float   # of which compilation (compiled trainer; 0 for python)


Logger = Callable[[dict], None]


def train_python(config: ReinforceConfig, log: Logger = lambda row: None, progress=None) -> tuple[ReinforceAgent, History]:
    """The tutorial's loop on the Python path; returns the trained agent and its history."""
    train_env, eval_env = suite_gym.load(config.env), suite_gym.load(config.env)
    train_env.seed(config.seed)
    eval_env.seed(config.seed + 10_000)
    agent = make_agent(config, train_env.time_step_spec(), train_env.action_spec())
    agent.initialize()
    collect_policy = PyJaxPolicy(agent.collect_policy, seed=config.seed)
    eval_policy = PyJaxPolicy(agent.policy, seed=config.seed)
    replay_buffer = EpisodicReplayBuffer(capacity=max(config.collect_episodes_per_iteration, 1), seed=config.seed)
    driver = PyDriver(train_env, collect_policy, [replay_buffer.observer],
                      max_episodes=config.collect_episodes_per_iteration)

    def train_step(_):
        driver.run(train_env.reset())
        experience, mask = (replay_buffer.sample(config.sample_batch_size) if config.sample_batch_size
                            else replay_buffer.gather_all())
        replay_buffer.clear()
        return agent.train(experience, mask)

    start = time.perf_counter()
    curve = training_loop(config, train_step, lambda _: compute_avg_return(eval_env, eval_policy,
                                                                        config.num_eval_episodes),
                          start, log, progress)
    return agent, History(*curve, time.perf_counter() - start, 0.0)


def training_loop(config: ReinforceConfig, train_step: Callable[[int], Any], evaluate: Callable[[int], float],
                  start: float, log: Logger, progress=None, eval_interval: int | None = None):
    """Iterations 1..N of `train_step(i)`, evaluating at 0 and every `eval_interval`; logs a row
    whenever there is a loss or a return to report. Returns `(eval_iterations, eval_returns, rows)`."""
    eval_interval = eval_interval or config.eval_interval
    eval_iterations, eval_returns, rows = [0], [evaluate(0)], []
    log({"iteration": 0, "eval_return": eval_returns[0]})
    for i in range(1, config.iterations + 1):
        loss = train_step(i)
        row = {"iteration": i}
        if i % config.log_interval == 0:
            row["loss"] = float(loss.loss)
        if i % eval_interval == 0:
            row["eval_return"] = evaluate(i)
            row["wall_s"] = time.perf_counter() - start
            eval_iterations.append(i)
            eval_returns.append(row["eval_return"])
        if len(row) > 1:
            rows.append(row)
            log(row)
        if progress is not None:
            progress(1)
    return eval_iterations, eval_returns, rows


# ---------------------------------------------------------------- compiled


class CompiledState(NamedTuple):
    train_state: TrainState
    driver_state: Any


class CompiledTrainer:
    """Collection (`DynamicEpisodeDriver` over `collect_episodes_per_iteration` batched
    JAX envs, continuing across iterations) and the train step, in one `jit`."""

    def __init__(self, config: ReinforceConfig):
        self.config = config
        self.num_envs = config.collect_episodes_per_iteration
        self.env = suite_jax.load(config.env, batch_size=self.num_envs)
        self.eval_env = suite_jax.load(config.env, batch_size=config.num_eval_episodes)
        self.max_steps = int(getattr(self.env, "max_episode_steps"))
        self.agent = make_agent(config, self.env.time_step_spec(), self.env.action_spec())
        # At most max_steps + 1 loop iterations collect num_envs episodes (see DynamicEpisodeDriver).
        self.capacity = self.max_steps + 1
        self.recorder = TrajectoryRecorder(self.agent.collect_data_spec, self.capacity)
        self.driver = DynamicEpisodeDriver(self.env, self.agent.collect_policy, [self.recorder],
                                           num_episodes=self.num_envs, seed=config.seed)
        self.iteration = jax.jit(self._iteration)
        self.evaluate = jax.jit(self._evaluate)

    def init(self, key) -> CompiledState:
        agent_key, driver_key = jax.random.split(key)
        return CompiledState(self.agent.init(agent_key), self.driver.initial_state(driver_key))

    def _iteration(self, state: CompiledState):
        """Pure: collect `num_envs` episodes with the current parameters, then one gradient step."""
        driver_state = state.driver_state._replace(observer_states=(self.recorder.init(self.num_envs),))
        driver_state = self.driver.run_pure(state.train_state.actor_params, driver_state, limit=self.num_envs,
                                            maximum_iterations=self.capacity)
        experience, mask = self.recorder.batch_major(driver_state.observer_states[0])
        train_state, loss = self.agent.train_step(state.train_state, experience, mask)
        return CompiledState(train_state, driver_state), loss

    def _evaluate(self, actor_params, key):
        """Pure: average return of the greedy policy, one episode in each of the eval envs."""
        env, policy = self.eval_env, self.agent.policy
        env_state, time_step = env.reset(key)

        def step(carry, _):
            env_state, time_step, total, alive = carry
            action = policy.action(actor_params, time_step, (), None).action
            env_state, time_step = env.step(env_state, action)
            total = total + time_step.reward * alive
            alive = alive & ~time_step.is_last()
            return (env_state, time_step, total, alive), None

        init = (env_state, time_step, jnp.zeros(time_step.reward.shape), jnp.ones(time_step.reward.shape, bool))
        (_, _, total, _), _ = jax.lax.scan(step, init, None, length=self.max_steps)
        return jnp.mean(total)

    def train(self, log: Logger = lambda row: None, progress=None,
              eval_interval: int | None = None) -> tuple[ReinforceAgent, History]:
        """Run `config.iterations` iterations, evaluating every `eval_interval`
        (default `config.eval_interval`); returns the agent and its history.

        Everything is compiled first; `compile_seconds` says how long that took.
        """
        config = self.config
        start = time.perf_counter()
        key = jax.random.PRNGKey(config.seed)
        init_key, eval_key = jax.random.split(key)
        # Compile everything up front. Initialization is jitted too: run eagerly,
        # Flax's initializers would dispatch hundreds of small ops one by one.
        state = jax.jit(self.init)(init_key)
        iteration = self.iteration.lower(state).compile()
        evaluate_fn = self.evaluate.lower(state.train_state.actor_params, eval_key).compile()
        compile_seconds = time.perf_counter() - start

        def train_step(_):
            nonlocal state
            state, loss = iteration(state)
            return loss

        def evaluate(i):
            return float(evaluate_fn(state.train_state.actor_params, jax.random.fold_in(eval_key, i)))

        curve = training_loop(config, train_step, evaluate, start, log, progress, eval_interval)
        jax.block_until_ready(state)
        self.agent.set_train_state(state.train_state)
        return self.agent, History(*curve, time.perf_counter() - start, compile_seconds)

    def train_curve(self, key):
        """Pure: a whole training run from `key`; returns the eval curve
        (`iterations // eval_interval + 1` points). `vmap` it over keys."""
        config = self.config
        init_key, eval_key = jax.random.split(key)
        chunks = config.iterations // config.eval_interval

        def chunk(state, i):
            state, _ = jax.lax.scan(lambda s, _: self._iteration(s), state, None, length=config.eval_interval)
            return state, self._evaluate(state.train_state.actor_params, jax.random.fold_in(eval_key, i + 1))

        state = self.init(init_key)
        first = self._evaluate(state.train_state.actor_params, jax.random.fold_in(eval_key, 0))
        _, curve = jax.lax.scan(chunk, state, jnp.arange(chunks))
        return jnp.concatenate([first[None], curve])


def train_many_seeds(config: ReinforceConfig, seeds) -> np.ndarray:
    """Train one agent per seed at once (`vmap`); returns eval curves `[len(seeds), points]`."""
    trainer = CompiledTrainer(config)
    keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])
    return np.asarray(jax.jit(jax.vmap(trainer.train_curve))(keys))
