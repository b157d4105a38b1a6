"""Target-network updates as pure functions (`common.soft_variables_update` and
`common.Periodically` of TF-Agents, jittable)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def soft_variables_update(source, target, tau=1.0):
    """`target <- (1 - tau) * target + tau * source`, leaf by leaf (`tau=1`: a copy)."""
    if jax.tree.structure(source) != jax.tree.structure(target):
        raise ValueError(f"soft_variables_update: `source` and `target` must have the same structure, "
                         f"got {jax.tree.structure(source)} and {jax.tree.structure(target)}")
    return jax.tree.map(lambda s, t: ((1.0 - tau) * t + tau * s).astype(t.dtype), source, target)


def periodic_soft_update(source, target, step, tau=1.0, period: int = 1):
    """`soft_variables_update` when `(step + 1) % period == 0`, else `target` unchanged.

    `step` counts the calls made before this one (the agent's train step). As TF-Agents'
    `Periodically` (its counter is incremented, then tested), the update runs at the
    `period`-th call and every `period`-th after it; with `period=1`, at every call."""
    updated = soft_variables_update(source, target, tau)
    if period == 1:
        return updated
    do_update = (jnp.asarray(step) + 1) % period == 0
    return jax.tree.map(lambda u, t: jnp.where(do_update, u, t), updated, target)
