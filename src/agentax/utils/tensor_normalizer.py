"""Running mean/variance normalizers as pure state (mirror of `tf_agents.utils.tensor_normalizer`).

`StreamingTensorNormalizer(spec)` holds no arrays: `init()` returns a `NormalizerState`
(a pytree of per-leaf `count`, `mean`, `m2`) that lives inside an agent's state, so it is
jitted, vmapped over seeds and checkpointed with it; `update(state, values, weights)`
returns the new state; `normalize(state, values, ...)` is pure.

Statistics are exact, not exponentially decayed: the update merges the batch's count,
mean and sum of squared deviations into the running ones (Chan et al.'s parallel
algorithm), so after any sequence of updates `mean`/`variance` equal NumPy's
`mean`/`var` over everything seen (weights 0 leave entries out).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agentax.specs import array_spec


class NormalizerState(NamedTuple):
    count: Any  # per leaf, scalar float32: how many entries were seen
    mean: Any   # per leaf, the spec's shape
    m2: Any     # per leaf, sum of squared deviations from the mean


class StreamingTensorNormalizer:
    """Normalizes a nest matching `tensor_spec` by the running mean and variance of what it was updated with."""

    def __init__(self, tensor_spec):
        self.tensor_spec = tensor_spec
        self._specs = array_spec.flatten(tensor_spec)
        if not self._specs:
            raise ValueError(f"StreamingTensorNormalizer: `tensor_spec` must hold at least one spec, got {tensor_spec!r}")

    def init(self) -> NormalizerState:
        count = [jnp.zeros((), jnp.float32) for _ in self._specs]
        mean = [jnp.zeros(s.shape, jnp.float32) for s in self._specs]
        m2 = [jnp.zeros(s.shape, jnp.float32) for s in self._specs]
        return NormalizerState(count, mean, m2)

    def _leaves(self, values):
        leaves = jax.tree.leaves(values)
        if len(leaves) != len(self._specs):
            raise ValueError(f"StreamingTensorNormalizer: `values` must match `tensor_spec` {self.tensor_spec}, "
                             f"got {len(leaves)} leaves")
        return [jnp.asarray(x, jnp.float32) for x in leaves]

    def update(self, state: NormalizerState, values, weights=None) -> NormalizerState:
        """Pure: `state` merged with every entry of `values` (any outer dims); `weights` (the outer
        dims' shape) counts each entry that many times (0: left out, e.g. padding)."""
        counts, means, m2s = [], [], []
        for spec, x, count, mean, m2 in zip(self._specs, self._leaves(values), state.count, state.mean, state.m2):
            outer = x.ndim - len(spec.shape)
            axes = tuple(range(outer))
            w = jnp.ones(x.shape[:outer], jnp.float32) if weights is None else jnp.asarray(weights, jnp.float32)
            w = w.reshape(w.shape + (1,) * len(spec.shape))
            batch_count = jnp.sum(w)
            safe = jnp.maximum(batch_count, 1e-12)
            batch_mean = jnp.sum(x * w, axis=axes) / safe
            batch_m2 = jnp.sum(w * (x - batch_mean) ** 2, axis=axes)
            total = count + batch_count
            delta = batch_mean - mean
            ratio = jnp.where(total > 0, batch_count / jnp.maximum(total, 1e-12), 0.0)
            counts.append(total)
            means.append(mean + delta * ratio)
            m2s.append(m2 + batch_m2 + delta**2 * count * ratio)
        return NormalizerState(counts, means, m2s)

    def mean_and_variance(self, state: NormalizerState):
        """The running mean and (population) variance per leaf, as nests like `tensor_spec`
        (0 and 1 before any update)."""
        treedef = jax.tree.structure(self.tensor_spec, is_leaf=lambda x: isinstance(x, array_spec.ArraySpec))
        variances = [jnp.where(c > 0, m2 / jnp.maximum(c, 1e-12), 1.0) for c, m2 in zip(state.count, state.m2)]
        return jax.tree.unflatten(treedef, list(state.mean)), jax.tree.unflatten(treedef, variances)

    def normalize(self, state: NormalizerState, values, clip_value: float = 5.0, center_mean: bool = True,
                  variance_epsilon: float = 1e-3):
        """Pure: `(values - mean) / sqrt(variance + variance_epsilon)` (no centering with
        `center_mean=False`), clipped to `+-clip_value` (no clipping when `clip_value <= 0`), as
        TF-Agents' `normalize` and its defaults."""
        treedef = jax.tree.structure(values)
        out = []
        for x, count, mean, m2 in zip(self._leaves(values), state.count, state.mean, state.m2):
            variance = jnp.where(count > 0, m2 / jnp.maximum(count, 1e-12), 1.0)
            y = (x - mean) if center_mean else x
            y = y / jnp.sqrt(variance + variance_epsilon)
            if clip_value > 0:
                y = jnp.clip(y, -clip_value, clip_value)
            out.append(y)
        return jax.tree.unflatten(treedef, out)
