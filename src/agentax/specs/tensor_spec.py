"""Specs on the JAX side, under TF-Agents' `tensor_spec` names.

A TF-Agents `TensorSpec` is an `ArraySpec` whose dtype JAX can hold: `from_spec`
narrows 64-bit dtypes to JAX's default 32-bit ones (bounds clipped), so specs of a
Python environment describe what crosses into compiled code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from agentax.specs import array_spec
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec, is_discrete

__all__ = ["ArraySpec", "BoundedArraySpec", "add_outer_dim", "from_spec", "sample_spec_nest"]


def from_spec(spec_nest):
    """The JAX-side spec of each spec in `spec_nest` (int64 -> int32, float64 -> float32)."""
    return array_spec.to_jax_spec(spec_nest)


def add_outer_dim(spec_nest, dim: int | None = None):
    """Specs with a leading dimension of size `dim`; `None` (TF-Agents' default) is a
    dimension of any size, as a Reverb table signature of whole episodes needs."""
    return array_spec.add_outer_dims_nest(spec_nest, (dim,))


def sample_spec_nest(spec_nest, seed, outer_dims: tuple[int, ...] = ()):
    """Uniform JAX arrays within each spec's bounds; `seed` is an int or a `jax.random` key.

    Pure and jittable given a key; the bounds are `array_spec.sampling_bounds`, as
    for the NumPy sampler.
    """
    key = jax.random.PRNGKey(seed) if isinstance(seed, int) else seed
    leaves, treedef = jax.tree.flatten(spec_nest, is_leaf=lambda x: isinstance(x, ArraySpec))
    keys = jax.random.split(key, max(len(leaves), 1))
    samples = [_sample(spec, k, tuple(outer_dims)) for spec, k in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, samples)


def _sample(spec: ArraySpec, key, outer_dims: tuple[int, ...]):
    low, high = array_spec.sampling_bounds(spec)
    shape = outer_dims + spec.shape
    if spec.dtype == jnp.bool_:
        return jax.random.bernoulli(key, 0.5, shape)
    if not is_discrete(spec):
        return jax.random.uniform(key, shape, spec.dtype, jnp.asarray(low, spec.dtype),
                                  jnp.asarray(high, spec.dtype))
    info = jnp.iinfo(spec.dtype)
    top = high == info.max  # randint's bound is exclusive: `high + 1` would overflow here
    draw = jax.random.randint(key, shape, jnp.asarray(low, spec.dtype),
                              jnp.asarray(np.where(top, high, high + 1), spec.dtype), spec.dtype)
    if not top.any():
        return draw
    # Dimensions reaching the dtype's maximum: offsets from 32 random bits (exact over a full range).
    span = (high.astype(np.int64) - low).astype(np.uint64)
    full = span == np.uint64(np.iinfo(np.uint32).max)
    modulus = jnp.asarray(np.where(full, 1, span + 1).astype(np.uint32))
    bits = jax.random.bits(jax.random.fold_in(key, 1), shape, jnp.uint32)
    offset = jnp.where(full, bits, bits % modulus)
    wide = (jnp.asarray(low.astype(np.int64).astype(np.uint32)) + offset).astype(spec.dtype)
    return jnp.where(top, wide, draw)
