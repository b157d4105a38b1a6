"""`CriticNetwork` (DDPG/TD3/SAC critic): layer layout, hand-computed values, call forms,
outer dims, TF-Agents' initializers and bad specs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.agents.ddpg.critic_network import CriticNetwork
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec

OBS = ArraySpec((3,), np.float32, name="observation")
ACT = BoundedArraySpec((2,), np.float32, -1.0, 1.0, name="action")


def test_layers_and_shapes():
    net = CriticNetwork((OBS, ACT), observation_fc_layer_params=(8,), action_fc_layer_params=(4,),
                        joint_fc_layer_params=(16, 5))
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((7, 3)), jnp.zeros((7, 2)))
    shapes = jax.tree.map(jnp.shape, params["params"])
    assert shapes["observation_fc_0"]["kernel"] == (3, 8)
    assert shapes["action_fc_0"]["kernel"] == (2, 4)
    assert shapes["joint_fc_0"]["kernel"] == (12, 16)
    assert shapes["joint_fc_1"]["kernel"] == (16, 5)
    assert shapes["value"]["kernel"] == (5, 1)
    obs, act = jnp.ones((7, 3)), jnp.ones((7, 2))
    q = net.apply(params, (obs, act))  # TF-Agents' call form
    np.testing.assert_array_equal(q, net.apply(params, obs, act))
    assert q.shape == (7,)
    assert net.apply(params, obs[0], act[0]).shape == ()          # unbatched
    assert net.apply(params, jnp.ones((2, 4, 3)), jnp.ones((2, 4, 2))).shape == (2, 4)
    # TF-Agents' initializers: value kernel uniform in +-0.003, biases zero
    assert float(jnp.max(jnp.abs(params["params"]["value"]["kernel"]))) <= 0.003
    assert float(jnp.max(jnp.abs(params["params"]["joint_fc_0"]["bias"]))) == 0.0
    # VarianceScaling(1/3, fan_in, uniform): |w| <= sqrt(3 * (1/3) / fan_in) = 1/sqrt(12)
    assert float(jnp.max(jnp.abs(params["params"]["joint_fc_0"]["kernel"]))) <= 1 / np.sqrt(12) + 1e-6


def test_value_by_hand():
    """No hidden layers: Q = [obs, act] @ w + b, then the output activation."""
    net = CriticNetwork((OBS, ACT), output_activation_fn=jnp.tanh)
    w = jnp.asarray([[1.0], [2.0], [3.0], [-1.0], [0.5]])
    params = {"params": {"value": {"kernel": w, "bias": jnp.asarray([0.25])}}}
    q = net.apply(params, jnp.asarray([[1.0, 0.0, -1.0]]), jnp.asarray([[2.0, 2.0]]))
    np.testing.assert_allclose(q, np.tanh([1 - 3 - 2 + 1 + 0.25]), rtol=1e-6)


def test_observation_nest_and_int_observation():
    spec = {"a": ArraySpec((2,), np.float32), "b": ArraySpec((), np.int32)}
    net = CriticNetwork((spec, ACT), joint_fc_layer_params=(4,))
    obs = {"a": jnp.ones((3, 2)), "b": jnp.arange(3, dtype=jnp.int32)}
    params = net.init(jax.random.PRNGKey(1), obs, jnp.zeros((3, 2)))
    assert params["params"]["joint_fc_0"]["kernel"].shape == (5, 4)


def test_bad_specs_and_calls():
    with pytest.raises(ValueError, match="input_tensor_spec"):
        CriticNetwork(OBS).init(jax.random.PRNGKey(0), jnp.zeros((1, 3)), jnp.zeros((1, 2)))
    discrete = BoundedArraySpec((), np.int32, 0, 1)
    with pytest.raises(ValueError, match="continuous"):
        CriticNetwork((OBS, discrete)).init(jax.random.PRNGKey(0), jnp.zeros((1, 3)), jnp.zeros((1,)))
    with pytest.raises(ValueError, match="single action"):
        CriticNetwork((OBS, (ACT, ACT))).init(jax.random.PRNGKey(0), jnp.zeros((1, 3)), jnp.zeros((1, 2)))
    with pytest.raises(TypeError, match="observation, action"):
        CriticNetwork((OBS, ACT)).init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))
