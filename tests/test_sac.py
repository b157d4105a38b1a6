"""SAC: the tanh-normal's log-probability against numpy, bounds of every action for random
parameters and extreme inputs, the three losses against hand-computed values (twin-critic
min, alpha-loss sign, boundary masking), soft target updates, a short run that improves,
configs, and both trainers with resume and saved policies."""

import dataclasses
import math
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agentax.agents.ddpg.critic_network import CriticNetwork
from agentax.agents.sac.config import PRESETS, SacConfig
from agentax.agents.sac.sac_agent import SacAgent, as_transition, default_target_entropy
from agentax.networks.actor_distribution_network import ActorDistributionNetwork
from agentax.networks.tanh_normal_projection_network import (TanhNormal, TanhNormalProjectionNetwork,
                                                             std_clip_transform)
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import restart, time_step_spec
from agentax.trajectories.trajectory import Trajectory

F, M, L = 0, 1, 2
OBS = ArraySpec((2,), np.float32, name="observation")
ACT = BoundedArraySpec((1,), np.float32, -2.0, 2.0, name="action")
TS_SPEC = time_step_spec(OBS)


def np_tanh_normal_log_prob(value, loc, scale, low, high):
    """The change of variables written out in numpy (float64)."""
    value, loc, scale = (np.asarray(v, np.float64) for v in (value, loc, scale))
    center, half = (high + low) / 2.0, (high - low) / 2.0
    x = np.arctanh((value - center) / half)
    normal = -0.5 * ((x - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)
    return np.sum(normal - np.log(half * (1.0 - np.tanh(x) ** 2)), axis=-1)


# ---- the distribution and the projection network
def test_tanh_normal_log_prob_matches_numpy_and_is_a_density():
    loc, scale = np.asarray([[0.3, -1.0]]), np.asarray([[0.5, 2.0]])
    low, high = np.asarray([-2.0, 0.0]), np.asarray([2.0, 1.0])
    dist = TanhNormal(jnp.asarray(loc, jnp.float32), jnp.asarray(scale, jnp.float32),
                      jnp.asarray((high + low) / 2, jnp.float32), jnp.asarray((high - low) / 2, jnp.float32))
    value = np.asarray([[1.2, 0.9]])
    np.testing.assert_allclose(dist.log_prob(jnp.asarray(value, jnp.float32)),
                               np_tanh_normal_log_prob(value, loc, scale, low, high), rtol=1e-5)
    # Hand value, 1-D, unit bounds, x = atanh(0.5): log N(x; 0, 1) - log(1 - 0.25)
    x = math.atanh(0.5)
    unit = TanhNormal(jnp.zeros((1,)), jnp.ones((1,)), jnp.zeros((1,)), jnp.ones((1,)))
    np.testing.assert_allclose(unit.log_prob(jnp.asarray([0.5])),
                               -0.5 * x * x - 0.5 * math.log(2 * math.pi) - math.log(0.75), rtol=1e-6)
    # The density integrates to 1 over the bounds (1-D, midpoint rule).
    one = TanhNormal(jnp.asarray([[0.4]]), jnp.asarray([[0.7]]), jnp.asarray([0.5]), jnp.asarray([1.5]))
    grid = np.linspace(-1.0, 2.0, 200_001)[:, None]
    mid = (grid[1:] + grid[:-1]) / 2
    density = np.exp(np.asarray(jax.vmap(lambda a: one.log_prob(a[None]))(jnp.asarray(mid, jnp.float32))))
    assert abs(float(np.sum(density) * (grid[1, 0] - grid[0, 0])) - 1.0) < 2e-3


def test_sample_and_log_prob_agree_with_log_prob_and_mode_is_squashed_loc():
    dist = TanhNormal(jnp.asarray([[0.2], [-0.4]]), jnp.asarray([[0.3], [0.6]]), jnp.asarray([1.0]),
                      jnp.asarray([3.0]))
    action, log_prob = dist.sample_and_log_prob(jax.random.PRNGKey(0))
    np.testing.assert_allclose(log_prob, dist.log_prob(action), rtol=1e-4)
    np.testing.assert_allclose(dist.mode(), 1.0 + 3.0 * np.tanh([[0.2], [-0.4]]), atol=1e-6)
    samples = dist.sample(jax.random.PRNGKey(1))
    assert samples.shape == (2, 1) and samples.dtype == jnp.float32
    # Reparameterized: the sample is differentiable in loc.
    grad = jax.grad(lambda loc: jnp.sum(TanhNormal(loc, dist.scale, dist.center, dist.half_range)
                                        .sample(jax.random.PRNGKey(1))))(dist.loc)
    assert np.all(np.asarray(grad) > 0)
    # Saturated pre-squash samples keep a finite log-probability.
    far = TanhNormal(jnp.asarray([[30.0]]), jnp.asarray([[1e-3]]), jnp.asarray([0.0]), jnp.asarray([1.0]))
    assert np.isfinite(float(far.sample_and_log_prob(jax.random.PRNGKey(2))[1][0]))
    assert np.isfinite(float(far.log_prob(jnp.asarray([[1.0]]))[0]))


def test_std_clip_transform():
    np.testing.assert_allclose(std_clip_transform(jnp.asarray([-50.0, 0.0, 1.0, 9.0])),
                               np.exp([-20.0, 0.0, 1.0, 2.0]), rtol=1e-6)


BOUNDED = BoundedArraySpec((3,), np.float32, [-1.0, 0.0, -5.0], [1.0, 0.5, 10.0])


def extreme_observations(scale):
    return scale * jnp.concatenate([jnp.eye(4), -jnp.eye(4), jnp.ones((1, 4)), -jnp.ones((1, 4))])


def in_bounds(action, spec):
    action = np.asarray(action)
    return not np.any(np.isnan(action)) and np.all(action >= spec.minimum) and np.all(action <= spec.maximum)


@pytest.mark.parametrize("scale", [1.0, 1e4, 1e30])
def test_projection_stays_in_bounds_for_random_params_and_extreme_inputs(scale):
    net = ActorDistributionNetwork(ArraySpec((4,), np.float32), BOUNDED, fc_layer_params=(8,),
                                   continuous_projection_net=TanhNormalProjectionNetwork)
    observations = extreme_observations(scale)
    for seed in range(3):
        params = net.init(jax.random.PRNGKey(seed), observations)
        params = jax.tree.map(lambda p: p * 10.0, params)  # large random weights
        dist = net.apply(params, observations)
        assert in_bounds(dist.sample(jax.random.PRNGKey(seed)), BOUNDED) and in_bounds(dist.mode(), BOUNDED)


def test_sac_policies_stay_in_bounds_for_random_params_and_extreme_inputs():
    obs_spec = ArraySpec((4,), np.float32)
    net = ActorDistributionNetwork(obs_spec, BOUNDED, fc_layer_params=(8,),
                                   continuous_projection_net=TanhNormalProjectionNetwork)
    agent = SacAgent(time_step_spec(obs_spec), BOUNDED, CriticNetwork((obs_spec, BOUNDED)), net, seed=5)
    agent.initialize()
    observations = jnp.concatenate([extreme_observations(s) for s in (1.0, 1e4, 1e30)])
    time_step = restart(observations, batch_size=observations.shape[0])
    for policy in (agent.policy, agent.collect_policy):
        action = policy.action(time_step).action
        assert action.shape == (30, 3) and in_bounds(action, BOUNDED)


def test_projection_network_checks_its_spec():
    net = TanhNormalProjectionNetwork(BoundedArraySpec((), np.int32, 0, 3))
    with pytest.raises(ValueError, match="bounded float spec"):
        net.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)))
    net = TanhNormalProjectionNetwork(BoundedArraySpec((1,), np.float32, 1.0, 1.0))
    with pytest.raises(ValueError, match="maximum > minimum"):
        net.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)))


# ---- the losses, by hand
class FixedDistribution(NamedTuple):
    """Always the same action with a known log-probability (an actor under the test's control)."""

    action: Any
    log_probability: Any

    def sample_and_log_prob(self, key, dtype=jnp.float32):
        return self.action.astype(dtype), self.log_probability

    def sample(self, key, dtype=jnp.float32):
        return self.action.astype(dtype)

    def log_prob(self, value):
        return self.log_probability

    def mode(self, dtype=jnp.float32):
        return self.action.astype(dtype)

    def entropy(self):
        return -self.log_probability


class FixedActor(nn.Module):
    """action = a (a parameter), log pi = lp (a parameter), whatever the observation."""

    @nn.compact
    def __call__(self, observation):
        a = self.param("a", nn.initializers.constant(0.5), (1,))
        lp = self.param("lp", nn.initializers.constant(-0.25), ())
        outer = observation.shape[:-1]
        return FixedDistribution(jnp.broadcast_to(a, outer + (1,)), jnp.broadcast_to(lp, outer))


def linear_critic(w_obs, w_act, b):
    """Params of a `CriticNetwork` without hidden layers: Q = obs @ w_obs + act * w_act + b."""
    kernel = jnp.asarray(list(w_obs) + [w_act], jnp.float32)[:, None]
    return {"params": {"value": {"kernel": kernel, "bias": jnp.asarray([b], jnp.float32)}}}


def make_agent(**kwargs):
    kwargs = {"gamma": 0.9, "reward_scale_factor": 2.0, "initial_log_alpha": math.log(0.5), **kwargs}
    return SacAgent(TS_SPEC, ACT, CriticNetwork((OBS, ACT)), FixedActor(), **kwargs)


def batch(step_type=(M, M), obs=((1.0, 2.0), (3.0, -1.0)), action=(0.2, -0.4), reward=(1.0, -2.0),
          discount=(1.0, 0.0)):
    """Two `[2, 2]` trajectories: step 0 (obs[i], action[i], reward[i], discount[i]) -> step 1 at obs[1 - i]."""
    obs = jnp.asarray(obs, jnp.float32)
    return Trajectory(step_type=jnp.asarray([[step_type[0], M], [step_type[1], M]], jnp.int32),
                      observation=jnp.stack([obs, obs[::-1]], axis=1),
                      action=jnp.asarray([[[action[0]], [0.0]], [[action[1]], [0.0]]], jnp.float32), policy_info=(),
                      next_step_type=jnp.full((2, 2), M, jnp.int32),
                      reward=jnp.asarray([[reward[0], 0.0], [reward[1], 0.0]], jnp.float32),
                      discount=jnp.asarray([[discount[0], 1.0], [discount[1], 1.0]], jnp.float32))


def hand_state(agent):
    state = agent.init(jax.random.PRNGKey(0))
    critics = (linear_critic((1.0, 0.0), 1.0, 0.0), linear_critic((0.0, 1.0), -1.0, 0.5))
    targets = (linear_critic((2.0, 0.0), 0.0, 0.0), linear_critic((0.0, 1.0), 2.0, 0.0))
    return state._replace(critic_params=critics, target_critic_params=targets)


def test_critic_loss_takes_the_min_of_the_twin_targets_by_hand():
    agent = make_agent()
    state = hand_state(agent)
    t = as_transition(batch())
    loss = agent.critic_loss(state.critic_params, state.target_critic_params, state.actor_params, state.log_alpha,
                             state.hparams, t, jax.random.PRNGKey(0))
    # next obs: element 0 -> (3, -1), element 1 -> (1, 2); next action 0.5, log pi -0.25, alpha 0.5
    # target 1 = 2 * o0: 6, 2;  target 2 = o1 + 2 * 0.5: 0, 3;  min: 0, 2
    soft = np.asarray([0.0, 2.0]) - 0.5 * -0.25
    y = 2.0 * np.asarray([1.0, -2.0]) + 0.9 * np.asarray([1.0, 0.0]) * soft
    q1 = np.asarray([1.0 + 0.2, 3.0 - 0.4])               # o0 + a
    q2 = np.asarray([2.0 - 0.2 + 0.5, -1.0 + 0.4 + 0.5])  # o1 - a + 0.5
    expected = 0.5 * np.mean((y - q1) ** 2 + (y - q2) ** 2)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_actor_loss_uses_the_min_of_the_online_critics_by_hand():
    agent = make_agent()
    state = hand_state(agent)
    loss = agent.actor_loss(state.actor_params, state.critic_params, state.log_alpha, state.hparams,
                            as_transition(batch()), jax.random.PRNGKey(0))
    # a = 0.5: Q1 = o0 + 0.5 = 1.5, 3.5; Q2 = o1 - 0.5 + 0.5 = 2, -1; min 1.5, -1
    np.testing.assert_allclose(loss, np.mean(0.5 * -0.25 - np.asarray([1.5, -1.0])), rtol=1e-6)


@pytest.mark.parametrize("use_log_alpha", [True, False])
@pytest.mark.parametrize("target_entropy, direction", [(-1.0, -1), (1.0, +1)])
def test_alpha_loss_value_and_sign(use_log_alpha, target_entropy, direction):
    """Entropy (-log pi = 0.25) above the target: alpha falls; below: alpha rises."""
    agent = make_agent(target_entropy=target_entropy, use_log_alpha_in_alpha_loss=use_log_alpha,
                       alpha_optimizer=optax.sgd(0.1))
    state = hand_state(agent)
    t = as_transition(batch())
    loss = agent.alpha_loss(state.log_alpha, state.actor_params, state.hparams, t, jax.random.PRNGKey(0))
    factor = math.log(0.5) if use_log_alpha else 0.5
    np.testing.assert_allclose(loss, factor * (0.25 - target_entropy), rtol=1e-6)
    new_state, _ = agent.train_step(state, batch(), jax.random.PRNGKey(0))
    assert np.sign(float(new_state.log_alpha - state.log_alpha)) == direction


def test_boundaries_are_masked_and_weights_scale_the_losses():
    agent = make_agent()
    state = hand_state(agent)
    args = lambda exp: (state.critic_params, state.target_critic_params, state.actor_params,  # noqa: E731
                        state.log_alpha, state.hparams, as_transition(exp), jax.random.PRNGKey(0))
    both = float(agent.critic_loss(*args(batch())))
    only_second = float(agent.critic_loss(*args(batch(step_type=(L, M)))))
    weighted = float(agent.critic_loss(*args(batch()), weights=jnp.asarray([0.0, 1.0])))
    assert only_second == pytest.approx(weighted) and only_second < both
    assert float(agent.actor_loss(state.actor_params, state.critic_params, state.log_alpha, state.hparams,
                                  as_transition(batch(step_type=(L, L))), jax.random.PRNGKey(0))) == 0.0


def test_soft_target_update_every_period():
    agent = make_agent(target_update_tau=0.1, target_update_period=2)
    state = hand_state(agent)
    kernel = lambda params, i: np.asarray(params[i]["params"]["value"]["kernel"])  # noqa: E731
    s1, _ = agent.train_step(state, batch(), jax.random.PRNGKey(0))
    # TF-Agents' Periodically: the first call leaves the targets, the second updates them
    np.testing.assert_array_equal(kernel(s1.target_critic_params, 0), kernel(state.target_critic_params, 0))
    s2, _ = agent.train_step(s1, batch(), jax.random.PRNGKey(1))
    for i in (0, 1):  # 0.9 * target + 0.1 * (updated) critic
        np.testing.assert_allclose(kernel(s2.target_critic_params, i),
                                   0.9 * kernel(s1.target_critic_params, i) + 0.1 * kernel(s2.critic_params, i),
                                   rtol=1e-6)
    s3, _ = agent.train_step(s2, batch(), jax.random.PRNGKey(2))
    np.testing.assert_array_equal(kernel(s3.target_critic_params, 0), kernel(s2.target_critic_params, 0))
    s4, _ = agent.train_step(s3, batch(), jax.random.PRNGKey(3))
    assert not np.allclose(kernel(s4.target_critic_params, 0), kernel(s3.target_critic_params, 0))


def test_init_twin_critics_differ_targets_copy_and_default_target_entropy():
    spec = BoundedArraySpec((2, 3), np.float32, -1.0, 1.0)
    assert default_target_entropy(spec) == -3.0
    agent = SacAgent(TS_SPEC, ACT, CriticNetwork((OBS, ACT), joint_fc_layer_params=(4,)), FixedActor())
    state = agent.init(jax.random.PRNGKey(0))
    k = lambda p: np.asarray(p["params"]["joint_fc_0"]["kernel"])  # noqa: E731
    assert not np.allclose(k(state.critic_params[0]), k(state.critic_params[1]))
    for i in (0, 1):
        np.testing.assert_array_equal(k(state.critic_params[i]), k(state.target_critic_params[i]))
    assert float(state.hparams["target_entropy"]) == -0.5 and float(state.log_alpha) == 0.0
    assert agent.train_sequence_length == 2


def test_bad_arguments():
    critic, actor = CriticNetwork((OBS, ACT)), FixedActor()
    with pytest.raises(ValueError, match="continuous"):
        SacAgent(TS_SPEC, BoundedArraySpec((), np.int32, 0, 2), critic, actor)
    with pytest.raises(ValueError, match="gamma"):
        SacAgent(TS_SPEC, ACT, critic, actor, gamma=1.5)
    with pytest.raises(ValueError, match="target_update_period"):
        SacAgent(TS_SPEC, ACT, critic, actor, target_update_period=0)
    with pytest.raises(TypeError, match="actor_network"):
        SacAgent(TS_SPEC, ACT, critic, lambda obs: obs)
    with pytest.raises(ValueError, match="target_entropy"):
        SacConfig(target_entropy=float("nan"))
    with pytest.raises(ValueError, match="alpha_learning_rate"):
        SacConfig(alpha_learning_rate=0.0)


def test_hyperparameters_include_the_three_learning_rates():
    agent = make_agent(actor_optimizer=optax.inject_hyperparams(optax.adam)(learning_rate=1e-3))
    state = agent.init(jax.random.PRNGKey(0))
    values = agent.hyperparameters(state)
    assert float(values["actor_learning_rate"]) == pytest.approx(1e-3)
    assert float(values["critic_learning_rate"]) == pytest.approx(3e-4)
    state = agent.with_hyperparameters(state, critic_learning_rate=0.01, gamma=0.5)
    values = agent.hyperparameters(state)
    assert float(values["critic_learning_rate"]) == pytest.approx(0.01) and float(values["gamma"]) == 0.5
    assert float(values["actor_learning_rate"]) == pytest.approx(1e-3)


# ---- learning
def test_short_run_on_a_continuous_bandit_moves_the_greedy_action_to_the_best():
    """One-step episodes, reward -(a - 1)^2 on actions in [-2, 2]: after 300 train steps on
    uniformly random actions the greedy action is near 1."""
    obs_spec = ArraySpec((1,), np.float32)
    actor = ActorDistributionNetwork(obs_spec, ACT, fc_layer_params=(16,),
                                     continuous_projection_net=TanhNormalProjectionNetwork)
    agent = SacAgent(time_step_spec(obs_spec), ACT, CriticNetwork((obs_spec, ACT), joint_fc_layer_params=(32,)),
                     actor, actor_optimizer=optax.adam(3e-3), critic_optimizer=optax.adam(3e-3),
                     alpha_optimizer=optax.adam(3e-3), target_update_tau=0.05, gamma=0.99, seed=3)
    agent.initialize()
    rng = np.random.default_rng(0)
    greedy = lambda: float(agent.policy.action(restart(jnp.ones((1, 1)), batch_size=1)).action[0, 0])  # noqa: E731
    start = greedy()
    for _ in range(300):
        a = rng.uniform(-2, 2, (64, 1)).astype(np.float32)
        exp = Trajectory(step_type=np.tile([[F, L]], (64, 1)).astype(np.int32),
                         observation=np.ones((64, 2, 1), np.float32),
                         action=np.concatenate([a, np.zeros_like(a)], axis=1)[..., None], policy_info=(),
                         next_step_type=np.tile([[L, F]], (64, 1)).astype(np.int32),
                         reward=np.concatenate([-(a - 1.0) ** 2, np.zeros_like(a)], axis=1),
                         discount=np.tile([[0.0, 1.0]], (64, 1)).astype(np.float32))
        loss = agent.train(exp)
    assert np.isfinite(float(loss.loss))
    assert abs(greedy() - 1.0) < 0.25 < abs(start - 1.0) or abs(greedy() - 1.0) < 0.25
    assert abs(greedy() - 1.0) < abs(start - 1.0) or abs(start - 1.0) < 0.25


# ---- configs and both trainers
def test_presets():
    assert PRESETS["default"].env == "Pendulum-v1" and PRESETS["default"].trainer == "compiled"
    assert PRESETS["default"].total_env_steps == 20_000 and PRESETS["default"].replay_ratio == 1.0
    zoo = PRESETS["zoo"]
    assert (zoo.trainer, zoo.actor_learning_rate, zoo.target_entropy, zoo.initial_collect_steps) == (
        "python", 1e-3, -1.0, 100)
    assert zoo.total_env_steps == 20_000
    tfa = PRESETS["tf-agents"]
    assert (tfa.env, tfa.reward_scale_factor, tfa.initial_collect_steps, tfa.actor_learning_rate) == (
        "HalfCheetah-v5", 0.1, 10_000, 3e-4)


SMALL = SacConfig(iterations=4, num_envs=2, collect_steps_per_iteration=8, train_steps_per_iteration=3,
                  initial_collect_steps=20, replay_capacity=200, sample_batch_size=4, actor_fc_layer_params=(8,),
                  critic_joint_fc_layer_params=(8,), eval_interval=2, log_interval=2, num_eval_episodes=1,
                  video_episodes=0)


def quiet(*args):
    pass


def test_compiled_run_resumes_and_saved_policies_act_in_bounds(tmp_path):
    from agentax.policies import policy_loader
    from agentax.train.run import train_run
    first = train_run(dataclasses.replace(SMALL, iterations=2), tmp_path / "run", progress=False, echo=quiet)
    assert (first["iterations"], first["train_steps"]) == (2, 6)
    resumed = train_run(SMALL, tmp_path / "run", resume=True, progress=False, echo=quiet)
    assert (resumed["iterations"], resumed["train_steps"]) == (4, 12)
    assert resumed["env_steps"] >= 20 + 4 * 8
    for name in ("greedy_policy", "collect_policy"):
        policy = policy_loader.load(tmp_path / "run" / "policies" / name)
        obs = np.asarray([[1.0, 0.0, 8.0], [-1.0, 0.0, -8.0]], np.float32)
        action = np.asarray(policy.action(restart(obs, batch_size=2)).action)
        assert action.shape == (2, 1) and np.all(np.abs(action) <= 2.0)


def test_python_trainer_trains_and_checkpoints_the_replay(tmp_path):
    from agentax.train.python_trainer import PythonTrainer
    from agentax.train.run import train_run
    from agentax.utils import common
    config = dataclasses.replace(SMALL, trainer="python", num_envs=1, iterations=2)
    train_run(config, tmp_path / "run", progress=False, echo=quiet)
    trainer = PythonTrainer(config)
    trainer.initialize()
    common.Checkpointer(tmp_path / "run" / "checkpoints", clock=common.Variable(np.zeros(2)),
                        **trainer.checkpoint_objects()).initialize_or_restore()
    assert trainer.replay.num_frames() >= 25
    assert int(trainer.agent.train_step_counter) == 2 * 3 and trainer.iteration_count == 2
