"""Turning an observation nest into one float vector per batch element."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agentax.specs import array_spec


def flatten_observation(observation, observation_spec):
    """Concatenate the leaves of `observation` (any batch dims) into `[..., features]` float32."""
    specs = array_spec.flatten(observation_spec)
    leaves = jax.tree.leaves(observation)
    outer = jnp.shape(leaves[0])[:jnp.ndim(leaves[0]) - len(specs[0].shape)]
    return jnp.concatenate([jnp.reshape(jnp.asarray(x, jnp.float32), outer + (-1,)) for x in leaves], axis=-1)
