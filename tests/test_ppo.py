"""PPO: the clipped objective, the KL penalty's coefficient, normalizers, returns/advantages, both trainers."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agentax.agents.ppo.config import PRESETS, PPOConfig
from agentax.agents.ppo.ppo_agent import PPOAgent
from agentax.agents.ppo.ppo_clip_agent import PPOClipAgent
from agentax.networks import ActorDistributionNetwork, ValueNetwork
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import Trajectory, time_step_spec
from agentax.utils.tensor_normalizer import StreamingTensorNormalizer

OBS = ArraySpec((3,), np.float32, "observation")
DISCRETE = BoundedArraySpec((), np.int32, 0, 1, "action")
CONTINUOUS = BoundedArraySpec((2,), np.float32, -2.0, 2.0, "action")
F, M, L = 0, 1, 2


def make_agent(cls=PPOClipAgent, action_spec=DISCRETE, **kwargs):
    kwargs = {"normalize_rewards": False, "normalize_observations": False, "num_epochs": 1, **kwargs}
    actor = ActorDistributionNetwork(OBS, action_spec, fc_layer_params=(8,))
    value = ValueNetwork(OBS, fc_layer_params=(8,))
    return cls(time_step_spec(OBS), action_spec, optax.sgd(0.1), actor, value, **kwargs)


def batch(action_spec=DISCRETE, rows=2, length=5, seed=0):
    """`[rows, length]` trajectories; row 0 ends an episode at t=1 (boundary at t=2)."""
    rng = np.random.default_rng(seed)
    step_type = np.full((rows, length), M, np.int32)
    next_step_type = np.full((rows, length), M, np.int32)
    step_type[:, 0] = F
    next_step_type[0, 1], step_type[0, 2], next_step_type[0, 2], step_type[0, 3] = L, L, F, F
    discount = np.ones((rows, length), np.float32)
    discount[0, 1] = 0.0
    if action_spec is DISCRETE:
        action = rng.integers(0, 2, (rows, length)).astype(np.int32)
    else:
        action = rng.uniform(-2, 2, (rows, length, 2)).astype(np.float32)
    reward = np.ones((rows, length), np.float32)
    reward[0, 2] = 0.0  # the boundary's reward
    return Trajectory(step_type, rng.normal(size=(rows, length, 3)).astype(np.float32), action, (),
                      next_step_type, reward, discount)


# ---- the clipped objective
def _pg_grad(agent, state, ratio, advantage):
    """Gradient of the policy-gradient loss of one step whose importance ratio is `ratio`."""
    obs = jnp.zeros((1, 3))
    action = jnp.zeros((1,), jnp.int32)
    dist = agent.actor_net.apply(state.actor_params, obs)
    log_prob = agent.collect_policy.log_prob(dist, action)
    data = {"observation": obs, "action": action, "old_log_prob": log_prob - jnp.log(ratio),
            "old_value": jnp.zeros(1), "return": jnp.zeros(1), "advantage": jnp.asarray([advantage]),
            "weights": jnp.ones(1)}

    def pg(actor_params):
        return agent._losses((actor_params, state.value_params), state.actor_params, state, data).extra[0]

    grads = jax.grad(pg)(state.actor_params)
    return float(optax.tree.norm(grads)), float(pg(state.actor_params))


def test_clipped_objective_has_no_gradient_where_the_ratio_is_clipped():
    agent = make_agent(importance_ratio_clipping=0.2)
    state = agent.init(jax.random.PRNGKey(0))
    for ratio, advantage in ((1.5, 1.0), (0.5, -1.0)):  # clipped: the min picks the constant clipped term
        norm, loss = _pg_grad(agent, state, ratio, advantage)
        assert norm == 0.0
        assert loss == pytest.approx(-float(np.clip(ratio, 0.8, 1.2)) * advantage, rel=1e-5)
    for ratio, advantage in ((1.1, 1.0), (0.5, 1.0), (1.5, -1.0)):  # inside the band, or the unclipped min
        norm, loss = _pg_grad(agent, state, ratio, advantage)
        assert norm > 0.0
        assert loss == pytest.approx(-ratio * advantage, rel=1e-5)


def test_importance_ratio_clipping_zero_means_no_clipping():
    agent = make_agent(importance_ratio_clipping=0.0)
    norm, loss = _pg_grad(agent, agent.init(jax.random.PRNGKey(0)), 1.5, 1.0)
    assert norm > 0.0 and loss == pytest.approx(-1.5, rel=1e-5)
    assert PPOClipAgent.__init__.__defaults__[4] == 0.2  # agentax's clip agent clips by default (TF-Agents': 0)


# ---- the adaptive KL penalty
def test_kl_coefficient_adapts_in_the_right_direction():
    agent = make_agent(PPOAgent, initial_adaptive_kl_beta=1.0, adaptive_kl_target=0.01, adaptive_kl_tolerance=0.3)
    state = agent.init(jax.random.PRNGKey(0))
    assert float(agent.update_adaptive_kl_beta(state, 0.02)) == pytest.approx(1.5)       # above 0.013: x1.5
    assert float(agent.update_adaptive_kl_beta(state, 0.005)) == pytest.approx(1 / 1.5)  # below 0.007: /1.5
    assert float(agent.update_adaptive_kl_beta(state, 0.01)) == pytest.approx(1.0)       # inside: kept
    # Updates that move the policy more than a tiny target: the train step raises the coefficient.
    big = make_agent(PPOAgent, num_epochs=4, adaptive_kl_target=1e-4)
    new, info = big.train_step(big.init(jax.random.PRNGKey(1)), jax.tree.map(jnp.asarray, batch()),
                               jax.random.PRNGKey(2))
    assert float(new.adaptive_kl_beta) == pytest.approx(1.5) and float(info.extra.kl_penalty_loss) > 0
    assert make_agent().init(jax.random.PRNGKey(0)).adaptive_kl_beta == 0  # the clip agent has no KL terms


# ---- returns, advantages and the train step
def test_returns_and_advantages_restart_at_episode_ends_and_bootstrap_from_the_last_step():
    agent = make_agent(use_gae=True, lambda_value=0.5, discount_factor=0.9)
    state = agent.init(jax.random.PRNGKey(0))
    exp = jax.tree.map(jnp.asarray, batch())
    values = jnp.asarray([[1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 0.0, 0.0, 10.0]])
    returns, advantages = agent.compute_return_and_advantage(state, exp, values)
    # Row 0: rewards 1, 1, 0, 1 (t < 4); discounts .9, 0 (episode end), .9 (boundary), .9; final value 5.
    np.testing.assert_allclose(returns[0], [1.9, 1.0, 0.9 * 5.5, 1 + 0.9 * 5], rtol=1e-6)
    # Row 1: rewards 1, discounts .9 throughout, final value 10.
    g3 = 1 + 9.0
    np.testing.assert_allclose(returns[1], [1 + .9 * (1 + .9 * (1 + .9 * g3)), 1 + .9 * (1 + .9 * g3), 1 + .9 * g3,
                                            g3], rtol=1e-6)
    deltas = np.array([1 + .9 * 2 - 1, 1 - 2, 0 + .9 * 4 - 3, 1 + .9 * 5 - 4])
    expected = deltas.copy()
    for t in (2, 1, 0):
        expected[t] += (0.45 if t != 1 else 0.0) * expected[t + 1]
    np.testing.assert_allclose(advantages[0], expected, rtol=1e-5)


@pytest.mark.parametrize("action_spec", [DISCRETE, CONTINUOUS])
def test_train_step_counts_updates_and_updates_the_normalizers(action_spec):
    agent = make_agent(action_spec=action_spec, num_epochs=3, num_minibatches=2, normalize_observations=True,
                       normalize_rewards=True, use_gae=True)
    state = agent.init(jax.random.PRNGKey(0))
    exp = jax.tree.map(jnp.asarray, batch(action_spec))
    new, info = jax.jit(agent.train_step)(state, exp, jax.random.PRNGKey(1))
    assert int(new.step) == 6 and np.isfinite(float(info.loss))
    assert np.isfinite(float(agent.loss(batch(action_spec)).loss))  # the shell: initializes, no update
    assert int(agent.train_step_counter) == 0
    mean, variance = agent.observation_normalizer.mean_and_variance(new.observation_normalizer)
    observed = np.asarray(exp.observation[:, :-1]).reshape(-1, 3)  # the bootstrap step is left out
    np.testing.assert_allclose(mean, observed.mean(0), rtol=1e-5)
    np.testing.assert_allclose(variance, observed.var(0), rtol=1e-4)
    # Rewards: the boundary step (t=2 of row 0) is masked out.
    rewards = np.asarray(exp.reward[:, :-1]).reshape(-1)
    kept = np.delete(rewards, 2)
    assert float(new.reward_normalizer.count[0]) == len(kept)
    with pytest.raises(ValueError, match="num_minibatches=3"):
        make_agent(action_spec=action_spec, num_minibatches=3).train_step(state, exp, jax.random.PRNGKey(1))


def test_continuous_actions_stay_in_the_spec_and_train_on_what_was_executed():
    agent = make_agent(action_spec=CONTINUOUS)
    state = agent.init(jax.random.PRNGKey(0))
    ts = time_step_spec(OBS)._replace(step_type=jnp.ones((500,), jnp.int32), reward=jnp.zeros(500),
                                      discount=jnp.ones(500), observation=jnp.zeros((500, 3)))
    action = np.asarray(agent.collect_policy.action(agent.collect_policy_params(state), ts, (),
                                                    jax.random.PRNGKey(1)).action)
    assert action.shape == (500, 2) and action.min() >= -2.0 and action.max() <= 2.0
    greedy = np.asarray(agent.policy.action(agent.policy_params(state), ts, ()).action)
    assert np.all(np.abs(greedy) < 2.0)  # the tanh-squashed mean


# ---- normalizers
def test_normalizer_matches_numpy_over_several_updates_with_weights():
    spec = {"a": ArraySpec((2,), np.float32), "b": ArraySpec((), np.float32)}
    norm = StreamingTensorNormalizer(spec)
    state = norm.init()
    rng = np.random.default_rng(0)
    seen_a, seen_b = [], []
    for n in (3, 7, 1):
        a, b = rng.normal(2.0, 3.0, (n, 4, 2)), rng.normal(-1.0, 0.5, (n, 4))
        w = (rng.uniform(size=(n, 4)) > 0.3).astype(np.float32)
        state = jax.jit(norm.update)(state, {"a": a, "b": b}, w)
        seen_a.append(a[w > 0])
        seen_b.append(b[w > 0])
    seen_a, seen_b = np.concatenate(seen_a), np.concatenate(seen_b)
    mean, var = norm.mean_and_variance(state)
    np.testing.assert_allclose(mean["a"], seen_a.mean(0), rtol=1e-5)
    np.testing.assert_allclose(var["a"], seen_a.var(0), rtol=1e-4)
    np.testing.assert_allclose(mean["b"], seen_b.mean(), rtol=1e-5)
    np.testing.assert_allclose(var["b"], seen_b.var(), rtol=1e-4)
    x = {"a": np.array([[0.0, 100.0]], np.float32), "b": np.array([0.5], np.float32)}
    out = norm.normalize(state, x, clip_value=5.0)
    expected = (x["a"] - seen_a.mean(0)) / np.sqrt(seen_a.var(0) + 1e-3)
    np.testing.assert_allclose(out["a"], np.clip(expected, -5, 5), rtol=1e-4)
    uncentred = norm.normalize(state, x, clip_value=0.0, center_mean=False)
    np.testing.assert_allclose(uncentred["b"], 0.5 / np.sqrt(seen_b.var() + 1e-3), rtol=1e-4)
    fresh = norm.normalize(norm.init(), x, clip_value=0.0, variance_epsilon=0.0)  # before any update: identity
    np.testing.assert_allclose(fresh["a"], x["a"])


# ---- errors
def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="importance_ratio_clipping"):
        make_agent(importance_ratio_clipping=-0.1)
    with pytest.raises(ValueError, match="num_epochs"):
        make_agent(num_epochs=0)
    with pytest.raises(TypeError, match="value_net"):
        PPOClipAgent(time_step_spec(OBS), DISCRETE, None, ActorDistributionNetwork(OBS, DISCRETE), None)
    with pytest.raises(ValueError, match="num_minibatches"):
        PPOConfig(num_envs=3, collect_steps_per_env=5, num_minibatches=4)
    with pytest.raises(ValueError, match="at least 2 time steps"):
        agent = make_agent()
        agent.initialize()
        agent.train(jax.tree.map(lambda x: x[:, :1], batch()))


# ---- training
SMALL = dict(env="CartPole-v1", num_envs=8, collect_steps_per_env=32, num_epochs=2, num_minibatches=2,
             fc_layer_params=(32,), value_fc_layer_params=(32,), learning_rate=1e-2, learning_rate_decay=1.0,
             num_eval_episodes=4)


def test_compiled_short_run_improves_and_is_deterministic():
    from agentax.train.compiled_trainer import CompiledTrainer

    config = PPOConfig(iterations=20, **SMALL)
    trainer = CompiledTrainer(config)
    trainer.initialize()
    initial = trainer.state
    before = float(trainer.evaluate_now()[0])
    trainer.run(20)
    after = float(trainer.evaluate_now()[0])
    assert after > before + 20, (before, after)
    assert int(trainer.train_steps_now()[0]) == 20 * 2 * 2
    first = trainer.state
    trainer.state = initial
    trainer.run(12)
    trainer.run(8)  # the same 20 iterations in two chunks
    leaves = zip(jax.tree.leaves(first.agent.actor_params), jax.tree.leaves(trainer.state.agent.actor_params))
    assert all(np.array_equal(a, b) for a, b in leaves)


def test_python_trainer_trains_on_one_sequence_per_env_and_clears_the_table():
    from agentax.train.python_trainer import PythonTrainer

    config = PPOConfig(trainer="python", iterations=3, **SMALL)
    trainer = PythonTrainer(config)
    trainer.initialize()
    seen = []
    original = trainer.agent.train

    def spy(experience, weights=None):
        seen.append(np.shape(experience.step_type))
        return original(experience, weights)

    trainer.agent.train = spy
    trainer.run(3)
    assert seen == [(8, 33)] * 3
    assert trainer.replay.num_frames() == 0
    assert int(trainer.train_steps_now()[0]) == 3 * 2 * 2


def test_presets_build():
    for name, config in PRESETS.items():
        assert config.collection().on_policy and config.collection().steps == config.num_envs * config.collect_steps_per_env
    assert PRESETS["purejaxrl"].num_envs * PRESETS["purejaxrl"].collect_steps_per_env * PRESETS["purejaxrl"].iterations \
        == 499_712


def test_collect_pure_gives_what_run_pure_records_and_counts():
    """The compiled trainer's on-policy collection (a scan returning the trajectories, observed after
    the loop) computes what the driver's loop with the recorder and the counters as observers does."""
    from agentax.drivers import DynamicStepDriver
    from agentax.environments import suite_jax
    from agentax.metrics.jax_metrics import EnvironmentSteps, NumberOfEpisodes
    from agentax.replay_buffers.trajectory_recorder import TrajectoryRecorder

    env = suite_jax.load("CartPole-v1", batch_size=3)
    config = PPOConfig(**SMALL)
    agent = config.make_agent(env.time_step_spec(), env.action_spec())
    params = agent.collect_policy_params(agent.init(jax.random.PRNGKey(1)))
    recorder, steps, episodes = TrajectoryRecorder(agent.collect_data_spec, 40), EnvironmentSteps(), NumberOfEpisodes()
    driver = DynamicStepDriver(env, agent.collect_policy, [recorder, steps, episodes], num_steps=120)
    start = driver.initial_state(jax.random.PRNGKey(2))
    looped = jax.jit(lambda s: driver.run_pure(params, s, iterations=40))(start)
    scanned, trajectories = jax.jit(lambda s: driver.collect_pure(params, s, 40))(start)
    recorded = looped.observer_states[0]
    assert int(recorded.length) == 40 and int(np.sum(np.asarray(trajectories.next_step_type) == L)) >= 1
    for a, b in zip(jax.tree.leaves(recorded.data), jax.tree.leaves(trajectories)):
        assert a.shape == b.shape and np.array_equal(a, np.asarray(b, a.dtype))
    for a, b in zip(jax.tree.leaves((looped.env_state, looped.time_step, looped.key)),
                    jax.tree.leaves((scanned.env_state, scanned.time_step, scanned.key))):
        assert np.array_equal(a, b)
    assert int(looped.observer_states[1]) == int(steps.update(steps.init(3), trajectories))
    assert int(looped.observer_states[2]) == int(episodes.update(episodes.init(3), trajectories)) >= 1
    assert jax.tree.structure(scanned.observer_states) == jax.tree.structure(start.observer_states)
    with pytest.raises(ValueError, match="iterations"):
        driver.collect_pure(params, start, 0)
