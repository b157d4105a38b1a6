"""DQN and Double DQN: losses, n-step targets, target updates and exploration against values
worked out by hand; the pure functions jitted and not; learning on a fixed batch; configs."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agentax.agents.dqn.config import PRESETS, DqnConfig
from agentax.agents.dqn.ddqn_config import PRESETS as DDQN_PRESETS
from agentax.agents.dqn.dqn_agent import DdqnAgent, DqnAgent, n_step_transition
from agentax.networks import QNetwork
from agentax.policies.boltzmann_policy import BoltzmannPolicy
from agentax.policies.epsilon_greedy_policy import EpsilonGreedyParams, EpsilonGreedyPolicy
from agentax.policies.py_jax_policy import PyJaxPolicy
from agentax.policies.q_policy import QPolicy
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import Trajectory, restart, time_step_spec
from agentax.trajectories.trajectory import to_n_step_transition
from agentax.train.config import Collection
from agentax.utils import common
from agentax.utils.target_update import periodic_soft_update, soft_variables_update

F, M, L = 0, 1, 2
OBS_SPEC = ArraySpec((2,), np.float32, name="observation")
ACTION_SPEC = BoundedArraySpec((), np.int32, 0, 1, name="action")
TS_SPEC = time_step_spec(OBS_SPEC)


def linear(kernel, bias):
    """Params of a `QNetwork` without hidden layers: Q(o) = o @ kernel + bias."""
    return {"params": {"q_values": {"kernel": jnp.asarray(kernel, jnp.float32),
                                    "bias": jnp.asarray(bias, jnp.float32)}}}


# TF-Agents' test network: Q([a, b]) = [2a + b + 1, a + b + 1].
ONLINE = linear([[2.0, 1.0], [1.0, 1.0]], [1.0, 1.0])


def make_agent(cls=DqnAgent, **kwargs):
    net = QNetwork(OBS_SPEC, ACTION_SPEC, fc_layer_params=())
    kwargs.setdefault("optimizer", optax.sgd(0.01))
    return cls(TS_SPEC, ACTION_SPEC, net, **kwargs)


def one_step_batch():
    """TF-Agents' DQN loss test: observations [1, 2] and [3, 4], actions 0 and 1, rewards 10
    and 20, discounts 0.9, next observations [5, 6] and [7, 8]."""
    return Trajectory(step_type=np.array([[F, M], [F, M]], np.int32),
                      observation=np.array([[[1, 2], [5, 6]], [[3, 4], [7, 8]]], np.float32),
                      action=np.array([[0, 1], [1, 0]], np.int32), policy_info=(),
                      next_step_type=np.array([[M, M], [M, M]], np.int32),
                      reward=np.array([[10, 0], [20, 0]], np.float32),
                      discount=np.array([[0.9, 1], [0.9, 1]], np.float32))


def n_step_batch():
    """Four rows of 3 frames (n_step_update=2), gamma 0.9:
    row 0: no boundary; row 1: terminates at frame 1 (discount 0), frame 2 is the next
    episode (reward 5 must not count); row 2: truncated at frame 1 (discount 1: bootstrap
    from frame 1); row 3: starts on a boundary (masked)."""
    return Trajectory(
        step_type=np.array([[F, M, M], [F, L, F], [F, L, F], [L, F, M]], np.int32),
        observation=np.array([[[1, 2], [5, 6], [7, 8]], [[3, 4], [9, 9], [9, 9]],
                              [[0, 1], [1, 1], [9, 9]], [[9, 9], [9, 9], [9, 9]]], np.float32),
        action=np.array([[0, 1, 1], [1, 0, 0], [0, 0, 0], [1, 1, 1]], np.int32), policy_info=(),
        next_step_type=np.array([[M, M, M], [L, F, M], [L, F, M], [F, M, M]], np.int32),
        reward=np.array([[1, 2, 0], [1, 0, 5], [1, 0, 5], [7, 7, 7]], np.float32),
        discount=np.array([[1, 1, 1], [0, 1, 1], [1, 1, 1], [1, 1, 1]], np.float32))


# Row 0: Q(o0)[0] = 5; target 1 + 0.9*2 + 0.81*max Q([7, 8]) = 2.8 + 0.81*23 = 21.43.
# Row 1: Q([3, 4])[1] = 8; target 1 (terminated after one step).
# Row 2: Q([0, 1])[0] = 2; target 1 + 0.9*max Q([1, 1]) = 1 + 0.9*4 = 4.6.
# Row 3: masked.
N_STEP_TARGETS = np.array([21.43, 1.0, 4.6])
N_STEP_Q = np.array([5.0, 8.0, 2.0])


def huber(d):
    d = np.abs(d)
    return np.where(d <= 1, 0.5 * d**2, d - 0.5)


# ---------------------------------------------------------------- pure functions, jitted and not

class PureFunctionsTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_element_wise_losses(self):
        x, y = jnp.array([0.0, 2.0, -0.5, 3.0]), jnp.array([1.0, -1.0, 0.0, 3.0])
        np.testing.assert_allclose(self.variant(common.element_wise_huber_loss)(x, y), [0.5, 2.5, 0.125, 0.0])
        np.testing.assert_allclose(self.variant(common.element_wise_squared_loss)(x, y), [1.0, 9.0, 0.25, 0.0])

    @chex.variants(with_jit=True, without_jit=True)
    def test_compute_returns_restart_where_discount_is_zero(self):
        returns = self.variant(common.compute_returns)(jnp.array([1.0, 2.0, 3.0, 4.0]),
                                                       jnp.array([0.5, 0.0, 1.0, 1.0]))
        np.testing.assert_allclose(returns, [1 + 0.5 * 2, 2.0, 3 + 4, 4.0])

    @chex.variants(with_jit=True, without_jit=True)
    def test_to_n_step_transition(self):
        traj = jax.tree.map(jnp.asarray, n_step_batch())
        transition = self.variant(lambda t: to_n_step_transition(t, 0.9))(traj)
        # reward = r0 + 0.9 d0 r1; discount = 0.9^(N-1) d0 d1 (N = 2), boundaries not special.
        np.testing.assert_allclose(transition.next_time_step.reward, [1 + 0.9 * 2, 1.0, 1 + 0.9 * 0, 7 + 0.9 * 7],
                                   rtol=1e-6)
        np.testing.assert_allclose(transition.next_time_step.discount, [0.9, 0.0, 0.9, 0.9], rtol=1e-6)
        np.testing.assert_array_equal(transition.next_time_step.step_type, [M, F, F, M])
        np.testing.assert_array_equal(transition.next_time_step.observation, traj.observation[:, -1])
        np.testing.assert_array_equal(transition.time_step.observation, traj.observation[:, 0])
        np.testing.assert_array_equal(transition.action_step.action, [0, 1, 0, 1])
        assert np.all(np.isnan(transition.time_step.reward)) and np.all(np.isnan(transition.time_step.discount))

    @chex.variants(with_jit=True, without_jit=True)
    def test_n_step_terms_stop_at_the_episode_end(self):
        terms = self.variant(lambda t: n_step_transition(t, 0.9, 1.0))(jax.tree.map(jnp.asarray, n_step_batch()))
        np.testing.assert_allclose(terms.returns[:3], [2.8, 1.0, 1.0], rtol=1e-6)
        np.testing.assert_allclose(terms.discount[:3], [0.81, 0.0, 0.9], rtol=1e-6)
        np.testing.assert_array_equal(terms.next_observation[:3], [[7, 8], [9, 9], [1, 1]])
        np.testing.assert_array_equal(terms.valid, [1, 1, 1, 0])

    @chex.variants(with_jit=True, without_jit=True)
    def test_n_step_loss_by_hand(self):
        agent = make_agent(n_step_update=2, gamma=0.9)
        hparams = agent.init(jax.random.PRNGKey(0)).hparams
        info = self.variant(agent.loss_fn)(ONLINE, ONLINE, hparams, jax.tree.map(jnp.asarray, n_step_batch()))
        td_error = np.append(N_STEP_TARGETS - N_STEP_Q, 0.0)
        np.testing.assert_allclose(info.extra.td_error, td_error, rtol=1e-5)
        np.testing.assert_allclose(info.extra.td_loss, huber(td_error), rtol=1e-5)
        np.testing.assert_allclose(info.loss, np.mean(huber(td_error)), rtol=1e-5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_periodic_soft_update(self):
        source, target = {"w": jnp.array([2.0, 4.0])}, {"w": jnp.array([0.0, 0.0])}
        update = self.variant(lambda s, t, step: periodic_soft_update(s, t, step, 0.25, 3))
        # TF-Agents' Periodically: the 3rd call (step 2), the 6th (step 5), ...; not the first
        np.testing.assert_allclose(update(source, target, 0)["w"], [0.0, 0.0])
        np.testing.assert_allclose(update(source, target, 1)["w"], [0.0, 0.0])
        np.testing.assert_allclose(update(source, target, 2)["w"], [0.5, 1.0])
        np.testing.assert_allclose(update(source, target, 5)["w"], [0.5, 1.0])
        np.testing.assert_allclose(update(source, target, 6)["w"], [0.0, 0.0])
        np.testing.assert_allclose(soft_variables_update(source, target)["w"], [2.0, 4.0])


# ---------------------------------------------------------------- the DQN loss by hand

def test_one_step_loss_matches_tf_agents():
    agent = make_agent()
    hparams = agent.init(jax.random.PRNGKey(0)).hparams
    info = agent.loss_fn(ONLINE, ONLINE, hparams, jax.tree.map(jnp.asarray, one_step_batch()))
    # Q chosen: 5 and 8; targets 10 + 0.9*17 = 25.3 and 20 + 0.9*23 = 40.7; Huber -> 19.8, 32.2.
    np.testing.assert_allclose(info.extra.td_error, [20.3, 32.7], rtol=1e-5)
    np.testing.assert_allclose(info.extra.td_loss, [19.8, 32.2], rtol=1e-5)
    assert float(info.loss) == pytest.approx(26.0, rel=1e-5)  # TF-Agents' expected value


def test_reward_scale_weights_and_squared_loss():
    agent = make_agent(reward_scale_factor=2.0, td_errors_loss_fn=common.element_wise_squared_loss)
    hparams = agent.init(jax.random.PRNGKey(0)).hparams
    weights = jnp.array([0.5, 0.0])
    info = agent.loss_fn(ONLINE, ONLINE, hparams, jax.tree.map(jnp.asarray, one_step_batch()), weights)
    # Targets 2*10 + 0.9*17 = 35.3 and 2*20 + 0.9*23 = 60.7; errors 30.3 and 52.7.
    np.testing.assert_allclose(info.extra.td_error, [30.3, 52.7], rtol=1e-5)
    np.testing.assert_allclose(info.extra.td_loss, [0.5 * 30.3**2, 0.0], rtol=1e-5)
    # The mean is over the whole batch, zero weights included (TF-Agents' reduction).
    assert float(info.loss) == pytest.approx(0.5 * 30.3**2 / 2, rel=1e-5)


def test_double_dqn_evaluates_the_online_argmax_with_the_target_network():
    target = linear([[1.0, 2.0], [1.0, 1.0]], [0.0, 0.0])  # Q_target([7, 8]) = [15, 22]
    next_observation = jnp.array([[7.0, 8.0]])             # Q_online = [23, 16]: argmax 0
    dqn, ddqn = make_agent(), make_agent(DdqnAgent)
    assert float(dqn.next_q_values(ONLINE, target, next_observation)[0]) == 22.0   # target's own max
    assert float(ddqn.next_q_values(ONLINE, target, next_observation)[0]) == 15.0  # target at online's argmax
    hparams = ddqn.init(jax.random.PRNGKey(0)).hparams
    info = ddqn.loss_fn(ONLINE, target, hparams, jax.tree.map(jnp.asarray, one_step_batch()))
    # Row 1: next [7, 8]: 20 + 0.9*15 - 8; row 0: next [5, 6], online [17, 12] -> target [11, 16][0] = 11.
    np.testing.assert_allclose(info.extra.td_error, [10 + 0.9 * 11 - 5, 20 + 0.9 * 15 - 8], rtol=1e-5)


def test_action_constraints_mask_the_greedy_next_action():
    obs_spec = (OBS_SPEC, ArraySpec((2,), np.int32, name="mask"))
    agent = DqnAgent(time_step_spec(obs_spec), ACTION_SPEC, QNetwork(OBS_SPEC, ACTION_SPEC, fc_layer_params=()),
                     optax.sgd(0.01), observation_and_action_constraint_splitter=lambda o: (o[0], o[1]))
    next_q = agent.next_q_values(ONLINE, ONLINE, (jnp.array([[7.0, 8.0]]), jnp.array([[0, 1]])))
    assert float(next_q[0]) == 16.0  # action 0 (23) is forbidden
    action = agent.policy.action(ONLINE, restart((jnp.array([[7.0, 8.0]]), jnp.array([[0, 1]])), 1)).action
    assert int(action[0]) == 1


# ---------------------------------------------------------------- target updates and training

def test_target_updates_hard_and_soft_at_their_periods():
    experience = one_step_batch()
    for tau, period in ((1.0, 3), (0.5, 2)):
        agent = make_agent(target_update_tau=tau, target_update_period=period)
        agent.initialize()
        expected = agent.state.target_q_params
        for call in range(5):
            agent.train(experience)
            online = agent.state.q_params
            if (call + 1) % period == 0:  # TF-Agents' Periodically: calls period, 2 * period, ...
                expected = jax.tree.map(lambda o, t: (1 - tau) * t + tau * o, online, expected)
            chex.assert_trees_all_close(agent.state.target_q_params, expected, rtol=1e-6)
        assert int(agent.train_step_counter) == 5


def test_target_starts_as_a_copy_of_the_online_network():
    agent = make_agent(target_q_network=QNetwork(OBS_SPEC, ACTION_SPEC, fc_layer_params=()))
    state = agent.init(jax.random.PRNGKey(3))
    chex.assert_trees_all_equal(state.q_params, state.target_q_params)
    with pytest.raises(ValueError, match="same parameters"):
        make_agent(target_q_network=QNetwork(OBS_SPEC, ACTION_SPEC, fc_layer_params=(3,))).init(jax.random.PRNGKey(0))


def test_train_reduces_the_loss_on_a_fixed_batch():
    rng = np.random.default_rng(0)
    batch = Trajectory(step_type=np.ones((32, 2), np.int32), observation=rng.normal(size=(32, 2, 2)).astype(np.float32),
                       action=rng.integers(0, 2, (32, 2)).astype(np.int32), policy_info=(),
                       next_step_type=np.ones((32, 2), np.int32), reward=rng.normal(size=(32, 2)).astype(np.float32),
                       discount=np.ones((32, 2), np.float32))
    agent = DqnAgent(TS_SPEC, ACTION_SPEC, QNetwork(OBS_SPEC, ACTION_SPEC, fc_layer_params=(32,)),
                     optax.adam(1e-2), gamma=0.5, target_update_period=1000, seed=1)
    first = float(agent.train(batch).loss)
    for _ in range(150):
        last = float(agent.train(batch).loss)
    assert last < 0.5 * first
    assert float(agent.loss(batch).loss) < 0.5 * first


def test_with_hyperparameters_vmapped_over_two_learning_rates():
    agent = make_agent(optimizer=optax.inject_hyperparams(optax.sgd)(learning_rate=0.01), gamma=0.9)
    state = agent.init(jax.random.PRNGKey(0))._replace(q_params=ONLINE, target_q_params=ONLINE)
    states = jax.vmap(lambda lr: agent.with_hyperparameters(state, learning_rate=lr, gamma=0.5))(
        jnp.array([0.0, 0.1]))
    np.testing.assert_allclose(agent.hyperparameters(states)["learning_rate"], [0.0, 0.1])
    new, info = jax.jit(jax.vmap(agent.train_step, in_axes=(0, None, None)))(
        states, jax.tree.map(jnp.asarray, one_step_batch()), jax.random.PRNGKey(1))
    kernel = new.q_params["params"]["q_values"]["kernel"]
    np.testing.assert_array_equal(kernel[0], ONLINE["params"]["q_values"]["kernel"])  # lr 0: unchanged
    assert not np.allclose(kernel[1], kernel[0])
    # gamma 0.5 in both (times the discount 0.9): targets 10 + 0.45*17 = 17.65 and 20 + 0.45*23 = 30.35,
    # errors 12.65 and 22.35 -> Huber 12.15 and 21.85.
    np.testing.assert_allclose(info.loss, [17.0, 17.0], rtol=1e-5)
    np.testing.assert_array_equal(new.step, [1, 1])


def test_experience_must_have_n_step_update_plus_one_steps():
    agent = make_agent(n_step_update=3)
    assert agent.train_sequence_length == 4
    with pytest.raises(ValueError, match="train_sequence_length=4"):
        agent.train(one_step_batch())


def test_constructor_errors_name_the_argument():
    with pytest.raises(ValueError, match="not both"):
        make_agent(boltzmann_temperature=1.0)
    with pytest.raises(ValueError, match="minimum 0"):
        DqnAgent(TS_SPEC, BoundedArraySpec((), np.int32, 1, 2), QNetwork(OBS_SPEC, ACTION_SPEC))
    with pytest.raises(ValueError, match="only scalar actions"):
        DqnAgent(TS_SPEC, BoundedArraySpec((2,), np.int32, 0, 1), QNetwork(OBS_SPEC, ACTION_SPEC))
    with pytest.raises(ValueError, match="`gamma`"):
        make_agent(gamma=1.5)
    with pytest.raises(ValueError, match="`target_update_period`"):
        make_agent(target_update_period=0)


def test_network_and_optimizer_may_be_omitted():
    agent = DqnAgent(TS_SPEC, ACTION_SPEC)
    agent.initialize()
    assert agent.q_network.fc_layer_params == (75, 40)
    assert float(agent.hyperparameters(agent.state)["learning_rate"]) == pytest.approx(1e-3)


# ---------------------------------------------------------------- exploration

FOUR_ACTIONS = BoundedArraySpec((), np.int32, 0, 3, name="action")
# Q([a, b]) = [0, 0, 1, 0] + ...: action 2 is greedy everywhere.
FOUR_Q = linear(np.zeros((2, 4)), [0.0, 0.0, 1.0, 0.0])


def frequencies(policy, params, observation, n=20_000, key=0):
    time_step = restart(observation, n)
    actions = np.asarray(jax.jit(policy.action)(params, time_step, (), jax.random.PRNGKey(key)).action)
    return np.bincount(actions, minlength=4) / n


def test_epsilon_greedy_frequencies_with_and_without_constraints():
    q_policy = QPolicy(TS_SPEC, FOUR_ACTIONS, QNetwork(OBS_SPEC, FOUR_ACTIONS, fc_layer_params=()))
    policy = EpsilonGreedyPolicy(q_policy, epsilon=0.4)
    freq = frequencies(policy, EpsilonGreedyParams(FOUR_Q, 0.4), np.zeros((20_000, 2), np.float32))
    np.testing.assert_allclose(freq, [0.1, 0.1, 0.7, 0.1], atol=0.012)
    np.testing.assert_allclose(frequencies(policy, EpsilonGreedyParams(FOUR_Q, 0.0),
                                           np.zeros((20_000, 2), np.float32)), [0, 0, 1, 0])

    spec = (OBS_SPEC, ArraySpec((4,), np.int32, name="mask"))
    masked = EpsilonGreedyPolicy(QPolicy(time_step_spec(spec), FOUR_ACTIONS,
                                         QNetwork(OBS_SPEC, FOUR_ACTIONS, fc_layer_params=()),
                                         observation_and_action_constraint_splitter=lambda o: (o[0], o[1])), 0.4)
    observation = (np.zeros((20_000, 2), np.float32), np.tile(np.array([1, 1, 0, 0], np.int32), (20_000, 1)))
    # Action 2 is forbidden: greedy is action 0 or 1 (tie: argmax takes 0); random picks 0 or 1.
    np.testing.assert_allclose(frequencies(masked, EpsilonGreedyParams(FOUR_Q, 0.4), observation),
                               [0.8, 0.2, 0, 0], atol=0.012)


def test_epsilon_schedule_follows_the_train_step():
    agent = make_agent(epsilon_greedy=optax.linear_schedule(1.0, 0.1, 100))
    state = agent.init(jax.random.PRNGKey(0))
    assert float(agent.collect_policy_params(state).epsilon) == pytest.approx(1.0)
    assert float(agent.collect_policy_params(state._replace(step=jnp.int32(50))).epsilon) == pytest.approx(0.55)
    assert float(agent.collect_policy_params(state._replace(step=jnp.int32(500))).epsilon) == pytest.approx(0.1)
    constant = make_agent(epsilon_greedy=0.2)
    state = constant.with_hyperparameters(constant.init(jax.random.PRNGKey(0)), epsilon_greedy=0.3)
    assert float(constant.collect_policy_params(state).epsilon) == pytest.approx(0.3)


def test_boltzmann_frequencies():
    q_policy = QPolicy(TS_SPEC, ACTION_SPEC, QNetwork(OBS_SPEC, ACTION_SPEC, fc_layer_params=()))
    params = linear(np.zeros((2, 2)), [0.0, np.log(3.0)])
    observation = np.zeros((20_000, 2), np.float32)
    freq = frequencies(BoltzmannPolicy(q_policy, temperature=1.0), params, observation)
    np.testing.assert_allclose(freq[:2], [0.25, 0.75], atol=0.012)
    freq = frequencies(BoltzmannPolicy(q_policy, temperature=0.5), params, observation)
    np.testing.assert_allclose(freq[:2], [0.1, 0.9], atol=0.012)  # logits [0, 2 ln 3]: 1 : 9
    agent = make_agent(epsilon_greedy=None, boltzmann_temperature=0.5)
    assert isinstance(agent.collect_policy, BoltzmannPolicy)


def test_policies_on_the_python_path_and_log_probabilities():
    agent = make_agent(emit_log_probability=True, epsilon_greedy=1.0)
    agent.initialize()
    agent.set_state(agent.state._replace(q_params=ONLINE))
    time_step = restart(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), 2)
    greedy = PyJaxPolicy(agent.policy).action(time_step)
    np.testing.assert_array_equal(greedy.action, [0, 0])
    assert greedy.action.dtype == np.int32
    step = PyJaxPolicy(agent.collect_policy, seed=0).action(time_step)
    assert set(np.asarray(step.action).tolist()) <= {0, 1}
    np.testing.assert_allclose(step.info["log_probability"], np.log(0.5) * np.ones(2), rtol=1e-6)
    assert "log_probability" in agent.collect_data_spec.policy_info


# ---------------------------------------------------------------- configs

def test_config_collection_and_agents():
    config = PRESETS["default"]
    assert config.collection() == Collection(num_envs=8, steps=256, on_policy=False, sample_batch_size=64,
                                             replay_capacity=100_000, initial_collect_steps=1000,
                                             train_steps_per_iteration=128)
    agent = config.make_agent(TS_SPEC, ACTION_SPEC)  # 'default': (128, 128), 5-step, soft target updates
    assert agent.q_network.fc_layer_params == (128, 128) and agent.train_sequence_length == 6
    hparams = agent.hyperparameters(agent.init(jax.random.PRNGKey(0)))
    assert (float(hparams["target_update_tau"]), agent.target_update_period) == (pytest.approx(0.1), 8)
    assert float(hparams["learning_rate"]) == pytest.approx(2e-3)
    tutorial = PRESETS["tutorial"]
    assert (tutorial.env, tutorial.trainer, tutorial.iterations, tuple(tutorial.fc_layer_params)) == (
        "CartPole-v0", "python", 20_000, (100, 50))
    assert tutorial.collection() == Collection(num_envs=1, steps=1, on_policy=False, sample_batch_size=64,
                                               replay_capacity=100_000, initial_collect_steps=100,
                                               train_steps_per_iteration=1)
    agent = tutorial.make_agent(TS_SPEC, ACTION_SPEC)
    assert type(agent) is DqnAgent and agent.td_errors_loss_fn is common.element_wise_squared_loss
    assert agent.train_sequence_length == 2 and agent.target_update_period == 1 and agent.epsilon_greedy == 0.1
    assert agent.hparams["gamma"] == 1.0
    assert type(DDQN_PRESETS["default"].make_agent(TS_SPEC, ACTION_SPEC)) is DdqnAgent
    with pytest.raises(ValueError, match="--n-step-update"):
        DqnConfig(n_step_update=0)
    with pytest.raises(ValueError, match="--collect-steps-per-iteration"):
        dataclasses.replace(config, collect_steps_per_iteration=100)


# ---------------------------------------------------------------- networks

def test_a_sequential_of_flax_layers_is_a_q_network_as_in_the_dqn_tutorial():
    import flax.linen as nn

    from agentax.networks import sequential

    q_net = sequential.Sequential([nn.Sequential([nn.Dense(8), nn.relu]), nn.Dense(2)])
    agent = DqnAgent(TS_SPEC, ACTION_SPEC, q_net, optax.adam(1e-3), seed=0)
    agent.initialize()
    observation = np.asarray([[0.5, -1.0], [2.0, 0.1], [-1.0, 3.0]], np.float32)
    params = agent.state.q_params["params"]
    hidden = np.maximum(observation @ params["layers_0"]["layers_0"]["kernel"] + params["layers_0"]["layers_0"]["bias"], 0)
    q_values = hidden @ params["layers_1"]["kernel"] + params["layers_1"]["bias"]
    np.testing.assert_allclose(q_net.apply(agent.state.q_params, observation), q_values, rtol=1e-5, atol=1e-6)
    action = agent.policy.action(restart(observation, batch_size=3)).action
    np.testing.assert_array_equal(action, np.argmax(q_values, axis=-1))
    with pytest.raises(TypeError, match=r"layers\[1\]"):  # TF-Agents: TypeError for a non-layer
        sequential.Sequential([nn.Dense(2), "relu"])
    with pytest.raises(ValueError, match="non-empty"):
        sequential.Sequential([])


def test_q_networks_on_images_and_dict_observations():
    image = ArraySpec((10, 10, 3), np.uint8, name="image")
    net = QNetwork(image, FOUR_ACTIONS, conv_layer_params=((8, 3, 2), (4, 3, 1)), fc_layer_params=(16,))
    params = net.init(jax.random.PRNGKey(0), np.zeros((1, 10, 10, 3), np.uint8))
    # 10x10 -> 4x4x8 (kernel 3, stride 2) -> 2x2x4 (kernel 3, stride 1) -> 16 -> 4 Q-values.
    assert params["params"]["encoder"]["Dense_0"]["kernel"].shape == (16, 16)
    assert net.apply(params, np.zeros((2, 5, 10, 10, 3), np.uint8)).shape == (2, 5, 4)
    nested = {"position": ArraySpec((2,), np.float32), "count": ArraySpec((), np.int32)}
    net = QNetwork(nested, ACTION_SPEC, fc_layer_params=(8,))
    params = net.init(jax.random.PRNGKey(0), {"position": np.zeros((1, 2)), "count": np.zeros((1,), np.int32)})
    assert params["params"]["encoder"]["Dense_0"]["kernel"].shape == (3, 8)  # 2 + 1 features concatenated
    with pytest.raises(ValueError, match="single image observation"):
        QNetwork(OBS_SPEC, ACTION_SPEC, conv_layer_params=((4, 3, 1),)).init(jax.random.PRNGKey(0), np.zeros((1, 2)))


def test_config_learning_rate_decay_scales_adam_linearly():
    config = DqnConfig(learning_rate_decay=0.5, iterations=2, train_steps_per_iteration=2)
    agent = config.make_agent(TS_SPEC, ACTION_SPEC)
    assert float(agent.hyperparameters(agent.init(jax.random.PRNGKey(0)))["learning_rate"]) == pytest.approx(1e-3)
    params, grads = {"w": jnp.zeros(3)}, {"w": jnp.ones(3)}
    opt_state, sizes = agent.optimizer.init(params), []
    for _ in range(5):  # a constant gradient: Adam's step is the learning rate times the decay factor
        updates, opt_state = agent.optimizer.update(grads, opt_state, params)
        sizes.append(-float(updates["w"][0]))
    np.testing.assert_allclose(sizes, [1e-3, 0.875e-3, 0.75e-3, 0.625e-3, 0.5e-3], rtol=1e-4)
