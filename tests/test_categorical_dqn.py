"""C51: `project_distribution` and the critic loss against TF-Agents' own hand-worked values;
policies, boundaries, jitted and not; config."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agentax.agents.categorical_dqn.categorical_dqn_agent import CategoricalDqnAgent, project_distribution
from agentax.agents.categorical_dqn.config import PRESETS
from agentax.networks import CategoricalQNetwork, QNetwork
from agentax.policies.categorical_q_policy import CategoricalQPolicy
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import Trajectory, restart, time_step_spec
from agentax.train.config import Collection

F, M, L = 0, 1, 2
OBS_SPEC = ArraySpec((2,), np.float32, name="observation")
ACTION_SPEC = BoundedArraySpec((), np.int32, 0, 1, name="action")
MASK_SPEC = ArraySpec((2,), np.int32, name="mask")

# TF-Agents' DummyCategoricalNet: one dense layer to 2 x 51 logits, kernel rows
# [0, 1, ..., 50, 1, ..., 1] and [1, ..., 1], bias 1.
DUMMY = {"params": {"q_values": {
    "kernel": jnp.asarray(np.stack([np.concatenate([np.arange(51), np.ones(51)]), np.ones(102)]), jnp.float32),
    "bias": jnp.ones(102, jnp.float32)}}}


def dummy_agent(observation_spec=OBS_SPEC, **kwargs):
    net = CategoricalQNetwork(OBS_SPEC, ACTION_SPEC, fc_layer_params=())
    return CategoricalDqnAgent(time_step_spec(observation_spec), ACTION_SPEC, net, optax.sgd(0.01), **kwargs)


def tf_agents_batch(observation=None, next_observation=None, n_step=False):
    """TF-Agents' test transitions: observations [1, 2], [3, 4] -> [5, 6], [7, 8], actions 0 and 1,
    rewards 10 and 20, discounts 0.9 (with n_step: a third frame [9, 10], [11, 12], same rewards)."""
    observation = np.array([[1, 2], [3, 4]], np.float32) if observation is None else observation
    next_observation = np.array([[5, 6], [7, 8]], np.float32) if next_observation is None else next_observation
    frames = [observation, next_observation]
    if n_step:
        frames.append(np.array([[9, 10], [11, 12]], np.float32))
    t = len(frames)
    return Trajectory(step_type=np.array([[F] + [M] * (t - 1)] * 2, np.int32),
                      observation=jax.tree.map(lambda *x: np.stack(x, axis=1), *frames),
                      action=np.tile(np.array([[0], [1]], np.int32), (1, t)), policy_info=(),
                      next_step_type=np.full((2, t), M, np.int32),
                      reward=np.tile(np.array([[10], [20]], np.float32), (1, t)),
                      discount=np.full((2, t), 0.9, np.float32))


class ProjectionTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_the_docstring_example(self):
        # TF-Agents' (and Dopamine's) running example; atoms 0 and 2 lie below the support [4, 8].
        supports = jnp.array([[0, 2, 4, 6, 8], [1, 3, 4, 5, 6]], jnp.float32)
        weights = jnp.array([[0.1, 0.6, 0.1, 0.1, 0.1], [0.1, 0.2, 0.5, 0.1, 0.1]])
        projected = self.variant(project_distribution)(supports, weights, jnp.array([4, 5, 6, 7, 8.0]))
        np.testing.assert_allclose(projected, [[0.8, 0.0, 0.1, 0.0, 0.1], [0.8, 0.1, 0.1, 0.0, 0.0]], atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_atoms_between_and_above_the_support(self):
        # 4.5 splits evenly between 4 and 5; 7.25 goes 3/4 to 7 and 1/4 to 8; 9 and 12 clip to 8.
        supports = jnp.array([[4.5, 7.25, 9.0, 12.0, 4.0]])
        weights = jnp.array([[0.2, 0.4, 0.1, 0.1, 0.2]])
        projected = self.variant(project_distribution)(supports, weights, jnp.array([4, 5, 6, 7, 8.0]))
        np.testing.assert_allclose(projected, [[0.2 + 0.1, 0.1, 0.0, 0.3, 0.1 + 0.2]], atol=1e-6)
        assert float(jnp.sum(projected)) == pytest.approx(1.0)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="evenly spaced"):
            project_distribution(jnp.zeros((1, 3)), jnp.zeros((1, 3)), jnp.array([0.0, 1.0, 3.0]), validate_args=True)
        with pytest.raises(ValueError, match="same shape"):
            project_distribution(jnp.zeros((1, 3)), jnp.zeros((1, 4)), jnp.array([0.0, 1.0, 2.0]))


@pytest.mark.parametrize("jit", [False, True])
def test_critic_loss_matches_tf_agents(jit):
    agent = dummy_agent()
    hparams = agent.init(jax.random.PRNGKey(0)).hparams
    loss_fn = jax.jit(agent.loss_fn) if jit else agent.loss_fn
    info = loss_fn(DUMMY, DUMMY, hparams, jax.tree.map(jnp.asarray, tf_agents_batch()))
    assert float(info.loss) == pytest.approx(2.19525, abs=1e-4)  # TF-Agents' testCriticLoss


def test_critic_loss_with_masked_actions_matches_tf_agents():
    agent = dummy_agent((OBS_SPEC, MASK_SPEC), observation_and_action_constraint_splitter=lambda o: (o[0], o[1]))
    hparams = agent.init(jax.random.PRNGKey(0)).hparams
    batch = tf_agents_batch((np.array([[1, 2], [3, 4]], np.float32), np.array([[1, 0], [0, 1]], np.int32)),
                            (np.array([[5, 6], [7, 8]], np.float32), np.array([[0, 1], [1, 0]], np.int32)))
    info = agent.loss_fn(DUMMY, DUMMY, hparams, jax.tree.map(jnp.asarray, batch))
    assert float(info.loss) == pytest.approx(5.062895, abs=1e-4)  # TF-Agents' testCriticLossWithMaskedActions


def test_n_step_critic_loss_matches_tf_agents():
    agent = dummy_agent(n_step_update=2)
    hparams = agent.init(jax.random.PRNGKey(0)).hparams
    info = agent.loss_fn(DUMMY, DUMMY, hparams, jax.tree.map(jnp.asarray, tf_agents_batch(n_step=True)))
    assert float(info.loss) == pytest.approx(2.19525, abs=1e-4)  # TF-Agents' testCriticLossNStep


def test_boundaries_are_masked_and_weights_scale_each_element():
    agent = dummy_agent()
    hparams = agent.init(jax.random.PRNGKey(0)).hparams
    batch = jax.tree.map(jnp.asarray, tf_agents_batch())
    full = agent.loss_fn(DUMMY, DUMMY, hparams, batch)
    boundary = batch._replace(step_type=batch.step_type.at[1, 0].set(L))
    masked = agent.loss_fn(DUMMY, DUMMY, hparams, boundary)
    np.testing.assert_allclose(masked.extra.td_loss, [full.extra.td_loss[0], 0.0], rtol=1e-6)
    weighted = agent.loss_fn(DUMMY, DUMMY, hparams, batch, jnp.array([2.0, 0.0]))
    assert float(weighted.loss) == pytest.approx(float(full.extra.td_loss[0]), rel=1e-6)  # (2 x + 0) / 2


def test_policy_maximises_the_mean_of_each_distribution():
    agent = dummy_agent()
    agent.initialize()
    agent.set_state(agent.state._replace(q_params=DUMMY))
    # Action 0's logits rise with the atom index: its mean is higher.
    action = agent.policy.action(restart(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), 2)).action
    np.testing.assert_array_equal(action, [0, 0])
    policy = agent.policy.wrapped_policy
    assert isinstance(policy, CategoricalQPolicy)
    q = policy.masked_q_values(DUMMY, jnp.array([[1.0, 2.0]]))
    probs = jax.nn.softmax(CategoricalQNetwork(OBS_SPEC, ACTION_SPEC, fc_layer_params=()).apply(
        DUMMY, jnp.array([[1.0, 2.0]])))
    np.testing.assert_allclose(q, jnp.sum(probs * jnp.linspace(-10, 10, 51), -1), rtol=1e-5)


def test_train_step_updates_and_counts():
    agent = dummy_agent(target_update_period=2)
    agent.initialize()
    before = agent.state.q_params
    info = agent.train(tf_agents_batch())
    assert np.isfinite(float(info.loss)) and int(agent.train_step_counter) == 1
    assert not np.allclose(agent.state.q_params["params"]["q_values"]["kernel"], before["params"]["q_values"]["kernel"])
    # period 2: the first call leaves the target (a copy of the initial online network), the second updates it
    chex.assert_trees_all_close(agent.state.target_q_params, before)
    agent.train(tf_agents_batch())
    chex.assert_trees_all_close(agent.state.target_q_params, agent.state.q_params)


def test_network_checks():
    with pytest.raises(TypeError, match="num_atoms"):
        CategoricalDqnAgent(time_step_spec(OBS_SPEC), ACTION_SPEC, QNetwork(OBS_SPEC, ACTION_SPEC))
    with pytest.raises(ValueError, match="different numbers of atoms"):
        CategoricalDqnAgent(time_step_spec(OBS_SPEC), ACTION_SPEC, CategoricalQNetwork(OBS_SPEC, ACTION_SPEC),
                            target_categorical_q_network=CategoricalQNetwork(OBS_SPEC, ACTION_SPEC, num_atoms=11))
    with pytest.raises(ValueError, match="min_q_value"):
        dummy_agent(min_q_value=1.0, max_q_value=1.0)
    agent = CategoricalDqnAgent(time_step_spec(OBS_SPEC), ACTION_SPEC)
    assert agent.q_network.num_atoms == 51 and agent.q_network.fc_layer_params == (200,)


def test_config():
    config = PRESETS["default"]
    assert config.collection() == Collection(num_envs=8, steps=256, on_policy=False, sample_batch_size=64,
                                             replay_capacity=100_000, initial_collect_steps=1000,
                                             train_steps_per_iteration=128)
    agent = config.make_agent(time_step_spec(OBS_SPEC), ACTION_SPEC)
    assert isinstance(agent, CategoricalDqnAgent)
    np.testing.assert_allclose([agent.support[0], agent.support[-1]], [config.min_q_value, config.max_q_value])
    with pytest.raises(ValueError, match="--max-q-value"):
        type(config)(min_q_value=5.0, max_q_value=1.0)
