"""GaussianPolicy and OUNoisePolicy (TD3's and DDPG's collect policies) and the DDPG actor's
policies: noise statistics, the OU recursion against a hand recursion, episode resets, and
actions inside the spec's bounds for random parameters and extreme inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.agents.ddpg.actor_network import ActorNetwork
from agentax.policies.actor_policy import ActorPolicy
from agentax.policies.gaussian_policy import GaussianPolicy
from agentax.policies.ou_noise_policy import OUNoisePolicy
from agentax.policies.py_jax_policy import PyJaxPolicy
from agentax.policies.q_policy import QPolicy
from agentax.networks.q_network import QNetwork
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts

OBS = array_spec.BoundedArraySpec((3,), np.float32, -1.0, 1.0, name="observation")
ACT = array_spec.BoundedArraySpec((2,), np.float32, [-2.0, 0.5], [2.0, 3.0], name="action")
WIDE = array_spec.BoundedArraySpec((2,), np.float32, -1e6, 1e6, name="action")


def _time_steps(observation, step_type=ts.StepType.MID):
    observation = jnp.asarray(observation, jnp.float32)
    batch = observation.shape[0]
    return ts.TimeStep(jnp.full((batch,), step_type, jnp.int32), jnp.zeros((batch,), jnp.float32),
                       jnp.ones((batch,), jnp.float32), observation)


def _actor(action_spec=ACT, layers=(8,)):
    network = ActorNetwork(OBS, action_spec, fc_layer_params=layers)
    return network, network.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))


def test_actor_network_scales_tanh_into_the_bounds():
    network, params = _actor()
    params = jax.tree.map(lambda x: x * 1000.0, params)  # saturate tanh
    actions = network.apply(params, jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (64, 3)), jnp.float32))
    assert actions.shape == (64, 2)
    assert np.all(actions >= np.asarray(ACT.minimum)) and np.all(actions <= np.asarray(ACT.maximum))
    # zero weights: the middle of the range
    zeros = jax.tree.map(jnp.zeros_like, params)
    np.testing.assert_allclose(network.apply(zeros, jnp.ones((1, 3))), [[0.0, 1.75]], atol=1e-6)
    # unbatched observations give unbatched actions
    assert network.apply(params, jnp.ones((3,))).shape == (2,)


def test_actor_network_refuses_discrete_or_several_actions():
    with pytest.raises(ValueError, match="float actions"):
        ActorNetwork(OBS, array_spec.BoundedArraySpec((), np.int32, 0, 3)).init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="single action"):
        ActorNetwork(OBS, (ACT, ACT)).init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))


def test_gaussian_noise_has_the_scale_and_zero_mean():
    network, params = _actor(WIDE)
    policy = GaussianPolicy(ActorPolicy(ts.time_step_spec(OBS), WIDE, network, clip=False), scale=0.7)
    time_steps = _time_steps(np.zeros((20_000, 3)))
    greedy = network.apply(params, time_steps.observation)
    noise = np.asarray(policy.action(params, time_steps, (), jax.random.PRNGKey(3)).action - greedy)
    assert abs(noise.mean()) < 0.02 and abs(noise.std() - 0.7) < 0.02
    # scale 0: the wrapped policy's action
    still = GaussianPolicy(ActorPolicy(ts.time_step_spec(OBS), WIDE, network, clip=False), scale=0.0)
    np.testing.assert_array_equal(still.action(params, time_steps, (), jax.random.PRNGKey(3)).action, greedy)


def _noise_run(policy, params, step_types, key):
    """Noise (action - actor action) and state over a sequence of [1]-batched steps."""
    state = policy.get_initial_state(1)
    noises, states = [], []
    for t, step_type in enumerate(step_types):
        time_step = _time_steps(np.zeros((1, 3)), step_type)
        step = policy.action(params, time_step, state, jax.random.fold_in(key, t))
        noises.append(np.asarray(step.action - policy.wrapped_policy.actor_network.apply(params, time_step.observation)))
        state = step.state
        states.append(np.asarray(state[1]))
    return np.concatenate(noises), np.concatenate(states)


def test_ou_noise_follows_the_hand_recursion_and_restarts_each_episode():
    network, params = _actor(WIDE)
    wrapped = ActorPolicy(ts.time_step_spec(OBS), WIDE, network, clip=False)
    steps = [ts.StepType.FIRST] + [ts.StepType.MID] * 5 + [ts.StepType.LAST, ts.StepType.FIRST, ts.StepType.MID]
    key = jax.random.PRNGKey(7)
    # damping 1, stddev 1: the noise is the raw N(0, 1) draw of each step
    eps, _ = _noise_run(OUNoisePolicy(wrapped, ou_stddev=1.0, ou_damping=1.0), params, steps, key)
    damping, stddev = 0.15, 0.3
    noise, states = _noise_run(OUNoisePolicy(wrapped, ou_stddev=stddev, ou_damping=damping), params, steps, key)
    x, expected = np.zeros(2), []
    for t, step_type in enumerate(steps):
        if step_type == ts.StepType.FIRST:
            x = np.zeros(2)  # a new episode restarts the process
        x = (1.0 - damping) * x + stddev * eps[t]
        expected.append(x)
    np.testing.assert_allclose(noise, np.asarray(expected), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(states, np.asarray(expected), rtol=1e-4, atol=1e-5)


def test_ou_policy_state_spec_and_stateless_call():
    network, params = _actor()
    policy = OUNoisePolicy(ActorPolicy(ts.time_step_spec(OBS), ACT, network, clip=False), 0.2, 0.15)
    assert policy.policy_state_spec[0] == ()
    assert policy.policy_state_spec[1].shape == (2,)
    assert policy.get_initial_state(4)[1].shape == (4, 2)
    # no state given: the process starts at 0
    step = policy.action(params, _time_steps(np.zeros((4, 3))), (), jax.random.PRNGKey(0))
    assert step.state[1].shape == (4, 2)


@pytest.mark.parametrize("make", ["actor", "gaussian", "ou"])
def test_every_action_is_inside_the_bounds(make):
    rng = np.random.default_rng(1)
    extremes = np.concatenate([rng.uniform(-1, 1, (16, 3)), np.full((4, 3), 1e30), np.full((4, 3), -1e30),
                               np.array([[1e30, -1e30, 0.0], [0.0, 0.0, 0.0]])]).astype(np.float32)
    for seed in range(4):
        network = ActorNetwork(OBS, ACT, fc_layer_params=(16, 16))
        params = network.init(jax.random.PRNGKey(seed), jnp.zeros((1, 3)))
        params = jax.tree.map(lambda x: x * 10.0 ** seed, params)  # from TF-Agents' init to huge weights
        actor = ActorPolicy(ts.time_step_spec(OBS), ACT, network, clip=make == "actor")
        for scale in (0.1, 10.0, 1e6):
            policy = {"actor": actor, "gaussian": GaussianPolicy(actor, scale=scale),
                      "ou": OUNoisePolicy(actor, ou_stddev=scale, ou_damping=0.0)}[make]
            state = policy.get_initial_state(len(extremes))
            for t in range(3):
                step = policy.action(params, _time_steps(extremes), state, jax.random.PRNGKey(100 * seed + t))
                state = step.state
                action = np.asarray(step.action)
                assert np.all(np.isfinite(action))
                assert np.all(action >= np.asarray(ACT.minimum)) and np.all(action <= np.asarray(ACT.maximum)), (
                    make, seed, scale)


def test_noise_policies_run_from_python_on_unbatched_steps():
    network, params = _actor()
    policy = OUNoisePolicy(ActorPolicy(ts.time_step_spec(OBS), ACT, network, clip=False), 5.0, 0.0)
    policy.params = params
    py_policy = PyJaxPolicy(policy)
    state = py_policy.get_initial_state()
    time_step = ts.TimeStep(np.asarray(ts.StepType.FIRST, np.int32), np.float32(0), np.float32(1),
                            np.zeros(3, np.float32))
    for _ in range(5):
        step = py_policy.action(time_step, state)
        state = step.state
        assert step.action.shape == (2,) and step.action.dtype == np.float32
        assert np.all(step.action >= ACT.minimum) and np.all(step.action <= ACT.maximum)
        time_step = time_step._replace(step_type=np.asarray(ts.StepType.MID, np.int32))


def test_bad_arguments_are_refused():
    network, _ = _actor()
    actor = ActorPolicy(ts.time_step_spec(OBS), ACT, network, clip=False)
    with pytest.raises(ValueError, match="`scale`"):
        GaussianPolicy(actor, scale=-1.0)
    with pytest.raises(ValueError, match="`ou_damping`"):
        OUNoisePolicy(actor, ou_stddev=0.2, ou_damping=1.5)
    with pytest.raises(ValueError, match="`ou_stddev`"):
        OUNoisePolicy(actor, ou_stddev=float("nan"))
    with pytest.raises(TypeError, match="JaxPolicy"):
        GaussianPolicy(object(), scale=0.1)
    discrete = array_spec.BoundedArraySpec((), np.int32, 0, 2)
    q_policy = QPolicy(ts.time_step_spec(OBS), discrete, QNetwork(OBS, discrete))
    with pytest.raises(ValueError, match="continuous"):
        GaussianPolicy(q_policy, scale=0.1)
    with pytest.raises(ValueError, match="continuous"):
        OUNoisePolicy(q_policy)
