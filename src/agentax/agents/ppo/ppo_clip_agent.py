"""`PPOClipAgent`: PPO with the clipped surrogate objective and no KL penalty (TF-Agents' `PPOClipAgent`)."""

from __future__ import annotations

import flax.linen as nn
import optax

from agentax.agents.ppo.ppo_agent import PPOAgent
from agentax.trajectories import time_step as ts


class PPOClipAgent(PPOAgent):
    """`PPOAgent` with the adaptive KL penalty and the KL cutoff off.

    Differs from TF-Agents on purpose: `importance_ratio_clipping` defaults to 0.2 (the
    paper's epsilon) instead of 0.0, which in TF-Agents means *no clipping*, so its
    `PPOClipAgent()` trains an unclipped objective unless told otherwise
    (tensorflow/agents#227, #528); 0 still means no clipping. `log_prob_clipping` is honoured
    (TF-Agents' clip agent drops it).
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, optimizer: optax.GradientTransformation | None = None,
                 actor_net: nn.Module | None = None, value_net: nn.Module | None = None, greedy_eval: bool = True,
                 importance_ratio_clipping: float = 0.2, lambda_value: float = 0.95, discount_factor: float = 0.99,
                 entropy_regularization: float = 0.0, value_pred_loss_coef: float = 0.5, num_epochs: int = 25,
                 num_minibatches: int = 1, use_gae: bool = False, use_td_lambda_return: bool = False,
                 normalize_rewards: bool = True, reward_norm_clipping: float = 10.0,
                 normalize_observations: bool = True, log_prob_clipping: float = 0.0,
                 gradient_clipping: float | None = None, value_clipping: float | None = None,
                 update_normalizers_in_train: bool = True, train_step_counter=None, seed: int = 0):
        super().__init__(time_step_spec, action_spec, optimizer, actor_net, value_net, greedy_eval,
                         importance_ratio_clipping, lambda_value, discount_factor, entropy_regularization,
                         value_pred_loss_coef, num_epochs, num_minibatches, use_gae, use_td_lambda_return,
                         normalize_rewards, reward_norm_clipping, normalize_observations, log_prob_clipping,
                         kl_cutoff_factor=0.0, kl_cutoff_coef=0.0, initial_adaptive_kl_beta=0.0,
                         adaptive_kl_target=0.0, adaptive_kl_tolerance=0.0, gradient_clipping=gradient_clipping,
                         value_clipping=value_clipping, update_normalizers_in_train=update_normalizers_in_train,
                         train_step_counter=train_step_counter, seed=seed)
