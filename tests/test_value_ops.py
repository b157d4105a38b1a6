"""value_ops: discounted returns and GAE against hand-computed arrays (TF-Agents' formulas), both layouts, jitted."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.utils.value_ops import discounted_return, generalized_advantage_estimation

# Batch-major [B=2, T=4]. Row 0 ends an episode in the middle (discount 0 at t=1); row 1 does not.
REWARDS = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]], np.float32)
DISCOUNTS = np.array([[0.9, 0.0, 0.9, 0.9], [0.5, 0.5, 0.5, 0.5]], np.float32)
FINAL = np.array([10.0, 0.0], np.float32)
# G_t = r_t + d_t G_{t+1}, G_T = final value:
#   row 0: G3 = 4 + .9*10 = 13, G2 = 3 + .9*13 = 14.7, G1 = 2 + 0 = 2, G0 = 1 + .9*2 = 2.8
#   row 1: 1, 1.5, 1.75, 1.875 backwards
RETURNS = np.array([[2.8, 2.0, 14.7, 13.0], [1.875, 1.75, 1.5, 1.0]])
RETURNS_NO_FINAL = np.array([[2.8, 2.0, 6.6, 4.0], [1.875, 1.75, 1.5, 1.0]])  # row 0: G3 = 4, G2 = 3 + 3.6
VALUES = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]], np.float32)
# delta_t = r_t + d_t V_{t+1} - V_t (V_T = final); A_t = delta_t + d_t lambda A_{t+1}, lambda = 0.5:
#   row 0: deltas 1.8, 0, 3.6, 9 -> A3 = 9, A2 = 3.6 + .45*9 = 7.65, A1 = 0 (discount 0 cuts), A0 = 1.8
#   row 1: deltas 1 -> A3 = 1, A2 = 1.25, A1 = 1.3125, A0 = 1.328125
ADVANTAGES = np.array([[1.8, 0.0, 7.65, 9.0], [1.328125, 1.3125, 1.25, 1.0]])


@pytest.mark.parametrize("jit", [False, True])
def test_discounted_return_batch_major_and_time_major(jit):
    fn = jax.jit(discounted_return, static_argnames=("time_major", "provide_all_returns")) if jit else discounted_return
    np.testing.assert_allclose(fn(REWARDS, DISCOUNTS, FINAL, time_major=False), RETURNS, rtol=1e-6)
    np.testing.assert_allclose(fn(REWARDS.T, DISCOUNTS.T, FINAL, time_major=True), RETURNS.T, rtol=1e-6)
    np.testing.assert_allclose(fn(REWARDS, DISCOUNTS, None, time_major=False), RETURNS_NO_FINAL, rtol=1e-6)
    np.testing.assert_allclose(fn(REWARDS, DISCOUNTS, FINAL, time_major=False, provide_all_returns=False),
                               RETURNS[:, 0], rtol=1e-6)
    np.testing.assert_allclose(fn(REWARDS.T, DISCOUNTS.T, FINAL, provide_all_returns=False), RETURNS[:, 0], rtol=1e-6)


def test_discounted_return_of_one_row_and_its_gradient_is_stopped():
    np.testing.assert_allclose(discounted_return(REWARDS[0], DISCOUNTS[0], 10.0), RETURNS[0], rtol=1e-6)
    grad = jax.grad(lambda r: jnp.sum(discounted_return(r, DISCOUNTS.T, FINAL)))(jnp.asarray(REWARDS.T))
    assert np.all(np.asarray(grad) == 0.0)  # TF-Agents stops the gradient


@pytest.mark.parametrize("jit", [False, True])
def test_gae_batch_major_and_time_major(jit):
    fn = (jax.jit(generalized_advantage_estimation, static_argnames=("time_major",)) if jit
          else generalized_advantage_estimation)
    np.testing.assert_allclose(fn(VALUES, FINAL, DISCOUNTS, REWARDS, 0.5, time_major=False), ADVANTAGES, rtol=1e-6)
    np.testing.assert_allclose(fn(VALUES.T, FINAL, DISCOUNTS.T, REWARDS.T, 0.5, time_major=True), ADVANTAGES.T,
                               rtol=1e-6)


def test_gae_with_lambda_one_is_the_discounted_return_minus_the_values():
    advantages = generalized_advantage_estimation(VALUES, FINAL, DISCOUNTS, REWARDS, 1.0, time_major=False)
    np.testing.assert_allclose(np.asarray(advantages) + VALUES, RETURNS, rtol=1e-6)
    # lambda 0: one-step TD errors
    td = generalized_advantage_estimation(VALUES, FINAL, DISCOUNTS, REWARDS, 0.0, time_major=False)
    next_values = np.concatenate([VALUES[:, 1:], FINAL[:, None]], axis=1)
    np.testing.assert_allclose(td, REWARDS + DISCOUNTS * next_values - VALUES, rtol=1e-6)


def test_gae_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        generalized_advantage_estimation(VALUES[:, :3], FINAL, DISCOUNTS, REWARDS)
