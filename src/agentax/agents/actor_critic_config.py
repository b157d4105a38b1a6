"""`ActorCriticConfig`: the training fields SAC, TD3 and DDPG share (off-policy, continuous
actions, an actor and a `CriticNetwork`); each agent's config subclasses it
(`agents/sac/config.py`, `agents/td3/config.py`, `agents/ddpg/config.py`) and adds its
own fields, `agent_name`, `make_agent` and `PRESETS`.

Replay ratio: each iteration collects `collect_steps_per_iteration` environment steps
(summed over `num_envs` environments on the compiled trainer) and runs
`train_steps_per_iteration` gradient steps, so `train_steps / collect_steps` gradient
steps per environment step; the zoo's and TF-Agents' settings are 1.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from agentax.train.config import (Collection, TrainConfig, alias, check, check_finite, check_layers,
                                  check_positive_int)


@dataclasses.dataclass
class ActorCriticConfig(TrainConfig):
    """Off-policy actor-critic for continuous actions (fields shared by SAC, TD3 and DDPG)."""

    env: str = "Pendulum-v1"
    """environment id (Gymnasium; a JAX environment of the same id for the compiled trainer)"""
    iterations: int = 2500
    """training iterations (each: collect, then train)"""
    eval_interval: int = 250
    """iterations between evaluations"""
    log_interval: int = 250
    """iterations between loss rows in metrics.jsonl"""
    num_envs: int = 8
    """compiled trainer: environments stepped side by side (the Python trainer steps one)"""
    collect_steps_per_iteration: Annotated[int, alias("--collect-steps")] = 8
    """environment steps collected per iteration (summed over the environments)"""
    train_steps_per_iteration: Annotated[int, alias("--train-steps")] = 8
    """gradient steps per iteration, each on `sample_batch_size` sampled transitions"""
    initial_collect_steps: int = 1000
    """uniformly random steps put into the replay before the first iteration"""
    replay_capacity: int = 1_000_000
    """steps the replay holds (oldest dropped first)"""
    sample_batch_size: Annotated[int, alias("--batch-size")] = 256
    """transitions per gradient step"""
    actor_fc_layer_params: Annotated[tuple[int, ...], alias("--actor-layers")] = (256, 256)
    """actor hidden layer sizes"""
    critic_observation_fc_layer_params: tuple[int, ...] = ()
    """critic: hidden layers on the observation alone, before joining the action"""
    critic_action_fc_layer_params: tuple[int, ...] = ()
    """critic: hidden layers on the action alone, before joining the observation"""
    critic_joint_fc_layer_params: Annotated[tuple[int, ...], alias("--critic-layers")] = (256, 256)
    """critic: hidden layers on [observation features, action features]"""
    actor_learning_rate: float = 3e-4
    """Adam learning rate of the actor"""
    critic_learning_rate: float = 3e-4
    """Adam learning rate of the critic(s)"""
    target_update_tau: float = 0.005
    """fraction of the way target networks move to the online ones at each update (1 = copy)"""
    target_update_period: int = 1
    """train steps between target network updates"""
    gamma: float = 0.99
    """discount of future rewards"""
    reward_scale_factor: float = 1.0
    """rewards are multiplied by this"""
    td_errors_loss: Literal["squared", "huber"] = "squared"
    """element-wise critic loss"""
    gradient_clipping: float = 0.0
    """clip each gradient array to this norm (0 = off)"""

    agent_name = "actor_critic"

    def __post_init__(self):
        super().__post_init__()
        check_positive_int(self, "num_envs", "collect_steps_per_iteration", "train_steps_per_iteration",
                           "replay_capacity", "sample_batch_size", "target_update_period")
        check(isinstance(self.initial_collect_steps, int) and self.initial_collect_steps >= 0,
              "initial_collect_steps", "an integer >= 0", self.initial_collect_steps)
        for name in ("actor_learning_rate", "critic_learning_rate"):
            check_finite(self, name, strict=True)
        check_finite(self, "target_update_tau", strict=True, maximum=1.0)
        check_finite(self, "gamma", maximum=1.0)
        check_finite(self, "reward_scale_factor", minimum=float("-inf"))
        check_finite(self, "gradient_clipping")
        check_layers(self, "actor_fc_layer_params")
        for name in ("critic_observation_fc_layer_params", "critic_action_fc_layer_params",
                     "critic_joint_fc_layer_params"):
            check_layers(self, name)
        check(self.td_errors_loss in ("huber", "squared"), "td_errors_loss", "'huber' or 'squared'",
              self.td_errors_loss)
        if self.trainer == "compiled":
            check(self.collect_steps_per_iteration % self.num_envs == 0, "collect_steps_per_iteration",
                  f"a multiple of num_envs={self.num_envs} on the compiled trainer", self.collect_steps_per_iteration)

    # ---- shared pieces for subclasses' `make_agent`
    @property
    def replay_ratio(self) -> float:
        """Gradient steps per environment step."""
        return self.train_steps_per_iteration / self.collect_steps_per_iteration

    @property
    def total_env_steps(self) -> int:
        """Environment steps of the whole run (initial random collection included)."""
        return self.initial_collect_steps + self.iterations * self.collect_steps_per_iteration

    def td_errors_loss_fn(self):
        from agentax.utils import common
        return {"huber": common.element_wise_huber_loss, "squared": common.element_wise_squared_loss}[
            self.td_errors_loss]

    def make_optimizer(self, learning_rate: float):
        """Adam with an injected (sweepable) learning rate."""
        import optax
        return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)

    def make_critic_network(self, time_step_spec, action_spec, **kwargs):
        """A `CriticNetwork` with this config's layer sizes (`kwargs` go to the network)."""
        from agentax.agents.ddpg.critic_network import CriticNetwork
        return CriticNetwork((time_step_spec.observation, action_spec),
                             observation_fc_layer_params=tuple(self.critic_observation_fc_layer_params) or None,
                             action_fc_layer_params=tuple(self.critic_action_fc_layer_params) or None,
                             joint_fc_layer_params=tuple(self.critic_joint_fc_layer_params) or None, **kwargs)

    def collection(self) -> Collection:
        return Collection(num_envs=self.num_envs if self.trainer == "compiled" else 1,
                          steps=self.collect_steps_per_iteration, on_policy=False,
                          sample_batch_size=self.sample_batch_size, replay_capacity=self.replay_capacity,
                          initial_collect_steps=self.initial_collect_steps,
                          train_steps_per_iteration=self.train_steps_per_iteration)
