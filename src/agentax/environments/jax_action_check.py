"""Checking actions given to compiled environments.

Structure, shapes and dtypes are known when a step is traced, so they are always
checked (a dtype that casts losslessly is converted, as Python environments do;
concrete 64-bit NumPy values narrow to JAX's 32-bit dtypes when they fit).
Values are known only for concrete actions: those are always checked. Inside
`jit` (a compiled driver) an action's value is not known while tracing; with
`check_values` the step calls back to the host to check it (a clear error, one
round trip per step: a debugging aid), otherwise the environment gets the value
as it is and its docstring says what it does with values outside the spec.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from agentax.specs import array_spec


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _conform_leaf(spec: array_spec.ArraySpec, value, outer: tuple[int, ...]):
    shape = tuple(jnp.shape(value))
    if shape != outer + spec.shape:
        raise ValueError(f"`action` does not match its spec: shape {shape}, expected {outer + spec.shape}.\n"
                         f"  spec: {spec!r}")
    if _is_traced(value) or isinstance(value, jax.Array):
        dtype = np.dtype(value.dtype)
        if dtype == spec.dtype:
            return value
        if not np.can_cast(dtype, spec.dtype, "safe"):
            raise ValueError(f"`action` does not match its spec: dtype {dtype}, expected {spec.dtype} (only "
                             f"lossless casts are made; convert it with .astype if you mean it).\n"
                             f"  spec: {spec!r}")
        return value.astype(spec.dtype)
    cast = array_spec.lossless_cast(value, spec.dtype)
    if cast is None and array_spec.jax_dtype(np.asarray(value).dtype) == spec.dtype:
        # A 64-bit NumPy value narrows as JAX narrows it, if every value survives.
        narrowed = np.asarray(value).astype(spec.dtype)
        cast = narrowed if np.array_equal(narrowed, value) else None
    if cast is None:
        array_spec.conform(spec, value, "action", outer)  # raises, naming the dtypes and the value
    return jnp.asarray(cast)


def _in_bounds(spec: array_spec.ArraySpec, value):
    if not isinstance(spec, array_spec.BoundedArraySpec):
        return jnp.bool_(True)
    return jnp.all(value >= jnp.asarray(spec.minimum, spec.dtype)) & \
        jnp.all(value <= jnp.asarray(spec.maximum, spec.dtype))


def conform_action(spec_nest, action, outer: tuple[int, ...], check_values: bool):
    """`action` in the spec's dtypes, or `ValueError` naming `action`, the spec and the value."""
    if jax.tree.structure(spec_nest, is_leaf=lambda x: isinstance(x, array_spec.ArraySpec)) != \
            jax.tree.structure(action):
        raise ValueError(f"`action` does not match the structure of its spec {spec_nest}: {action}")
    action = array_spec.map_spec(lambda s, v: _conform_leaf(s, v, outer), spec_nest, action)
    leaves = jax.tree.leaves(action)
    if not any(_is_traced(x) for x in leaves):
        array_spec.validate(spec_nest, jax.tree.map(np.asarray, action), "action", outer)
    elif check_values:
        ok = jnp.all(jnp.stack([jnp.all(x) for x in jax.tree.leaves(
            array_spec.map_spec(_in_bounds, spec_nest, action))]))
        jax.debug.callback(functools.partial(_raise_if_outside, spec_nest), ok, action)
    return action


def _raise_if_outside(spec_nest, ok, action) -> None:
    if not np.all(ok):
        raise ValueError(f"`action` is outside its spec (checked because `check_actions` is on).\n"
                         f"  spec: {spec_nest}\n  value: {action}")
