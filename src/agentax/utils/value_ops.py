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
    layout, or only `G_0` (`[B...]`) with `provide_all_returns=False`.
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
        return first
    return returns if time_major else jnp.moveaxis(returns, 0, 1)


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
