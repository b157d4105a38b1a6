"""`PPOAgent`: proximal policy optimization (Schulman et al., 2017), TF-Agents' `PPOAgent` on the `JaxAgent` frame.

A pure core: `init(key) -> PPOState` and `train_step(state, experience, key, weights)`. One
`train_step` is one PPO iteration's learning on experience `[batch, time + 1]`: value
predictions, returns and (GAE) advantages, then `num_epochs` epochs of `num_minibatches`
shuffled minibatch updates (`lax.scan`s, so the whole update is one compiled program), then
the adaptive KL coefficient and the normalizers. Everything that changes (parameters, optimizer
state, observation and reward normalizers, the KL coefficient) and the hyperparameters a user
sweeps live in the state.

TF-Agents' semantics kept: the last time step of each row only bootstraps (its value is the
`final_value`); discounts are zeroed where an episode ends (`next_step_type == LAST`, so
returns restart and truncation is treated as termination, as TF-Agents'
`get_episode_mask`); boundary steps (LAST -> FIRST) are masked out; advantages are
normalized over the batch (variance epsilon 1e-8); losses are means of per-step terms times
weights (`aggregate_losses`); `importance_ratio_clipping=0` means *no* clipping; the KL
coefficient grows x1.5 above `(1 + tolerance) * target` and shrinks /1.5 below
`(1 - tolerance) * target` after each train step.

Deliberate differences (each because TF-Agents' behaviour is a known trap or needs TensorFlow):
- minibatches: `num_minibatches` shuffled minibatches per epoch over all `batch * time` steps
  (TF-Agents' agent takes one full-batch step per epoch; its `PPOLearner` makes minibatches);
- old log-probabilities, old distributions and value predictions are recomputed from the state's
  parameters at the start of `train_step` (TF-Agents stores `dist_params` in the policy info).
  They are equal for on-policy data, which is all PPO trains on, and the trajectories stay small;
- GAE bootstraps from the value of the last step (TF-Agents' `compute_advantages` passes the
  value of the second-to-last step as `final_value` after stripping the last, a known slip);
- advantage normalization and the normalizer updates skip masked steps (TF-Agents includes them);
- the normalizers update after the epochs, from the steps trained on (not the bootstrap step, which
  the next iteration's first step repeats); statistics are exact running moments.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentax.agents.jax_agent import JaxAgent, LossInfo
from agentax.policies.actor_policy import ActorPolicy, GreedyPolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory
from agentax.utils import value_ops
from agentax.utils.tensor_normalizer import StreamingTensorNormalizer


class PPOLossInfo(NamedTuple):
    policy_gradient_loss: Any
    value_estimation_loss: Any
    l2_regularization_loss: Any
    entropy_regularization_loss: Any
    kl_penalty_loss: Any


class PPOState(NamedTuple):
    actor_params: Any
    value_params: Any
    opt_state: Any
    observation_normalizer: Any  # NormalizerState, or () without normalize_observations
    reward_normalizer: Any       # NormalizerState, or () without normalize_rewards
    adaptive_kl_beta: Any        # scalar float32 (0 when there is no adaptive KL penalty)
    hparams: dict
    step: Any


class NormalizedNetwork:
    """`network` applied to observations normalized by the agent's observation normalizer:
    `apply({'network': params, 'observation_normalizer': state}, observation)` (what the
    policies act with; a plain `apply(params, observation)` without a normalizer)."""

    def __init__(self, network: nn.Module, normalizer: StreamingTensorNormalizer | None, clip_value: float = 5.0):
        self.network = network
        self.normalizer = normalizer
        self.clip_value = clip_value

    def normalize(self, normalizer_state, observation):
        if self.normalizer is None:
            return observation
        return self.normalizer.normalize(normalizer_state, observation, clip_value=self.clip_value)

    def apply(self, params, observation):
        observation = self.normalize(params["observation_normalizer"], observation)
        return self.network.apply(params["network"], observation)


def _check_coefficient(owner: str, name: str, value, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value) or value < 0 or (upper is not None and value > upper):
        bound = f"in [0, {upper}]" if upper is not None else "finite and >= 0"
        raise ValueError(f"{owner}: `{name}` must be {bound}, got {value!r}")
    return float(value)


class PPOAgent(JaxAgent):
    """PPO with TF-Agents' constructor arguments and meaning (see the module docstring).

    `PPOAgent`'s defaults are TF-Agents': no ratio clipping (`importance_ratio_clipping=0`), an
    adaptive KL penalty (`initial_adaptive_kl_beta=1`, target 0.01, tolerance 0.3) with a KL
    cutoff (`kl_cutoff_factor=2`, `kl_cutoff_coef=1000`), 25 epochs, no GAE, normalized
    rewards and observations. `PPOClipAgent` is the clipped objective without the KL terms.
    Not ported: `policy_l2_reg`/`value_function_l2_reg`/`shared_vars_l2_reg` (use
    `optax.add_decayed_weights` in the optimizer; the loss reports 0), `check_numerics`,
    `compute_value_and_advantage_in_train=False`, summaries.
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec, optimizer: optax.GradientTransformation | None = None,
                 actor_net: nn.Module | None = None, value_net: nn.Module | None = None, greedy_eval: bool = True,
                 importance_ratio_clipping: float = 0.0, lambda_value: float = 0.95, discount_factor: float = 0.99,
                 entropy_regularization: float = 0.0, value_pred_loss_coef: float = 0.5, num_epochs: int = 25,
                 num_minibatches: int = 1, use_gae: bool = False, use_td_lambda_return: bool = False,
                 normalize_rewards: bool = True, reward_norm_clipping: float = 10.0,
                 normalize_observations: bool = True, log_prob_clipping: float = 0.0,
                 kl_cutoff_factor: float = 2.0, kl_cutoff_coef: float = 1000.0,
                 initial_adaptive_kl_beta: float = 1.0, adaptive_kl_target: float = 0.01,
                 adaptive_kl_tolerance: float = 0.3, gradient_clipping: float | None = None,
                 value_clipping: float | None = None, update_normalizers_in_train: bool = True,
                 train_step_counter=None, seed: int = 0):
        owner = type(self).__name__
        if actor_net is None or not hasattr(actor_net, "apply"):
            raise TypeError(f"{owner}: `actor_net` must be a flax Module (e.g. ActorDistributionNetwork), "
                            f"got {type(actor_net).__name__}")
        if value_net is None or not hasattr(value_net, "apply"):
            raise TypeError(f"{owner}: `value_net` must be a flax Module (e.g. ValueNetwork), "
                            f"got {type(value_net).__name__}")
        if optimizer is None:
            optimizer = optax.adam(1e-3)  # TF-Agents' default: Adam
        for name, value in (("num_epochs", num_epochs), ("num_minibatches", num_minibatches)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{owner}: `{name}` must be an integer >= 1, got {value!r}")
        check = lambda name, value, upper=None: _check_coefficient(owner, name, value, upper)  # noqa: E731
        hparams = {
            "importance_ratio_clipping": check("importance_ratio_clipping", importance_ratio_clipping),
            "lambda_value": check("lambda_value", lambda_value, 1.0),
            "discount_factor": check("discount_factor", discount_factor, 1.0),
            "entropy_regularization": check("entropy_regularization", entropy_regularization),
            "value_pred_loss_coef": check("value_pred_loss_coef", value_pred_loss_coef),
            "value_clipping": check("value_clipping", value_clipping or 0.0),
            "log_prob_clipping": check("log_prob_clipping", log_prob_clipping),
            "kl_cutoff_factor": check("kl_cutoff_factor", kl_cutoff_factor),
            "kl_cutoff_coef": check("kl_cutoff_coef", kl_cutoff_coef),
            "adaptive_kl_target": check("adaptive_kl_target", adaptive_kl_target),
            "adaptive_kl_tolerance": check("adaptive_kl_tolerance", adaptive_kl_tolerance, 1.0),
        }
        self.hparams = hparams
        self.initial_adaptive_kl_beta = check("initial_adaptive_kl_beta", initial_adaptive_kl_beta)
        self.reward_norm_clipping = check("reward_norm_clipping", reward_norm_clipping)
        self.gradient_clipping = check("gradient_clipping", gradient_clipping or 0.0)
        # Which terms exist is fixed at construction (their sizes are hyperparameters in the state).
        self.use_ratio_clipping = hparams["importance_ratio_clipping"] > 0
        self.use_value_clipping = hparams["value_clipping"] > 0
        self.use_entropy = hparams["entropy_regularization"] > 0
        self.use_log_prob_clipping = hparams["log_prob_clipping"] > 0
        self.use_adaptive_kl = self.initial_adaptive_kl_beta > 0
        self.use_kl_cutoff = self.use_adaptive_kl and hparams["kl_cutoff_factor"] > 0 and hparams["kl_cutoff_coef"] > 0
        self.num_epochs, self.num_minibatches = int(num_epochs), int(num_minibatches)
        self.use_gae, self.use_td_lambda_return = bool(use_gae), bool(use_td_lambda_return)
        self.update_normalizers_in_train = bool(update_normalizers_in_train)
        self.greedy_eval = bool(greedy_eval)

        self.actor_net, self.value_net = actor_net, value_net
        self.observation_normalizer = (StreamingTensorNormalizer(time_step_spec.observation)
                                       if normalize_observations else None)
        self.reward_normalizer = (StreamingTensorNormalizer(array_spec.ArraySpec((), np.float32, "reward"))
                                  if normalize_rewards else None)
        self.policy_network = NormalizedNetwork(actor_net, self.observation_normalizer)
        self.value_network = NormalizedNetwork(value_net, self.observation_normalizer)
        if self.gradient_clipping:
            optimizer = optax.chain(optax.clip_by_global_norm(self.gradient_clipping), optimizer)
        self.optimizer = optimizer
        # Sampled continuous actions are clipped into the spec (what the environment executes and
        # what is recorded), so the log-probabilities trained on are those of executed actions.
        collect_policy = ActorPolicy(time_step_spec, action_spec, self.policy_network, clip=True)
        policy = (GreedyPolicy(collect_policy) if greedy_eval
                  else ActorPolicy(time_step_spec, action_spec, self.policy_network, clip=True))
        super().__init__(time_step_spec, action_spec, policy, collect_policy, train_sequence_length=None,
                         train_step_counter=train_step_counter, seed=seed)

    # ---- the pure core
    def init(self, key) -> PPOState:
        actor_key, value_key = jax.random.split(key)
        observation = array_spec.zeros_from_spec(self.time_step_spec.observation)
        observation = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), observation)
        actor_params = self.actor_net.init(actor_key, observation)
        value_params = self.value_net.init(value_key, observation)
        opt_state = self.optimizer.init((actor_params, value_params))
        obs_norm = self.observation_normalizer.init() if self.observation_normalizer else ()
        reward_norm = self.reward_normalizer.init() if self.reward_normalizer else ()
        hparams = {k: jnp.asarray(v, jnp.float32) for k, v in self.hparams.items()}
        return PPOState(actor_params, value_params, opt_state, obs_norm, reward_norm,
                        jnp.asarray(self.initial_adaptive_kl_beta, jnp.float32), hparams, jnp.asarray(0, jnp.int32))

    def policy_params(self, state: PPOState):
        return {"network": state.actor_params, "observation_normalizer": state.observation_normalizer}

    def _normalize_observation(self, state: PPOState, observation):
        return self.policy_network.normalize(state.observation_normalizer, observation)

    def compute_return_and_advantage(self, state: PPOState, experience: Trajectory, value_preds):
        """Pure: `(returns, advantages)` `[B, T]` of the transitions of `experience` `[B, T + 1]`
        (`value_preds` `[B, T + 1]`; the last step only bootstraps)."""
        hparams = state.hparams
        rewards = jnp.asarray(experience.reward[:, :-1], jnp.float32)
        if self.reward_normalizer is not None:
            rewards = self.reward_normalizer.normalize(state.reward_normalizer, rewards, center_mean=False,
                                                       clip_value=self.reward_norm_clipping)
        episode_mask = (experience.next_step_type[:, :-1] != ts.StepType.LAST).astype(jnp.float32)
        discounts = jnp.asarray(experience.discount[:, :-1], jnp.float32) * hparams["discount_factor"] * episode_mask
        final_value = value_preds[:, -1]
        returns = value_ops.discounted_return(rewards, discounts, final_value=final_value, time_major=False)
        if self.use_gae:
            advantages = value_ops.generalized_advantage_estimation(value_preds[:, :-1], final_value, discounts,
                                                                    rewards, hparams["lambda_value"],
                                                                    time_major=False)
            if self.use_td_lambda_return:
                returns = advantages + value_preds[:, :-1]
        else:
            advantages = returns - value_preds[:, :-1]
        return returns, advantages

    def _losses(self, params, old_params, state: PPOState, batch) -> LossInfo:
        """Pure: the PPO loss of a minibatch of flat steps (`batch` holds `[N]`-led arrays)."""
        actor_params, value_params = params
        hparams = state.hparams
        weights = batch["weights"]
        observation = batch["observation"]
        dist = self.actor_net.apply(actor_params, observation)
        policy = self.collect_policy
        log_prob = policy.log_prob(dist, batch["action"])
        if self.use_log_prob_clipping:
            log_prob = jnp.clip(log_prob, -hparams["log_prob_clipping"], hparams["log_prob_clipping"])
        ratio = jnp.exp(log_prob - batch["old_log_prob"])
        advantages = batch["advantage"]
        objective = ratio * advantages
        if self.use_ratio_clipping:
            epsilon = hparams["importance_ratio_clipping"]
            objective = jnp.minimum(objective, jnp.clip(ratio, 1.0 - epsilon, 1.0 + epsilon) * advantages)
        policy_gradient_loss = jnp.mean(-objective * weights)

        value_preds = self.value_net.apply(value_params, observation)
        error = (batch["return"] - value_preds) ** 2
        if self.use_value_clipping:
            old = batch["old_value"]
            clipped = old + jnp.clip(value_preds - old, -hparams["value_clipping"], hparams["value_clipping"])
            error = jnp.maximum(error, (batch["return"] - clipped) ** 2)
        value_estimation_loss = jnp.mean(error * weights) * hparams["value_pred_loss_coef"]

        zero = jnp.zeros((), jnp.float32)
        entropy_loss = zero
        if self.use_entropy:
            entropy_loss = jnp.mean(-policy.entropy(dist) * weights) * hparams["entropy_regularization"]
        kl_loss = zero
        if self.use_adaptive_kl:
            old_dist = self.actor_net.apply(old_params, observation)
            kl = _kl_divergence(policy, old_dist, dist) * weights
            mean_kl = jnp.mean(kl)
            kl_loss = jax.lax.stop_gradient(state.adaptive_kl_beta) * mean_kl
            if self.use_kl_cutoff:
                cutoff = hparams["kl_cutoff_factor"] * hparams["adaptive_kl_target"]
                kl_loss = kl_loss + hparams["kl_cutoff_coef"] * jnp.maximum(mean_kl - cutoff, 0.0) ** 2
        total = policy_gradient_loss + value_estimation_loss + entropy_loss + kl_loss
        return LossInfo(total, PPOLossInfo(policy_gradient_loss, value_estimation_loss, zero, entropy_loss, kl_loss))

    def update_adaptive_kl_beta(self, state: PPOState, mean_kl):
        """Pure: the KL coefficient after a train step whose mean KL (old || new) was `mean_kl`."""
        hparams = state.hparams
        target, tolerance = hparams["adaptive_kl_target"], hparams["adaptive_kl_tolerance"]
        factor = jnp.where(mean_kl < target * (1.0 - tolerance), 1.0 / 1.5,
                           jnp.where(mean_kl > target * (1.0 + tolerance), 1.5, 1.0))
        return jnp.maximum(state.adaptive_kl_beta * factor, 10e-16)

    def train_step(self, state: PPOState, experience: Trajectory, key=None, weights=None):
        """Pure: a PPO iteration's learning on `experience` `[batch, time + 1]` (`weights` `[batch,
        time + 1]` masks steps, e.g. padding); returns the new state and the mean loss."""
        batch_size, length = experience.step_type.shape[:2]
        if length < 2:
            raise ValueError(f"{type(self).__name__}.train: `experience` needs at least 2 time steps (the last only "
                             f"bootstraps), got {length}")
        steps = batch_size * (length - 1)
        if steps % self.num_minibatches:
            raise ValueError(f"{type(self).__name__}.train: batch * (time - 1) = {batch_size} * {length - 1} = "
                             f"{steps} steps do not split into num_minibatches={self.num_minibatches}")
        if key is None:
            key = jax.random.PRNGKey(0)
        observation = self._normalize_observation(state, experience.observation)
        value_preds = jax.lax.stop_gradient(self.value_net.apply(state.value_params, observation))
        old_dist = self.actor_net.apply(state.actor_params, observation)
        old_log_prob = jax.lax.stop_gradient(self.collect_policy.log_prob(old_dist, experience.action))
        returns, advantages = self.compute_return_and_advantage(state, experience, value_preds)

        valid = (experience.step_type[:, :-1] != ts.StepType.LAST).astype(jnp.float32)
        if weights is not None:
            weights = jnp.asarray(weights, jnp.float32)
            valid = valid * weights[:, :-1] * weights[:, 1:]
        count = jnp.maximum(jnp.sum(valid), 1.0)
        mean = jnp.sum(advantages * valid) / count
        variance = jnp.sum((advantages - mean) ** 2 * valid) / count
        normalized_advantages = (advantages - mean) * jax.lax.rsqrt(variance + 1e-8)

        flat = lambda x: jnp.reshape(x[:, :-1], (steps,) + x.shape[2:])  # noqa: E731
        data = {"observation": jax.tree.map(flat, observation), "action": jax.tree.map(flat, experience.action),
                "old_log_prob": flat(old_log_prob), "old_value": flat(value_preds),
                "return": returns.reshape(steps), "advantage": normalized_advantages.reshape(steps),
                "weights": valid.reshape(steps)}
        old_params = state.actor_params
        minibatch = steps // self.num_minibatches

        def update(carry, batch):
            # The loss terms are summed in the carry as one vector (one small add per update), not
            # stacked per minibatch and averaged afterwards (a write per term per update, each a GPU
            # kernel), nor term by term (an add each).
            params, opt_state, total = carry
            grads, info = jax.grad(lambda p: (lambda i: (i.loss, i))(self._losses(p, old_params, state, batch)),
                                   has_aux=True)(params)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, total + jnp.stack(jax.tree.leaves(info))), None

        def epoch(carry, epoch_key):
            if self.num_minibatches > 1:
                order = jax.random.permutation(epoch_key, steps)
                shuffled = jax.tree.map(lambda x: x[order], data)
            else:
                shuffled = data
            batches = jax.tree.map(lambda x: x.reshape((self.num_minibatches, minibatch) + x.shape[1:]), shuffled)
            return jax.lax.scan(update, carry, batches)

        info_tree = jax.tree.structure(LossInfo(0.0, PPOLossInfo(*[0.0] * 5)))
        carry = ((state.actor_params, state.value_params), state.opt_state,
                 jnp.zeros((info_tree.num_leaves,), jnp.float32))
        (params, opt_state, total), _ = jax.lax.scan(epoch, carry, jax.random.split(key, self.num_epochs))
        info = jax.tree.unflatten(info_tree, list(total / (self.num_epochs * self.num_minibatches)))
        actor_params, value_params = params

        kl_beta = state.adaptive_kl_beta
        if self.use_adaptive_kl:
            new_dist = self.actor_net.apply(actor_params, observation)
            kl = _kl_divergence(self.collect_policy, old_dist, new_dist)[:, :-1]
            kl_beta = self.update_adaptive_kl_beta(state, jnp.sum(kl * valid) / count)
        obs_norm, reward_norm = state.observation_normalizer, state.reward_normalizer
        if self.update_normalizers_in_train:
            obs_weights = jnp.ones((batch_size, length - 1)) if weights is None else weights[:, :-1]
            if self.observation_normalizer is not None:
                obs_norm = self.observation_normalizer.update(
                    obs_norm, jax.tree.map(lambda x: x[:, :-1], experience.observation), obs_weights)
            if self.reward_normalizer is not None:
                reward_norm = self.reward_normalizer.update(reward_norm, experience.reward[:, :-1], valid)
        new_state = PPOState(actor_params, value_params, opt_state, obs_norm, reward_norm, kl_beta, state.hparams,
                             state.step + self.num_epochs * self.num_minibatches)
        return new_state, info

    # ---- the stateful shell
    @staticmethod
    def _pad_time(experience, weights):
        """No padding: the last time step bootstraps, so it must be a real step (PPO trains on
        fixed-length rows)."""
        return experience, weights

    def _check_experience(self, experience) -> None:
        super()._check_experience(experience)
        if np.shape(experience.step_type)[1] < 2:
            raise ValueError(f"{type(self).__name__}.train: `experience` needs at least 2 time steps (the last only "
                             f"bootstraps), got {np.shape(experience.step_type)[1]}")

    def loss(self, experience, weights=None) -> LossInfo:
        """The loss of `experience` with the current parameters, before any update (the ratio is 1)."""
        state, experience, weights = self._loss_inputs(experience, weights)
        observation = self._normalize_observation(state, experience.observation)
        value_preds = self.value_net.apply(state.value_params, observation)
        returns, advantages = self.compute_return_and_advantage(state, experience, value_preds)
        dist = self.actor_net.apply(state.actor_params, observation)
        valid = (experience.step_type[:, :-1] != ts.StepType.LAST).astype(jnp.float32)
        if weights is not None:
            valid = valid * weights[:, :-1]
        cut = lambda x: x[:, :-1]  # noqa: E731
        batch = {"observation": jax.tree.map(cut, observation), "action": jax.tree.map(cut, experience.action),
                 "old_log_prob": cut(self.collect_policy.log_prob(dist, experience.action)),
                 "old_value": cut(value_preds), "return": returns, "advantage": advantages, "weights": valid}
        return self._losses((state.actor_params, state.value_params), state.actor_params, state, batch)


def _kl_divergence(policy: ActorPolicy, old, new):
    """`KL(old || new)` summed over the action's leaves."""
    return sum(o.kl_divergence(n) for o, n in zip(policy.distribution_leaves(old), policy.distribution_leaves(new)))
