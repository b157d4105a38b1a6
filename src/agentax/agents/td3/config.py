"""TD3's training config and presets (every field is a CLI flag of `agentax train td3`)."""

from __future__ import annotations

import dataclasses

from agentax.agents.actor_critic_config import ActorCriticConfig
from agentax.train.config import check_finite, check_positive_int


@dataclasses.dataclass
class Td3Config(ActorCriticConfig):
    """TD3: a deterministic actor, twin critics, target policy smoothing and a delayed actor, from a replay."""

    iterations: int = 2375
    """training iterations (each: collect, then train)"""
    eval_interval: int = 125
    """iterations between evaluations"""
    log_interval: int = 125
    """iterations between loss rows in metrics.jsonl"""
    actor_learning_rate: float = 1e-3
    """Adam learning rate of the actor"""
    critic_learning_rate: float = 1e-3
    """Adam learning rate of the critics"""
    target_update_period: int = 2
    """train steps between target network updates"""
    gamma: float = 0.98
    """discount of future rewards"""
    exploration_noise_std: float = 0.2
    """standard deviation of the Gaussian noise added to collected actions (in action units)"""
    actor_update_period: int = 2
    """train steps between actor updates (the critics update at every step)"""
    target_policy_noise: float = 0.4
    """standard deviation of the noise on the target actor's actions (in action units)"""
    target_policy_noise_clip: float = 1.0
    """that noise is clipped to +-this (in action units)"""
    dqda_clipping: float = 0.0
    """clip dQ/da element-wise to +-this in the actor loss (0 = off)"""

    agent_name = "td3"

    def __post_init__(self):
        super().__post_init__()
        check_positive_int(self, "actor_update_period")
        for name in ("exploration_noise_std", "target_policy_noise", "target_policy_noise_clip", "dqda_clipping"):
            check_finite(self, name)

    def make_actor_network(self, time_step_spec, action_spec):
        from agentax.agents.ddpg.actor_network import ActorNetwork
        return ActorNetwork(time_step_spec.observation, action_spec, fc_layer_params=tuple(self.actor_fc_layer_params))

    def make_agent(self, time_step_spec, action_spec):
        from agentax.agents.td3.td3_agent import Td3Agent
        return Td3Agent(time_step_spec, action_spec,
                        actor_network=self.make_actor_network(time_step_spec, action_spec),
                        critic_network=self.make_critic_network(time_step_spec, action_spec),
                        actor_optimizer=self.make_optimizer(self.actor_learning_rate),
                        critic_optimizer=self.make_optimizer(self.critic_learning_rate),
                        exploration_noise_std=self.exploration_noise_std,
                        target_update_tau=self.target_update_tau, target_update_period=self.target_update_period,
                        actor_update_period=self.actor_update_period, dqda_clipping=self.dqda_clipping or None,
                        td_errors_loss_fn=self.td_errors_loss_fn(), gamma=self.gamma,
                        reward_scale_factor=self.reward_scale_factor, target_policy_noise=self.target_policy_noise,
                        target_policy_noise_clip=self.target_policy_noise_clip,
                        gradient_clipping=self.gradient_clipping or None, seed=self.seed)


ZOO = dict(trainer="python", num_envs=1, iterations=50, collect_steps_per_iteration=200,
           train_steps_per_iteration=200, initial_collect_steps=10_000, replay_capacity=200_000,
           sample_batch_size=256, actor_fc_layer_params=(400, 300), critic_joint_fc_layer_params=(400, 300),
           actor_learning_rate=1e-3, critic_learning_rate=1e-3, gamma=0.98, target_update_tau=0.005,
           td_errors_loss="squared", eval_interval=5, log_interval=5)
"""rl-baselines3-zoo's Pendulum-v1 settings shared by its TD3 and DDPG (SB3's defaults filled in);
noise is given in action units (the zoo's 0.1 of [-1, 1]-normalized actions is 0.2 on Pendulum's [-2, 2])."""

PRESETS = {
    "default": Td3Config(),
    "zoo": Td3Config(**ZOO, exploration_noise_std=0.2, target_update_period=2, actor_update_period=2,
                     target_policy_noise=0.4, target_policy_noise_clip=1.0),
}
"""'default': Pendulum-v1 on the compiled trainer, 8 environments, 20k environment steps (1000
random, then 2375 iterations of 8 steps and 8 gradient steps), Adam 1e-3, batch 256, tau 0.005,
gamma 0.98, (256, 256) networks, actor and targets every 2nd step, noise 0.2 (collect) and 0.4
clipped at 1.0 (target smoothing) on Pendulum's [-2, 2] actions; 'zoo': rl-baselines3-zoo's TD3
Pendulum-v1 on the Python trainer (10k random steps, then one 200-step episode and 200 gradient
steps per iteration, 20k steps in all, (400, 300) networks, gamma 0.98, buffer 200k, SB3's TD3
defaults: batch 256, tau 0.005, policy delay 2, target noise 0.2 clipped at 0.5, all of [-1, 1]
normalized actions, here in Pendulum's units)."""
CONFIG = Td3Config
