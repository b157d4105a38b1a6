"""Element-wise TD losses with `tf_agents.utils.common`'s signatures: `fn(x, y)` -> one loss
per element, no reduction (the agent weights and averages)."""

from __future__ import annotations

import jax.numpy as jnp
import optax


def element_wise_huber_loss(x, y):
    """Huber loss with delta 1 (`0.5 d^2` for `|d| <= 1`, else `|d| - 0.5`), `d = x - y`;
    `optax.huber_loss` underneath."""
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    return optax.huber_loss(y, x, delta=1.0)


def element_wise_squared_loss(x, y):
    """`(x - y)^2`, element by element (TF's `mean_squared_error` without reduction)."""
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    return jnp.square(x - y)
