"""Returns from rewards and discounts (mirror of `tf_agents.utils.value_ops` and
`common.compute_returns`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def discounted_return(rewards, discounts, final_value=None, time_major: bool = True,
                      provide_all_returns: bool = True):
    """`G_t = r_t + discount_t * G_{t+1}`, with `G_T = final_value` (zeros when None).

    As `tf_agents.utils.value_ops.discounted_return`: `rewards` and `discounts` are
    `[T, B...]` (`[B, T]` with `time_major=False`); returns every `G_t` in the same
    layout, or only `G_0` (`[B...]`) with `provide_all_returns=False`. As TF-Agents', no
    gradient flows through the result.
    """
    rewards = jnp.asarray(rewards)
    discounts = jnp.asarray(discounts, rewards.dtype)
    if not time_major:
        rewards, discounts = jnp.moveaxis(rewards, 1, 0), jnp.moveaxis(discounts, 1, 0)
    final = jnp.zeros_like(rewards[0]) if final_value is None else jnp.broadcast_to(
        jnp.asarray(final_value, rewards.dtype), rewards.shape[1:])

    def backward(carry, inputs):
        reward, discount = inputs
        carry = reward + discount * carry
        return carry, carry

    first, returns = jax.lax.scan(backward, final, (rewards, discounts), reverse=True)
    if not provide_all_returns:
        return jax.lax.stop_gradient(first)
    returns = jax.lax.stop_gradient(returns)
    return returns if time_major else jnp.moveaxis(returns, 0, 1)


def generalized_advantage_estimation(values, final_value, discounts, rewards, td_lambda: float = 1.0,
                                     time_major: bool = True):
    """GAE (Schulman et al., 2016), as `tf_agents.utils.value_ops.generalized_advantage_estimation`.

    `delta_t = r_t + discount_t * V_{t+1} - V_t` with `V_T = final_value`, and
    `A_t = delta_t + discount_t * td_lambda * A_{t+1}` (`A_T = 0`). `values`, `discounts`,
    `rewards` are `[T, B...]` (`[B, T]` with `time_major=False`), `final_value` `[B...]`;
    returns the advantages in the layout of `values`. A discount of 0 (an episode's end)
    stops both the bootstrap and the accumulation, so episodes may end inside a row.
    """
    values = jnp.asarray(values)
    dtype = values.dtype
    rewards = jnp.asarray(rewards, dtype)
    discounts = jnp.asarray(discounts, dtype)
    if not (values.shape == rewards.shape == discounts.shape):
        raise ValueError(f"generalized_advantage_estimation: `values`, `rewards` and `discounts` must have the "
                         f"same shape, got {values.shape}, {rewards.shape} and {discounts.shape}")
    if not time_major:
        values, rewards, discounts = (jnp.moveaxis(x, 1, 0) for x in (values, rewards, discounts))
    final_value = jnp.broadcast_to(jnp.asarray(final_value, dtype), values.shape[1:])
    next_values = jnp.concatenate([values[1:], final_value[None]], axis=0)
    delta = rewards + discounts * next_values - values
    weighted_discounts = discounts * td_lambda

    def backward(carry, inputs):
        weighted_discount, td = inputs
        carry = td + weighted_discount * carry
        return carry, carry

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(final_value), (weighted_discounts, delta), reverse=True)
    advantages = jax.lax.stop_gradient(advantages)
    return advantages if time_major else jnp.moveaxis(advantages, 0, 1)


def compute_returns(rewards, discounts):
    """`common.compute_returns`: the return from each index of `rewards` (`[T, ...]`, time
    first), `R_t = r_t + discount_t * R_{t+1}`; discounts are 0 at each episode's last step,
    so returns restart there."""
    rewards = jnp.asarray(rewards)
    discounts = jnp.asarray(discounts, rewards.dtype)
    if rewards.shape != discounts.shape:
        raise ValueError(f"compute_returns: `rewards` and `discounts` must have the same shape, "
                         f"got {rewards.shape} and {discounts.shape}")
    return discounted_return(rewards, discounts)
