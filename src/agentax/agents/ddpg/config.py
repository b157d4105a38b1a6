"""DDPG's training config and presets (every field is a CLI flag of `agentax train ddpg`)."""

from __future__ import annotations

import dataclasses

from agentax.agents.actor_critic_config import ActorCriticConfig
from agentax.train.config import check_finite


@dataclasses.dataclass
class DdpgConfig(ActorCriticConfig):
    """DDPG: a deterministic actor and one critic, with Ornstein-Uhlenbeck exploration, from a replay."""

    iterations: int = 2375
    """training iterations (each: collect, then train)"""
    eval_interval: int = 125
    """iterations between evaluations"""
    log_interval: int = 125
    """iterations between loss rows in metrics.jsonl"""
    actor_learning_rate: float = 1e-3
    """Adam learning rate of the actor"""
    critic_learning_rate: float = 1e-3
    """Adam learning rate of the critic"""
    gamma: float = 0.98
    """discount of future rewards"""
    ou_stddev: float = 0.2
    """standard deviation of the Ornstein-Uhlenbeck noise's Gaussian term (in action units)"""
    ou_damping: float = 1.0
    """damping of the Ornstein-Uhlenbeck noise (1 = uncorrelated Gaussian noise, 0 = a random walk)"""
    dqda_clipping: float = 0.0
    """clip dQ/da element-wise to +-this in the actor loss (0 = off)"""

    agent_name = "ddpg"

    def __post_init__(self):
        super().__post_init__()
        check_finite(self, "ou_stddev")
        check_finite(self, "ou_damping", maximum=1.0)
        check_finite(self, "dqda_clipping")

    def make_actor_network(self, time_step_spec, action_spec):
        from agentax.agents.ddpg.actor_network import ActorNetwork
        return ActorNetwork(time_step_spec.observation, action_spec, fc_layer_params=tuple(self.actor_fc_layer_params))

    def make_agent(self, time_step_spec, action_spec):
        from agentax.agents.ddpg.ddpg_agent import DdpgAgent
        return DdpgAgent(time_step_spec, action_spec,
                         actor_network=self.make_actor_network(time_step_spec, action_spec),
                         critic_network=self.make_critic_network(time_step_spec, action_spec),
                         actor_optimizer=self.make_optimizer(self.actor_learning_rate),
                         critic_optimizer=self.make_optimizer(self.critic_learning_rate),
                         ou_stddev=self.ou_stddev, ou_damping=self.ou_damping,
                         target_update_tau=self.target_update_tau, target_update_period=self.target_update_period,
                         dqda_clipping=self.dqda_clipping or None, td_errors_loss_fn=self.td_errors_loss_fn(),
                         gamma=self.gamma, reward_scale_factor=self.reward_scale_factor,
                         gradient_clipping=self.gradient_clipping or None, seed=self.seed)


def _zoo() -> dict:
    from agentax.agents.td3.config import ZOO
    return dict(ZOO)


PRESETS = {
    "default": DdpgConfig(),
    "zoo": DdpgConfig(**_zoo(), ou_stddev=0.2, ou_damping=1.0, target_update_period=1),
}
"""'default': Pendulum-v1 on the compiled trainer, 8 environments, 20k environment steps (1000
random, then 2375 iterations of 8 steps and 8 gradient steps), Adam 1e-3, batch 256, tau 0.005,
gamma 0.98, (256, 256) networks, Gaussian exploration 0.2 on Pendulum's [-2, 2] actions (OU noise
with damping 1); 'zoo': rl-baselines3-zoo's DDPG Pendulum-v1 on the Python trainer (10k random
steps, then one 200-step episode and 200 gradient steps per iteration, 20k steps in all, (400,
300) networks, gamma 0.98, buffer 200k, normal noise 0.1 of [-1, 1]-normalized actions = 0.2
here, SB3's DDPG defaults: batch 256, tau 0.005, targets every step)."""
CONFIG = DdpgConfig
