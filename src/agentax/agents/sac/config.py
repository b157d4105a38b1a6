"""SAC's training config and presets (every field is a CLI flag of `agentax train sac`)."""

from __future__ import annotations

import dataclasses
import math

from agentax.agents.actor_critic_config import ActorCriticConfig
from agentax.train.config import check, check_finite


@dataclasses.dataclass
class SacConfig(ActorCriticConfig):
    """SAC: twin critics, a tanh-squashed Gaussian actor and a learned temperature, from a replay."""

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
    alpha_learning_rate: float = 1e-3
    """Adam learning rate of log(alpha), the temperature"""
    initial_log_alpha: float = 0.0
    """log of the temperature at the start (0: alpha = 1)"""
    target_entropy: float | None = None
    """entropy the temperature steers the policy to (None: -dim(A)/2, TF-Agents' default; the paper: -dim(A))"""
    use_log_alpha_in_alpha_loss: bool = True
    """alpha loss on log(alpha) (True, TF-Agents' default) or on alpha"""

    agent_name = "sac"

    def __post_init__(self):
        super().__post_init__()
        check_finite(self, "alpha_learning_rate", strict=True)
        check_finite(self, "initial_log_alpha", minimum=float("-inf"))
        check(self.target_entropy is None or (isinstance(self.target_entropy, (int, float))
                                              and math.isfinite(self.target_entropy)),
              "target_entropy", "a finite number or None", self.target_entropy)
        check(isinstance(self.use_log_alpha_in_alpha_loss, bool), "use_log_alpha_in_alpha_loss", "a bool",
              self.use_log_alpha_in_alpha_loss)

    def make_actor_network(self, time_step_spec, action_spec):
        from agentax.networks.actor_distribution_network import ActorDistributionNetwork
        from agentax.networks.tanh_normal_projection_network import TanhNormalProjectionNetwork
        return ActorDistributionNetwork(time_step_spec.observation, action_spec,
                                        fc_layer_params=tuple(self.actor_fc_layer_params),
                                        continuous_projection_net=TanhNormalProjectionNetwork)

    def make_agent(self, time_step_spec, action_spec):
        from agentax.agents.sac.sac_agent import SacAgent
        return SacAgent(time_step_spec, action_spec,
                        critic_network=self.make_critic_network(time_step_spec, action_spec),
                        actor_network=self.make_actor_network(time_step_spec, action_spec),
                        actor_optimizer=self.make_optimizer(self.actor_learning_rate),
                        critic_optimizer=self.make_optimizer(self.critic_learning_rate),
                        alpha_optimizer=self.make_optimizer(self.alpha_learning_rate),
                        target_update_tau=self.target_update_tau, target_update_period=self.target_update_period,
                        td_errors_loss_fn=self.td_errors_loss_fn(), gamma=self.gamma,
                        reward_scale_factor=self.reward_scale_factor, initial_log_alpha=self.initial_log_alpha,
                        use_log_alpha_in_alpha_loss=self.use_log_alpha_in_alpha_loss,
                        target_entropy=self.target_entropy, gradient_clipping=self.gradient_clipping or None,
                        seed=self.seed)


PRESETS = {
    "default": SacConfig(),
    "zoo": SacConfig(trainer="python", num_envs=1, iterations=19_900, collect_steps_per_iteration=1,
                     train_steps_per_iteration=1, initial_collect_steps=100, target_entropy=-1.0,
                     eval_interval=1000, log_interval=1000),
    "tf-agents": SacConfig(env="HalfCheetah-v5", trainer="python", num_envs=1, iterations=3_000_000,
                           collect_steps_per_iteration=1, train_steps_per_iteration=1, initial_collect_steps=10_000,
                           replay_capacity=1_000_000, sample_batch_size=256, actor_learning_rate=3e-4,
                           critic_learning_rate=3e-4, alpha_learning_rate=3e-4, reward_scale_factor=0.1,
                           eval_interval=10_000, log_interval=1000, num_eval_episodes=30),
}
"""'default': Pendulum-v1 on the compiled trainer, 8 environments, 20k environment steps
(1000 random, then 2375 iterations of 8 steps and 8 gradient steps: one gradient step per
environment step), Adam 1e-3 for all three, batch 256, tau 0.005, (256, 256) networks;
'zoo': rl-baselines3-zoo's SAC Pendulum-v1 (learning rate 1e-3, SB3's defaults: 100 random
steps, batch 256, tau 0.005, gamma 0.99, target entropy -dim(A) = -1, 20k steps) on the Python
trainer; 'tf-agents': TF-Agents' SAC MuJoCo example (`examples/sac/haarnoja18/sac_train_eval.py`:
HalfCheetah, 10k random steps, Adam 3e-4, batch 256, reward scale 0.1, 1M replay, 3M iterations of one
step and one gradient step, 30 evaluation episodes every 10k) on the Python trainer. Differences
from that example: the critic keeps `CriticNetwork`'s initializers (the example's Keras critic
uses Glorot-uniform), and HalfCheetah is v5 (Gymnasium's current; the example names v2)."""
CONFIG = SacConfig
