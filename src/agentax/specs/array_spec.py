"""Array specs: the shape, dtype and bounds of every array an env or policy makes.

`ArraySpec` and `BoundedArraySpec` mirror `tf_agents.specs.array_spec`. Specs
nest in dicts, tuples, lists and NamedTuples; the helpers here work on nests.
"""

from __future__ import annotations


import jax
import numpy as np


class ArraySpec:
    """Describes an array: `shape`, `dtype` and an optional `name`."""

    __slots__ = ("_shape", "_dtype", "_name")

    def __init__(self, shape, dtype, name: str | None = None):
        self._shape = tuple(int(d) for d in shape)
        self._dtype = np.dtype(dtype)
        self._name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def name(self) -> str | None:
        return self._name

    def __repr__(self) -> str:
        return f"ArraySpec(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r})"

    def __eq__(self, other) -> bool:
        return (type(self) is type(other) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype))

    def replace(self, **changes) -> "ArraySpec":
        kwargs = dict(shape=self.shape, dtype=self.dtype, name=self.name)
        kwargs.update(changes)
        return ArraySpec(**kwargs)

    def check_array(self, value) -> bool:
        """True when `value` has this spec's shape and dtype."""
        arr = np.asarray(value)
        return arr.shape == self._shape and arr.dtype == self._dtype



class BoundedArraySpec(ArraySpec):
    """An `ArraySpec` with inclusive `minimum` and `maximum` (scalars broadcast)."""

    __slots__ = ("_minimum", "_maximum", "_scalar_bounds")

    def __init__(self, shape, dtype, minimum=None, maximum=None, name: str | None = None):
        super().__init__(shape, dtype, name)
        if self.dtype == np.bool_:
            lo_default, hi_default = 0, 1
        elif np.issubdtype(self.dtype, np.integer):
            info = np.iinfo(self.dtype)
            lo_default, hi_default = info.min, info.max
        else:
            info = np.finfo(self.dtype)
            lo_default, hi_default = info.min, info.max
        lo = np.asarray(lo_default if minimum is None else minimum, dtype=self.dtype)
        hi = np.asarray(hi_default if maximum is None else maximum, dtype=self.dtype)
        for arg, bound in (("minimum", lo), ("maximum", hi)):
            try:
                np.broadcast_to(bound, self.shape)
            except ValueError:
                raise ValueError(
                    f"BoundedArraySpec: `{arg}` of shape {bound.shape} does not "
                    f"broadcast to the spec shape {self.shape}") from None
        if np.any(lo > hi):
            raise ValueError(
                f"BoundedArraySpec: `minimum` {lo} is greater than `maximum` {hi}")
        self._minimum = lo
        self._maximum = hi
        self._scalar_bounds = lo.ndim == 0 and hi.ndim == 0

    @classmethod
    def from_spec(cls, spec: ArraySpec) -> "BoundedArraySpec":
        if isinstance(spec, BoundedArraySpec):
            return spec
        return cls(spec.shape, spec.dtype, name=spec.name)

    @property
    def minimum(self) -> np.ndarray:
        return self._minimum

    @property
    def maximum(self) -> np.ndarray:
        return self._maximum

    @property
    def num_values(self) -> int:
        """For a scalar discrete spec: how many values it allows."""
        return int(self._maximum) - int(self._minimum) + 1

    def __repr__(self) -> str:
        return (f"BoundedArraySpec(shape={self.shape}, dtype={self.dtype!r}, "
                f"name={self.name!r}, minimum={self.minimum}, maximum={self.maximum})")

    def __eq__(self, other) -> bool:
        return (super().__eq__(other) and np.array_equal(self.minimum, other.minimum)
                and np.array_equal(self.maximum, other.maximum))

    __hash__ = ArraySpec.__hash__

    def replace(self, **changes) -> "BoundedArraySpec":
        kwargs = dict(shape=self.shape, dtype=self.dtype, name=self.name,
                      minimum=self.minimum, maximum=self.maximum)
        kwargs.update(changes)
        return BoundedArraySpec(**kwargs)

    def check_array(self, value) -> bool:
        arr = np.asarray(value)
        if arr.shape != self._shape or arr.dtype != self._dtype:
            return False
        if self._scalar_bounds and arr.ndim == 0:
            return self._minimum.item() <= arr.item() <= self._maximum.item()
        return bool(np.all(arr >= self._minimum) and np.all(arr <= self._maximum))



def is_discrete(spec: ArraySpec) -> bool:
    return np.issubdtype(spec.dtype, np.integer) or spec.dtype == np.bool_


# ---------------------------------------------------------------- nests

def _is_spec(x) -> bool:
    return isinstance(x, ArraySpec)


def flatten(nest) -> list:
    """Leaves of a nest of specs or arrays, in the order `jax.tree` uses."""
    return jax.tree.leaves(nest, is_leaf=_is_spec)


def map_spec(fn, spec_nest, *rest):
    """`jax.tree.map` over a spec nest (specs are leaves)."""
    return jax.tree.map(fn, spec_nest, *rest, is_leaf=_is_spec)


def zeros_from_spec(spec_nest, outer_dims: tuple[int, ...] = ()):
    """A nest of zero arrays matching `spec_nest`, with `outer_dims` prepended."""
    return map_spec(lambda s: np.zeros(tuple(outer_dims) + s.shape, s.dtype), spec_nest)


def _describe(value) -> str:
    try:
        arr = np.asarray(value)
        text = np.array2string(arr, threshold=8)
        return f"{text} (shape={arr.shape}, dtype={arr.dtype})"
    except Exception:  # noqa: BLE001 - describing an unusual object
        return repr(value)


def validate(spec_nest, value_nest, arg_name: str = "value", outer_dims: tuple[int, ...] = ()) -> None:
    """Raise `ValueError` naming `arg_name`, the spec and the value if they disagree.

    `outer_dims` are leading batch dimensions the value carries on top of the spec.
    Dtypes must match exactly: nothing is cast, nothing is clipped.
    """
    try:
        pairs = jax.tree.leaves(
            jax.tree.map(lambda s, v: (s, v), spec_nest, value_nest, is_leaf=_is_spec),
            is_leaf=lambda x: isinstance(x, tuple) and len(x) == 2 and _is_spec(x[0]))
    except ValueError as err:
        raise ValueError(
            f"`{arg_name}` does not match the structure of its spec.\n"
            f"  spec: {spec_nest}\n  value: {value_nest}\n  ({err})") from None
    outer = tuple(outer_dims)
    for spec, value in pairs:
        arr = np.asarray(value)
        problem = None
        if arr.shape != outer + spec.shape:
            problem = f"shape {arr.shape}, expected {outer + spec.shape}"
        elif arr.dtype != spec.dtype:
            problem = f"dtype {arr.dtype}, expected {spec.dtype}"
        elif isinstance(spec, BoundedArraySpec) and not (
                np.all(arr >= spec.minimum) and np.all(arr <= spec.maximum)):
            problem = f"outside the bounds [{spec.minimum}, {spec.maximum}]"
        if problem:
            raise ValueError(
                f"`{arg_name}` does not match its spec: {problem}.\n"
                f"  spec: {spec!r}\n  value: {_describe(arr)}")


def sample_spec_nest(spec_nest, rng: np.random.Generator, outer_dims: tuple[int, ...] = ()):
    """Uniform random arrays within each spec's bounds (seeded through `rng`)."""

    def sample(spec: ArraySpec):
        shape = tuple(outer_dims) + spec.shape
        bounded = BoundedArraySpec.from_spec(spec)
        if spec.dtype == np.bool_:
            return rng.integers(0, 2, size=shape).astype(np.bool_)
        if np.issubdtype(spec.dtype, np.integer):
            return rng.integers(bounded.minimum, bounded.maximum, size=shape,
                                dtype=spec.dtype, endpoint=True)
        lo = np.broadcast_to(bounded.minimum, spec.shape).astype(np.float64)
        hi = np.broadcast_to(bounded.maximum, spec.shape).astype(np.float64)
        # Unbounded float dimensions sample from a wide but finite range.
        limit = np.finfo(np.float32).max / 2
        lo = np.maximum(lo, -limit)
        hi = np.minimum(hi, limit)
        return rng.uniform(lo, hi, size=shape).astype(spec.dtype)

    return map_spec(sample, spec_nest)


# ---------------------------------------------------------------- JAX dtypes

_NARROW = {np.dtype(np.int64): np.dtype(np.int32), np.dtype(np.uint64): np.dtype(np.uint32),
           np.dtype(np.float64): np.dtype(np.float32)}


def jax_dtype(dtype) -> np.dtype:
    """The dtype JAX uses for `dtype` by default (64-bit types become 32-bit)."""
    dtype = np.dtype(dtype)
    return _NARROW.get(dtype, dtype)


def to_jax_spec(spec_nest):
    """Specs with 64-bit dtypes narrowed to JAX's default 32-bit ones (bounds clipped)."""

    def narrow(spec: ArraySpec) -> ArraySpec:
        dtype = jax_dtype(spec.dtype)
        if dtype == spec.dtype:
            return spec
        if isinstance(spec, BoundedArraySpec):
            info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
            clip = lambda b: np.clip(b, info.min, info.max).astype(dtype)
            return spec.replace(dtype=dtype, minimum=clip(spec.minimum), maximum=clip(spec.maximum))
        return spec.replace(dtype=dtype)

    return map_spec(narrow, spec_nest)


# ---------------------------------------------------------------- gymnasium

def from_gym_space(space, name: str | None = None, simplify_box_bounds: bool = True):
    """Convert a Gymnasium space to a nest of specs.

    Box -> BoundedArraySpec; Discrete -> scalar int64 spec [start, start + n - 1];
    MultiDiscrete -> int64 vector; MultiBinary -> int8 in [0, 1];
    Dict -> dict; Tuple -> tuple.
    """
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        start = int(space.start)
        return BoundedArraySpec((), np.int64, start, start + int(space.n) - 1, name=name)
    if isinstance(space, spaces.MultiDiscrete):
        start = np.asarray(space.start, np.int64)
        return BoundedArraySpec(space.shape, np.int64, start, start + np.asarray(space.nvec, np.int64) - 1,
                                name=name)
    if isinstance(space, spaces.MultiBinary):
        return BoundedArraySpec(space.shape, np.int8, 0, 1, name=name)
    if isinstance(space, spaces.Box):
        low, high = space.low, space.high
        if simplify_box_bounds and np.all(low == low.flat[0]) and np.all(high == high.flat[0]):
            low, high = low.flat[0], high.flat[0]
        return BoundedArraySpec(space.shape, space.dtype, low, high, name=name)
    if isinstance(space, spaces.Dict):
        return {key: from_gym_space(sub, name=key) for key, sub in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(from_gym_space(sub, name=f"{name or 'tuple'}_{i}") for i, sub in enumerate(space.spaces))
    raise TypeError(f"from_gym_space: unsupported space type {type(space).__name__}: {space}")


