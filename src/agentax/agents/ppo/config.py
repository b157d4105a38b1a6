"""PPO's training config and presets (every field is a CLI flag of `agentax train ppo`)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from agentax.train.config import (Collection, TrainConfig, alias, check, check_finite, check_layers,
                                  check_positive_int)


@dataclasses.dataclass
class PPOConfig(TrainConfig):
    """PPO: `PPOClipAgent` (clipped objective) or, with --kl-penalty, `PPOAgent` (adaptive KL penalty)."""

    env: str = "CartPole-v1"
    """environment id (Gymnasium; a JAX environment of the same id for the compiled trainer)"""
    num_envs: int = 8
    """environments stepped side by side (batched JAX envs compiled; a BatchedPyEnvironment on the Python path)"""
    collect_steps_per_env: Annotated[int, alias("--num-steps")] = 128
    """steps each environment takes per iteration (the rollout length T)"""
    num_epochs: int = 4
    """passes over each iteration's data"""
    num_minibatches: int = 4
    """shuffled minibatches per epoch (num_envs * collect_steps_per_env must split evenly)"""
    learning_rate: float = 2.5e-3
    """Adam learning rate"""
    learning_rate_decay: float = 0.0
    """the learning rate falls linearly to this fraction of itself by the last iteration (1 = constant)"""
    adam_epsilon: float = 1e-5
    """Adam's epsilon"""
    kl_penalty: bool = False
    """PPOAgent with the adaptive KL penalty (and KL cutoff) instead of PPOClipAgent"""
    importance_ratio_clipping: float = 0.2
    """epsilon of the clipped objective (0 = no clipping, TF-Agents' meaning)"""
    lambda_value: float = 0.95
    """GAE / TD(lambda) lambda"""
    discount_factor: Annotated[float, alias("--gamma")] = 0.99
    """discount of future rewards"""
    entropy_regularization: float = 0.01
    """entropy bonus coefficient"""
    value_pred_loss_coef: float = 0.25
    """value loss coefficient (0.25 with value clipping = PureJaxRL's 0.5 * 0.5)"""
    value_clipping: float = 0.2
    """clip value predictions to +-this around the collected ones (0 = off)"""
    gradient_clipping: float = 0.5
    """global-norm gradient clipping (0 = off)"""
    use_gae: bool = True
    """generalized advantage estimation (else returns - values)"""
    use_td_lambda_return: bool = True
    """train the value on GAE advantages + values (needs use_gae)"""
    normalize_rewards: bool = False
    """scale rewards by their running std (TF-Agents' default: on)"""
    reward_norm_clipping: float = 10.0
    """clip normalized rewards to +-this"""
    normalize_observations: bool = False
    """normalize observations by their running mean/std (TF-Agents' default: on)"""
    initial_adaptive_kl_beta: float = 1.0
    """--kl-penalty: initial KL coefficient"""
    adaptive_kl_target: float = 0.01
    """--kl-penalty: target KL per update"""
    adaptive_kl_tolerance: float = 0.3
    """--kl-penalty: the coefficient changes when the KL leaves target * (1 +- tolerance)"""
    kl_cutoff_factor: float = 2.0
    """--kl-penalty: KL above factor * target is penalized quadratically"""
    kl_cutoff_coef: float = 1000.0
    """--kl-penalty: coefficient of that quadratic penalty (0 = off)"""
    fc_layer_params: Annotated[tuple[int, ...], alias("--fc-layers")] = (64, 64)
    """actor hidden layer sizes"""
    value_fc_layer_params: Annotated[tuple[int, ...], alias("--value-fc-layers")] = (64, 64)
    """value network hidden layer sizes"""
    activation: Literal["tanh", "relu"] = "tanh"
    """hidden activation of both networks"""
    orthogonal_init: bool = True
    """orthogonal initialization (sqrt 2 hidden, 0.01 policy head, 1 value head), as PureJaxRL/CleanRL"""
    state_dependent_std: bool = False
    """continuous actions: the std is a function of the observation (else a learned vector)"""
    init_std: float = 1.0
    """continuous actions: initial standard deviation"""
    log_interval: int = 50
    """iterations between loss rows in metrics.jsonl"""
    eval_interval: int = 50
    """iterations between evaluations"""

    agent_name = "ppo"

    def __post_init__(self):
        super().__post_init__()
        check_positive_int(self, "num_envs", "collect_steps_per_env", "num_epochs", "num_minibatches")
        for name in ("learning_rate", "adam_epsilon", "init_std"):
            check_finite(self, name, strict=True)
        for name in ("importance_ratio_clipping", "entropy_regularization", "value_pred_loss_coef",
                     "value_clipping", "gradient_clipping", "reward_norm_clipping", "initial_adaptive_kl_beta",
                     "adaptive_kl_target", "kl_cutoff_factor", "kl_cutoff_coef"):
            check_finite(self, name)
        for name in ("learning_rate_decay", "lambda_value", "discount_factor", "adaptive_kl_tolerance"):
            check_finite(self, name, maximum=1.0)
        check_layers(self, "fc_layer_params")
        check_layers(self, "value_fc_layer_params")
        check(self.activation in ("tanh", "relu"), "activation", "'tanh' or 'relu'", self.activation)
        steps = self.num_envs * self.collect_steps_per_env
        check(steps % self.num_minibatches == 0, "num_minibatches",
              f"a divisor of num_envs * collect_steps_per_env = {steps}", self.num_minibatches)

    def make_agent(self, time_step_spec, action_spec):
        import math

        import flax.linen as nn
        import optax

        from agentax.agents.ppo.ppo_agent import PPOAgent
        from agentax.agents.ppo.ppo_clip_agent import PPOClipAgent
        from agentax.networks import ActorDistributionNetwork, ValueNetwork
        from agentax.networks.normal_projection_network import NormalProjectionNetwork

        activation = nn.tanh if self.activation == "tanh" else nn.relu
        hidden = nn.initializers.orthogonal(math.sqrt(2.0)) if self.orthogonal_init else None
        std_bias = math.log(math.expm1(max(self.init_std - 1e-3, 1e-6)))  # softplus(bias) + 1e-3 = init_std

        def projection(spec):
            return NormalProjectionNetwork(spec, state_dependent_std=self.state_dependent_std,
                                           init_means_output_factor=0.01 if self.orthogonal_init else 0.1,
                                           std_bias_initializer_value=std_bias)

        actor = ActorDistributionNetwork(time_step_spec.observation, action_spec, tuple(self.fc_layer_params),
                                         activation_fn=activation, kernel_initializer=hidden,
                                         continuous_projection_net=projection)
        value = ValueNetwork(time_step_spec.observation, tuple(self.value_fc_layer_params), activation_fn=activation,
                             kernel_initializer=hidden,
                             output_kernel_initializer=nn.initializers.orthogonal(1.0) if self.orthogonal_init
                             else None)
        optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=self.learning_rate, eps=self.adam_epsilon)
        if self.learning_rate_decay != 1.0:  # a factor after Adam: `learning_rate` stays sweepable
            total = self.iterations * self.num_epochs * self.num_minibatches
            optimizer = optax.chain(optimizer, optax.scale_by_schedule(
                optax.linear_schedule(1.0, self.learning_rate_decay, total)))
        common = dict(optimizer=optimizer, actor_net=actor, value_net=value,
                      importance_ratio_clipping=self.importance_ratio_clipping, lambda_value=self.lambda_value,
                      discount_factor=self.discount_factor, entropy_regularization=self.entropy_regularization,
                      value_pred_loss_coef=self.value_pred_loss_coef, num_epochs=self.num_epochs,
                      num_minibatches=self.num_minibatches, use_gae=self.use_gae,
                      use_td_lambda_return=self.use_td_lambda_return, normalize_rewards=self.normalize_rewards,
                      reward_norm_clipping=self.reward_norm_clipping,
                      normalize_observations=self.normalize_observations,
                      gradient_clipping=self.gradient_clipping or None, value_clipping=self.value_clipping or None,
                      seed=self.seed)
        if self.kl_penalty:
            return PPOAgent(time_step_spec, action_spec, initial_adaptive_kl_beta=self.initial_adaptive_kl_beta,
                            adaptive_kl_target=self.adaptive_kl_target,
                            adaptive_kl_tolerance=self.adaptive_kl_tolerance, kl_cutoff_factor=self.kl_cutoff_factor,
                            kl_cutoff_coef=self.kl_cutoff_coef, **common)
        return PPOClipAgent(time_step_spec, action_spec, **common)

    def collection(self) -> Collection:
        # On-policy steps: the compiled trainer records exactly collect_steps_per_env steps of each env
        # and appends the next time step to bootstrap from; the Python trainer collects the same
        # [num_envs, T + 1] rows through a FIFO Reverb table emptied every iteration.
        return Collection(num_envs=self.num_envs, steps=self.num_envs * self.collect_steps_per_env, on_policy=True)


PRESETS = {
    "default": PPOConfig(iterations=100),
    "purejaxrl": PPOConfig(num_envs=4, collect_steps_per_env=128, num_epochs=4, num_minibatches=4,
                           learning_rate=2.5e-4, learning_rate_decay=0.0, iterations=976, log_interval=100,
                           eval_interval=122),
    "tf-agents": PPOConfig(env="HalfCheetah-v5", trainer="python", num_envs=1, collect_steps_per_env=2048,
                           num_epochs=10, num_minibatches=32, learning_rate=3e-4, learning_rate_decay=0.0,
                           adam_epsilon=1e-5, importance_ratio_clipping=0.2, lambda_value=0.95,
                           discount_factor=0.99, entropy_regularization=0.0, value_pred_loss_coef=0.5,
                           value_clipping=0.0, gradient_clipping=0.5, use_gae=True, use_td_lambda_return=True,
                           normalize_rewards=True, normalize_observations=True, fc_layer_params=(64, 64),
                           value_fc_layer_params=(64, 64), activation="tanh", orthogonal_init=True,
                           iterations=1600, log_interval=10, eval_interval=50),
    "pendulum": PPOConfig(env="Pendulum-v1", num_envs=16, collect_steps_per_env=256, num_epochs=10,
                          num_minibatches=8, learning_rate=1e-3, learning_rate_decay=0.0, discount_factor=0.95,
                          lambda_value=0.95, entropy_regularization=0.0, value_pred_loss_coef=0.5,
                          value_clipping=0.0, normalize_observations=True, normalize_rewards=True,
                          iterations=250, log_interval=25, eval_interval=25, init_std=1.0),
}
"""'default' solves CartPole-v1 fast on the compiled trainer; 'purejaxrl' is PureJaxRL's CartPole-v1
PPO (4 envs x 128 steps, 4 epochs of 4 minibatches, Adam 2.5e-4 annealed to 0, clip 0.2, GAE 0.95,
gamma 0.99, entropy 0.01, value clipping, grad norm 0.5, 64x64 tanh networks, 500k steps); 'tf-agents'
is TF-Agents' PPO example (`examples/ppo/schulman17`: HalfCheetah, one env x 2048 steps, 10 epochs
of minibatches of 64, Adam 3e-4 annealed to 0 with epsilon 1e-5, clip 0.2, GAE 0.95 and TD(lambda)
returns, gradient norm 0.5, normalized rewards and observations, 64x64 tanh, 1600 iterations) on
the Python trainer (pass --env for another environment); 'pendulum' is continuous control on Pendulum-v1 (compiled, through gymnax)."""
CONFIG = PPOConfig
