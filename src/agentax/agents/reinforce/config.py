"""REINFORCE's training config and presets (every field is a CLI flag of `agentax train reinforce`)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from agentax.train.config import Collection, TrainConfig, alias, check_finite, check_layers, check_positive_int


@dataclasses.dataclass
class ReinforceConfig(TrainConfig):
    """REINFORCE (policy gradient with returns-to-go) with an optional value baseline."""

    collect_episodes_per_iteration: Annotated[int, alias("--collect-episodes")] = 64
    """episodes collected per iteration (batched envs on the compiled path)"""
    sample_batch_size: int = 0
    """python trainer: episodes sampled per update (0 = all collected)"""
    fc_layer_params: Annotated[tuple[int, ...], alias("--fc-layers")] = (100,)
    """actor hidden layer sizes"""
    learning_rate: float = 5e-3
    """Adam learning rate"""
    gamma: float = 1.0
    """discount of the returns"""
    normalize_returns: bool = True
    """standardize advantages in each batch"""
    value_baseline: bool = True
    """learn a value network and use returns - value as the advantage"""
    value_fc_layer_params: Annotated[tuple[int, ...], alias("--value-fc-layers")] = (100,)
    """value network hidden layer sizes"""
    entropy_regularization: float = 0.0
    """entropy bonus coefficient (0 = off)"""
    gradient_clipping: float = 0.0
    """global-norm gradient clipping (0 = off)"""

    agent_name = "reinforce"

    def __post_init__(self):
        super().__post_init__()
        check_positive_int(self, "collect_episodes_per_iteration")
        check_finite(self, "learning_rate", strict=True)
        check_finite(self, "gamma", maximum=1.0)
        check_finite(self, "entropy_regularization")
        check_finite(self, "gradient_clipping")
        check_layers(self, "fc_layer_params")
        check_layers(self, "value_fc_layer_params")
        if not (isinstance(self.sample_batch_size, int) and self.sample_batch_size >= 0):
            raise ValueError(f"`sample_batch_size` (--sample-batch-size) must be an integer >= 0, "
                             f"got {self.sample_batch_size!r}")

    def make_agent(self, time_step_spec, action_spec):
        import optax

        from agentax.agents.reinforce.reinforce_agent import ReinforceAgent
        from agentax.networks import ActorDistributionNetwork, ValueNetwork

        actor = ActorDistributionNetwork(time_step_spec.observation, action_spec, tuple(self.fc_layer_params))
        value = (ValueNetwork(time_step_spec.observation, tuple(self.value_fc_layer_params))
                 if self.value_baseline else None)
        optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=self.learning_rate)
        return ReinforceAgent(time_step_spec, action_spec, actor, optimizer, gamma=self.gamma,
                              normalize_returns=self.normalize_returns,
                              entropy_regularization=self.entropy_regularization or None, value_network=value,
                              gradient_clipping=self.gradient_clipping or None, seed=self.seed)

    def collection(self) -> Collection:
        episodes = self.collect_episodes_per_iteration
        return Collection(num_envs=episodes if self.trainer == "compiled" else 1, episodes=episodes,
                          on_policy=True, sample_batch_size=self.sample_batch_size)


PRESETS = {
    "default": ReinforceConfig(),
    "tutorial": ReinforceConfig(trainer="python", iterations=250, collect_episodes_per_iteration=2,
                                sample_batch_size=1, learning_rate=1e-3, value_baseline=False,
                                log_interval=25, eval_interval=50, num_eval_episodes=10),
}
"""'default' solves CartPole-v0 in seconds (batched episodes, value baseline, compiled);
'tutorial' is the reference tutorial's exact settings on the Python path."""
CONFIG = ReinforceConfig
