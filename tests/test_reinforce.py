"""REINFORCE: the loss against hand-computed values, policies, learning, determinism."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agentax.agents import ReinforceAgent
from agentax.networks import ActorDistributionNetwork, ValueNetwork
from agentax.policies.actor_policy import ActorPolicy, GreedyPolicy
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import Trajectory, time_step_spec
from agentax.agents.reinforce.config import PRESETS
from agentax.train.compiled_trainer import CompiledTrainer

OBS_SPEC = ArraySpec((4,), np.float32, name="observation")
ACTION_SPEC = BoundedArraySpec((), np.int32, 0, 1, name="action")
LP0, LP1 = np.log(0.25), np.log(0.75)  # the fixed policy below: P(action 1) = 0.75
HPARAMS = {"gamma": 1.0, "entropy_regularization": 0.0, "value_estimation_loss_coef": 0.2}


def fixed_agent(normalize_returns, baseline, value=0.5):
    """Linear actor with zero kernel and bias [0, log 3]; linear value net = `value`."""
    actor = ActorDistributionNetwork(OBS_SPEC, ACTION_SPEC, fc_layer_params=())
    value_net = ValueNetwork(OBS_SPEC, fc_layer_params=()) if baseline else None
    agent = ReinforceAgent(time_step_spec(OBS_SPEC), ACTION_SPEC, actor, optax.sgd(0.1),
                           normalize_returns=normalize_returns, value_network=value_net)
    actor_params = {"params": {"logits": {"kernel": jnp.zeros((4, 2)), "bias": jnp.array([0.0, np.log(3.0)])}}}
    value_params = ({"params": {"Dense_0": {"kernel": jnp.zeros((4, 1)), "bias": jnp.array([value])}}}
                    if baseline else None)
    return agent, actor_params, value_params


def tiny_batch():
    """Row 0: an episode of 2 steps, its boundary, then a trailing partial episode.
    Row 1: an episode of 4 steps."""
    F, M, L = 0, 1, 2
    return Trajectory(
        step_type=np.array([[F, M, L, F], [F, M, M, M]], np.int32),
        observation=np.zeros((2, 4, 4), np.float32),
        action=np.array([[1, 0, 1, 1], [0, 1, 1, 0]], np.int32),
        policy_info=(),
        next_step_type=np.array([[M, L, F, M], [M, M, M, L]], np.int32),
        reward=np.array([[1, 1, 0, 1], [1, 1, 1, 1]], np.float32),
        discount=np.array([[1, 0, 1, 1], [1, 1, 1, 0]], np.float32),
    )


# Returns-to-go, restarting at each LAST: row 0 [2, 1, 1, 1], row 1 [4, 3, 2, 1].
# Valid steps (not boundary, not the trailing partial episode): row 0 t0, t1; row 1 all.
# Log-probabilities of the actions taken: row 0 [LP1, LP0], row 1 [LP0, LP1, LP1, LP0].
RETURNS = np.array([[2, 1, 1, 1], [4, 3, 2, 1]], np.float64)
VALID = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.float64)
LOG_PROBS = np.array([[LP1, LP0, LP1, LP1], [LP0, LP1, LP1, LP0]])
NUM_EPISODES = 2


def expected_pg(advantages):
    return -np.sum(LOG_PROBS * advantages * VALID) / NUM_EPISODES


def normalized(x):
    return (x - x.mean()) / (x.std() + np.finfo(np.float32).eps)


@pytest.mark.parametrize("normalize", [False, True])
def test_loss_without_baseline_matches_hand_computation(normalize):
    agent, actor_params, _ = fixed_agent(normalize, baseline=False)
    info = agent.loss_fn(actor_params, None, HPARAMS, jax.tree.map(jnp.asarray, tiny_batch()))
    advantages = normalized(RETURNS) if normalize else RETURNS
    # Without normalization: -(2*LP1 + 1*LP0 + 4*LP0 + 3*LP1 + 2*LP1 + 1*LP0) / 2
    if not normalize:
        assert expected_pg(advantages) == pytest.approx(-(6 * LP0 + 7 * LP1) / 2)
    assert float(info.loss) == pytest.approx(expected_pg(advantages), rel=1e-5)
    assert float(info.extra.value_estimation_loss) == 0.0


@pytest.mark.parametrize("normalize", [False, True])
def test_loss_with_value_baseline_matches_hand_computation(normalize):
    value = 0.5
    agent, actor_params, value_params = fixed_agent(normalize, baseline=True, value=value)
    info = agent.loss_fn(actor_params, value_params, HPARAMS, jax.tree.map(jnp.asarray, tiny_batch()))
    advantages = RETURNS - value
    if normalize:
        advantages = normalized(advantages)
    value_loss = 0.2 * np.sum((RETURNS - value) ** 2 * VALID) / NUM_EPISODES
    assert float(info.extra.policy_gradient_loss) == pytest.approx(expected_pg(advantages), rel=1e-5)
    assert float(info.extra.value_estimation_loss) == pytest.approx(value_loss, rel=1e-5)
    assert float(info.loss) == pytest.approx(expected_pg(advantages) + value_loss, rel=1e-5)


def test_padding_weights_leave_the_loss_unchanged():
    agent, actor_params, _ = fixed_agent(True, baseline=False)
    batch = tiny_batch()
    padded = jax.tree.map(lambda x: np.concatenate([x, np.zeros_like(x[:, :3])], axis=1), batch)
    padded = padded._replace(step_type=padded.step_type.copy())
    padded.step_type[:, 4:] = 2  # padding is boundary-like: LAST -> FIRST
    weights = np.concatenate([np.ones((2, 4)), np.zeros((2, 3))], axis=1).astype(np.float32)
    plain = agent.loss_fn(actor_params, None, HPARAMS, jax.tree.map(jnp.asarray, batch))
    masked = agent.loss_fn(actor_params, None, HPARAMS, jax.tree.map(jnp.asarray, padded), jnp.asarray(weights))
    assert float(masked.loss) == pytest.approx(float(plain.loss), rel=1e-5)


def test_train_rejects_experience_without_a_complete_episode():
    agent, _, _ = fixed_agent(True, baseline=False)
    agent.initialize()
    batch = tiny_batch()
    with pytest.raises(ValueError, match="no complete episode"):
        agent.train(batch._replace(next_step_type=np.ones_like(batch.next_step_type)))
    info = agent.train(batch)
    assert np.isfinite(float(info.loss)) and agent.train_step_counter == 1


def test_greedy_is_deterministic_and_collect_samples_the_right_frequencies():
    _, actor_params, _ = fixed_agent(True, baseline=False)
    actor = ActorDistributionNetwork(OBS_SPEC, ACTION_SPEC, fc_layer_params=())
    collect = ActorPolicy(time_step_spec(OBS_SPEC), ACTION_SPEC, actor, actor_params, emit_log_probability=True)
    greedy = GreedyPolicy(collect)
    n = 20_000
    time_step = time_step_spec(OBS_SPEC)._replace(
        step_type=jnp.zeros((n,), jnp.int32), reward=jnp.zeros((n,)), discount=jnp.ones((n,)),
        observation=jnp.zeros((n, 4)))
    sampled = collect.action(actor_params, time_step, (), jax.random.PRNGKey(0))
    assert float(jnp.mean(sampled.action)) == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(sampled.info["log_probability"],
                               np.where(np.asarray(sampled.action) == 1, LP1, LP0), rtol=1e-5)
    for seed in range(3):
        greedy_action = greedy.action(actor_params, time_step, (), jax.random.PRNGKey(seed)).action
        assert (np.asarray(greedy_action) == 1).all()


def test_compiled_training_learns_is_deterministic_and_vmaps_over_seeds():
    config = dataclasses.replace(PRESETS["default"], iterations=30, collect_episodes_per_iteration=16,
                                 learning_rate=1e-2, num_eval_episodes=8)
    curves = []
    for chunks in ((30,), (10, 20)):  # seeds 0 and 1 at once (vmap), twice; the second in two chunks
        trainer = CompiledTrainer(config, num_seeds=2)
        trainer.initialize()
        for count in chunks:
            losses = trainer.run(count)
        curves.append((trainer.evaluate_now(), losses, trainer.state.agent.actor_params))
    (after2, losses2, params2), (after1, losses1, params1) = curves
    assert after2.shape == (2,) and losses2.shape == (2,)
    # Same seeds, same run, bit for bit, however the iterations are chunked.
    np.testing.assert_array_equal(losses1, losses2)
    jax.tree.map(np.testing.assert_array_equal, params1, params2)
    assert losses2[0] != losses2[1]
    # A random policy averages ~22 on CartPole; 30 updates lift every seed well above it.
    assert (after2 > 100).all()


def test_hyperparameters_live_in_the_state_and_vmap():
    agent, _, _ = fixed_agent(True, baseline=True)
    agent = PRESETS["default"].make_agent(agent.time_step_spec, agent.action_spec)
    state = agent.init(jax.random.PRNGKey(0))
    assert agent.hyperparameters(state) == pytest.approx(
        {"gamma": 1.0, "entropy_regularization": 0.0, "value_estimation_loss_coef": 0.2, "learning_rate": 5e-3})
    lrs = jnp.array([0.0, 1e-2])
    states = jax.vmap(lambda lr: agent.with_hyperparameters(state, learning_rate=lr, gamma=0.9))(lrs)
    batch = jax.tree.map(jnp.asarray, tiny_batch())
    new, _ = jax.vmap(lambda s: agent.train_step(s, batch, None))(states)
    moved = [float(jnp.abs(new.actor_params["params"]["logits"]["bias"][i]
                           - state.actor_params["params"]["logits"]["bias"]).max()) for i in range(2)]
    assert moved[0] == 0.0 and moved[1] > 0.0  # learning rate 0 leaves the parameters alone
    np.testing.assert_allclose(new.hparams["gamma"], [0.9, 0.9])
    with pytest.raises(ValueError, match="unknown hyperparameter `lr`"):
        agent.with_hyperparameters(state, lr=1.0)


@pytest.mark.parametrize("jitted", [False, True])
def test_pure_train_step_jitted_and_not(jitted):
    import chex

    agent, _, _ = fixed_agent(False, baseline=True)
    state = agent.init(jax.random.PRNGKey(0))
    step = jax.jit(agent.train_step) if jitted else agent.train_step
    batch = jax.tree.map(jnp.asarray, tiny_batch())
    new, info = step(state, batch, None, jnp.ones((2, 4)))
    chex.assert_trees_all_equal_shapes_and_dtypes(new.actor_params, state.actor_params)
    chex.assert_shape(info.loss, ())
    assert int(new.step) == 1
    reference, reference_info = agent.train_step(state, batch, None, jnp.ones((2, 4)))
    chex.assert_trees_all_close(new.actor_params, reference.actor_params, rtol=1e-5)
    assert float(info.loss) == pytest.approx(float(reference_info.loss), rel=1e-5)
