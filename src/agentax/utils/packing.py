"""Pack a pytree's leaves into one array per dtype, and unpack them.

A compiled loop that returns a structure per step (`lax.scan`'s outputs) writes each leaf into its
stacked output separately; on a GPU each write is a kernel (XLA made some of them asynchronous, each
then a start and a wait) in every trip. Packed, a trajectory of six leaves is two writes (float and
integer). The values are unchanged: `unpack(*pack(tree))` equals `tree`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class Layout(NamedTuple):
    """What `unpack` needs (static): the tree, and per dtype group the leaves' indices and trailing shapes."""

    treedef: Any
    groups: tuple  # ((leaf indices, trailing shapes), ...) in the order of the packed arrays


def pack(tree, batch_ndim: int = 1) -> tuple[tuple, Layout]:
    """`(arrays, layout)`: the leaves of `tree` (sharing their first `batch_ndim` axes) flattened
    after those axes and concatenated, one array per dtype."""
    leaves, treedef = jax.tree.flatten(tree)
    by_dtype: dict = {}
    for i, leaf in enumerate(leaves):
        by_dtype.setdefault(jnp.asarray(leaf).dtype, []).append(i)
    arrays, groups = [], []
    for indices in by_dtype.values():
        parts = [jnp.reshape(leaves[i], leaves[i].shape[:batch_ndim] + (-1,)) for i in indices]
        arrays.append(parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1))
        groups.append((tuple(indices), tuple(tuple(leaves[i].shape[batch_ndim:]) for i in indices)))
    return tuple(arrays), Layout(treedef, tuple(groups))


def unpack(arrays, layout: Layout):
    """The tree `pack` made `arrays` of; any axes the arrays gained in front (a scan's time axis) lead
    every leaf."""
    leaves = [None] * sum(len(indices) for indices, _ in layout.groups)
    for array, (indices, shapes) in zip(arrays, layout.groups):
        lead, offset = array.shape[:-1], 0
        for i, shape in zip(indices, shapes):
            size = 1
            for n in shape:
                size *= n
            leaves[i] = jnp.reshape(array[..., offset:offset + size], lead + shape)
            offset += size
    return jax.tree.unflatten(layout.treedef, leaves)
