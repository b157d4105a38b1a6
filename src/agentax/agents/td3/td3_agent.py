"""`Td3Agent`: twin delayed deep deterministic policy gradient (Fujimoto et al., 2018),
TF-Agents' losses: DDPG with two critics (targets from their minimum), target policy
smoothing (clipped Gaussian noise on the target actor's actions) and an actor updated every
`actor_update_period` train steps. The pure core and state are `DdpgAgent`'s (`Td3State` is
`DdpgState` with two critics); `target_policy_noise` and `target_policy_noise_clip` join the
sweepable `hparams`."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from agentax.agents.ddpg.ddpg_agent import DdpgAgent, DdpgState
from agentax.agents.jax_agent import JaxAgent
from agentax.policies.gaussian_policy import GaussianPolicy, check_number
from agentax.policies.jax_policy import JaxPolicy
from agentax.trajectories import time_step as ts

Td3State = DdpgState


class Td3Info(NamedTuple):
    """`LossInfo.extra` of TD3."""

    actor_loss: Any
    critic_loss: Any


def smoothed_target_actions(target_actions, key, target_policy_noise, target_policy_noise_clip):
    """TD3's target policy smoothing, as TF-Agents: `a' + clip(N(0, target_policy_noise^2),
    -target_policy_noise_clip, target_policy_noise_clip)` per element; the noisy action is
    not clipped to the action bounds (TF-Agents does not; the paper's code does)."""
    leaves, treedef = jax.tree.flatten(target_actions)
    keys = jax.random.split(key, len(leaves))
    noisy = [a + jnp.clip(target_policy_noise * jax.random.normal(k, a.shape, a.dtype),
                          -target_policy_noise_clip, target_policy_noise_clip)
             for a, k in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, noisy)


class Td3Agent(DdpgAgent):
    """TD3 on `[batch, 2]` trajectories, as TF-Agents computes it.

    Constructor arguments keep TF-Agents' names and meaning. `critic_network_2` defaults to
    `critic_network`'s module with its own, independently initialized parameters (TF-Agents'
    `critic_network.copy()`); targets default to the same modules, starting as copies;
    `target_critic_network_2` is used only with `critic_network_2`, as in TF-Agents.

    One train step (TF-Agents' order): the critic loss `mean(l(y, Q1) + l(y, Q2))` with
    `y = reward_scale_factor * r + gamma * discount * min(Q1', Q2')(s', a~')`,
    `a~' = mu'(s') + clip(N(0, target_policy_noise^2), +-target_policy_noise_clip)`
    (`l = td_errors_loss_fn`, Huber by default), one critic update; the actor loss through
    `Q1` with the updated critics (`dqda_actor_loss`), applied only when the train step
    (counted before this one) is a multiple of `actor_update_period`; then every
    `target_update_period` train steps (the `period`-th call first, as TF-Agents' `Periodically`)
    the target actor and critics move
    `target_update_tau` of the way. The reported actor loss is computed at every step.

    `policy` is the actor, clipped to the action bounds; `collect_policy` adds Gaussian noise
    of standard deviation `exploration_noise_std` (in action units) and clips
    (`GaussianPolicy`). Differences from TF-Agents: boundary transitions are masked out of the
    losses (as `DdpgAgent`); `ou_stddev`/`ou_damping` (accepted and unused by TF-Agents'
    TD3 example) are not arguments.
    """

    _INFO = Td3Info

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, actor_network: nn.Module,
                 critic_network: nn.Module, actor_optimizer: optax.GradientTransformation | None = None,
                 critic_optimizer: optax.GradientTransformation | None = None, exploration_noise_std: float = 0.1,
                 critic_network_2: nn.Module | None = None, target_actor_network: nn.Module | None = None,
                 target_critic_network: nn.Module | None = None, target_critic_network_2: nn.Module | None = None,
                 target_update_tau: float = 1.0, target_update_period: int = 1, actor_update_period: int = 1,
                 dqda_clipping: float | None = None, td_errors_loss_fn: Callable | None = None, gamma: float = 1.0,
                 reward_scale_factor: float = 1.0, target_policy_noise: float = 0.2,
                 target_policy_noise_clip: float = 0.5, gradient_clipping: float | None = None,
                 train_step_counter=None, seed: int = 0):
        name = type(self).__name__
        self.exploration_noise_std = check_number(name, "exploration_noise_std", exploration_noise_std, 0.0)
        check_number(name, "target_policy_noise", target_policy_noise, 0.0)
        check_number(name, "target_policy_noise_clip", target_policy_noise_clip, 0.0)
        if critic_network_2 is None:
            critic_network_2, target_critic_network_2 = critic_network, None
        self._setup(time_step_spec, action_spec, actor_network, (critic_network, critic_network_2), actor_optimizer,
                    critic_optimizer, target_actor_network, (target_critic_network, target_critic_network_2),
                    target_update_tau, target_update_period, actor_update_period, dqda_clipping, td_errors_loss_fn,
                    gamma, reward_scale_factor, gradient_clipping,
                    {"target_policy_noise": float(target_policy_noise),
                     "target_policy_noise_clip": float(target_policy_noise_clip)})
        JaxAgent.__init__(self, time_step_spec, action_spec, self._make_policy(True), self._make_collect_policy(),
                          train_sequence_length=2, train_step_counter=train_step_counter, seed=seed)

    def _make_collect_policy(self) -> JaxPolicy:
        return GaussianPolicy(self._make_policy(False), scale=self.exploration_noise_std, clip=True)

    def target_actions(self, target_actor_params, hparams, next_observation, key):
        actions = self.target_actor_network.apply(target_actor_params, next_observation)
        return smoothed_target_actions(actions, key, hparams["target_policy_noise"],
                                       hparams["target_policy_noise_clip"])
