"""Array specs: the shape, dtype and bounds of every array an env or policy makes.

`ArraySpec` and `BoundedArraySpec` mirror `tf_agents.specs.array_spec`. Specs
nest in dicts, tuples, lists and NamedTuples; the helpers here work on nests.
"""

from __future__ import annotations


import jax
import numpy as np


def _check_shape(owner: str, shape) -> tuple:
    """`shape` as a tuple of non-negative ints (or None: any size), or an error naming it."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{owner}: `shape` must be a sequence of ints, got {shape!r}") from None
    for d in dims:
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0):
            raise ValueError(f"{owner}: `shape` must hold non-negative ints (or None), got {shape!r}")
    return tuple(None if d is None else int(d) for d in dims)


def _check_bound(arg: str, value, dtype: np.dtype) -> np.ndarray:
    """A bound as an array of `dtype`: NaN and integer bounds that do not fit are refused;
    float bounds round to the nearest `dtype` value."""
    arr = np.asarray(value)
    if arr.dtype.kind in "fc" and np.isnan(arr).any():
        raise ValueError(f"BoundedArraySpec: `{arg}` must not be NaN, got {value!r}")
    if np.issubdtype(dtype, np.integer) and arr.size:
        info = np.iinfo(dtype)
        if arr.dtype.kind in "fc" and not np.all(np.isinf(arr) | (arr == np.round(arr))):
            raise ValueError(f"BoundedArraySpec: `{arg}` {value!r} is not a whole number, for dtype {dtype}")
        if np.any(arr < info.min) or np.any(arr > info.max):
            if arr.dtype.kind != "f" or np.any(np.isfinite(arr) & ((arr < info.min) | (arr > info.max))):
                raise ValueError(f"BoundedArraySpec: `{arg}` {value!r} does not fit dtype {dtype}")
            arr = np.clip(arr, info.min, info.max)  # an infinite bound is the dtype's limit
    return arr.astype(dtype)


class ArraySpec:
    """Describes an array: `shape`, `dtype` and an optional `name`.

    A `None` in `shape` is a dimension of any size, as in a TensorFlow `TensorSpec`
    (e.g. the time axis of a Reverb table signature of whole episodes).
    """

    __slots__ = ("_shape", "_dtype", "_name")

    def __init__(self, shape, dtype, name: str | None = None):
        self._shape = _check_shape(type(self).__name__, shape)
        try:
            self._dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{type(self).__name__}: `dtype` {dtype!r} is not a NumPy dtype") from None
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
        lo = _check_bound("minimum", lo_default if minimum is None else minimum, self.dtype)
        hi = _check_bound("maximum", hi_default if maximum is None else maximum, self.dtype)
        for arg, bound in (("minimum", lo), ("maximum", hi)):
            try:
                np.broadcast_to(bound, tuple(1 if d is None else d for d in self.shape))
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


def _pairs(spec_nest, value_nest, arg_name: str) -> list:
    """`(spec, value)` for each leaf; `ValueError` naming `arg_name` if the structures differ."""
    try:
        return jax.tree.leaves(
            jax.tree.map(lambda s, v: (s, v), spec_nest, value_nest, is_leaf=_is_spec),
            is_leaf=lambda x: isinstance(x, tuple) and len(x) == 2 and _is_spec(x[0]))
    except ValueError as err:
        raise ValueError(
            f"`{arg_name}` does not match the structure of its spec.\n"
            f"  spec: {spec_nest}\n  value: {value_nest}\n  ({err})") from None


def _problem(spec: ArraySpec, arr: np.ndarray, outer: tuple[int, ...]) -> str | None:
    want = outer + spec.shape
    if len(arr.shape) != len(want) or any(w is not None and w != g for w, g in zip(want, arr.shape)):
        return f"shape {arr.shape}, expected {outer + spec.shape}"
    if arr.dtype != spec.dtype:
        return f"dtype {arr.dtype}, expected {spec.dtype}"
    if isinstance(spec, BoundedArraySpec) and not (
            np.all(arr >= spec.minimum) and np.all(arr <= spec.maximum)):
        return f"outside the bounds [{spec.minimum}, {spec.maximum}]"
    return None


def _raise(arg_name: str, problem: str, spec: ArraySpec, value) -> None:
    raise ValueError(f"`{arg_name}` does not match its spec: {problem}.\n"
                     f"  spec: {spec!r}\n  value: {_describe(value)}")


def validate(spec_nest, value_nest, arg_name: str = "value", outer_dims: tuple[int, ...] = ()) -> None:
    """Raise `ValueError` naming `arg_name`, the spec and the value if they disagree.

    `outer_dims` are leading batch dimensions the value carries on top of the spec.
    Dtypes must match exactly: nothing is cast, nothing is clipped.
    """
    outer = tuple(outer_dims)
    for spec, value in _pairs(spec_nest, value_nest, arg_name):
        arr = np.asarray(value)
        problem = _problem(spec, arr, outer)
        if problem:
            _raise(arg_name, problem, spec, arr)


def lossless_cast(value, dtype) -> np.ndarray | None:
    """`value` as an array of `dtype` if no information is lost, else None.

    Arrays (NumPy or JAX) cast when their dtype does safely (int32 -> int64, not
    float64 -> float32); Python scalars when their value survives the cast (1 to
    any integer dtype that holds it, 0.5 to float32, never 1.5 to an integer).
    """
    dtype = np.dtype(dtype)
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        if isinstance(value, bool):
            ok = dtype == np.bool_ or np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)
        elif isinstance(value, int):
            ok = (np.issubdtype(dtype, np.integer) and np.iinfo(dtype).min <= value <= np.iinfo(dtype).max) \
                or (np.issubdtype(dtype, np.floating) and float(value) == value)
        else:
            ok = np.issubdtype(dtype, np.floating) and (value != value or float(dtype.type(value)) == value)
        return np.asarray(value, dtype) if ok else None
    arr = np.asarray(value)
    if arr.dtype == dtype:
        return arr
    return arr.astype(dtype) if np.can_cast(arr.dtype, dtype, "safe") else None


def conform(spec_nest, value_nest, arg_name: str = "value", outer_dims: tuple[int, ...] = ()):
    """`value_nest` with every leaf an array of its spec's dtype, or `ValueError`.

    Like `validate`, except that lossless casts are made (see `lossless_cast`); a
    lossy one is refused with the argument's name, the spec and the value.
    """
    outer = tuple(outer_dims)
    treedef = jax.tree.structure(spec_nest, is_leaf=_is_spec)
    out = []
    for spec, value in _pairs(spec_nest, value_nest, arg_name):
        arr = lossless_cast(value, spec.dtype)
        if arr is None:
            given = np.asarray(value)
            _raise(arg_name, f"dtype {given.dtype}, expected {spec.dtype} (only lossless casts are made; "
                             f"convert it with np.asarray(value, {spec.dtype.name!r}) if you mean it)", spec, given)
        problem = _problem(spec, arr, outer)
        if problem:
            _raise(arg_name, problem, spec, value)
        out.append(arr)
    return jax.tree.unflatten(treedef, out)


def add_outer_dims_nest(spec_nest, outer_dims: tuple[int, ...]):
    """Specs with `outer_dims` prepended to every shape (TF-Agents' name)."""
    outer = tuple(outer_dims)
    if any(d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0)
           for d in outer):
        raise ValueError(f"add_outer_dims_nest: `outer_dims` must be non-negative ints or None (any size), "
                         f"got {outer_dims!r}")
    return map_spec(lambda s: s.replace(shape=outer + s.shape), spec_nest)


def sampling_bounds(spec: ArraySpec) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive `(low, high)` a uniform sampler of `spec` draws from, shaped like the spec.

    Integers use the spec's bounds (int64); floats use them as float64, with
    unbounded dimensions narrowed to a wide but finite range. Both the NumPy and
    the JAX samplers use these bounds.
    """
    bounded = BoundedArraySpec.from_spec(spec)
    if is_discrete(spec):
        lo, hi = bounded.minimum.astype(np.int64), bounded.maximum.astype(np.int64)
    else:
        limit = float(np.finfo(np.float32).max) / 2
        lo = np.maximum(bounded.minimum.astype(np.float64), -limit)
        hi = np.minimum(bounded.maximum.astype(np.float64), limit)
    return np.broadcast_to(lo, spec.shape), np.broadcast_to(hi, spec.shape)


def sample_spec_nest(spec_nest, rng: np.random.Generator, outer_dims: tuple[int, ...] = ()):
    """Uniform random arrays within each spec's bounds (seeded through `rng`)."""

    def sample(spec: ArraySpec):
        shape = tuple(outer_dims) + spec.shape
        low, high = sampling_bounds(spec)
        if spec.dtype == np.bool_:
            return rng.integers(0, 2, size=shape).astype(np.bool_)
        if is_discrete(spec):
            return rng.integers(low, high, size=shape, dtype=spec.dtype, endpoint=True)
        return rng.uniform(low, high, size=shape).astype(spec.dtype)

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


