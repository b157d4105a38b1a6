"""Generated flatteners: a nest shaped exactly like an earlier one, to its leaves, in a few attribute reads.

`jax.tree_util.tree_flatten` costs about a microsecond per call on a small
`Trajectory` (registry lookups for every node), and then each leaf's type,
shape and dtype still has to be checked against the writer's first step. A
writer appends the same structure on every step, so `flattener(example,
treedef)` writes (once per structure and layout, then cached) a function that
reads the leaves straight out of the containers and checks, on the way, that
every container and every leaf is exactly what `example` had: the same
container types (and lengths, dict keys), leaves of the same type, and arrays of
the same shape and dtype. It returns the leaves in `tree_flatten`'s order, or
None when anything differs; the caller then takes its general path (full
flatten, conversions and the error messages), so results never differ from it.

Built only for nests of `tuple`, `list`, `dict` (exact types), NamedTuples,
`None`, NumPy arrays and NumPy scalars, and only when the generated function
gives `tree_flatten`'s leaves for `example`; anything else has no flattener.
"""

from __future__ import annotations

import threading

import jax
import numpy as np

_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


class _Unsupported(Exception):
    pass


def _is_namedtuple(t) -> bool:
    return issubclass(t, tuple) and hasattr(t, "_fields") and t.__bases__ == (tuple,)


def flattener(example, treedef):
    """A function `data -> tuple of leaves | None` for nests laid out like `example`, or None.

    A tuple: once the garbage collector has seen that it holds only NumPy values (which it does not
    track), it stops tracking it, so the steps a writer keeps cost no collector time."""
    leaves = jax.tree_util.tree_leaves(example)
    if not all(isinstance(x, (np.ndarray, np.generic)) for x in leaves):
        return None
    layout = tuple((type(x), x.shape, x.dtype) for x in leaves)
    key = (treedef, layout)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    try:
        fn = _build(example)
        got = fn(example)
        ok = got is not None and len(got) == len(leaves) and all(a is b for a, b in zip(got, leaves))
    except _Unsupported:
        ok = False
    except Exception:  # noqa: BLE001 - any surprise: no fast path
        ok = False
    fn = fn if ok else None
    with _CACHE_LOCK:
        _CACHE[key] = fn
    return fn


def _build(example):
    consts: dict = {"ndarray": np.ndarray}
    lines: list[str] = []
    out: list[str] = []
    counter = [0]

    def const(value) -> str:
        name = f"c{len(consts)}"
        consts[name] = value
        return name

    def var() -> str:
        counter[0] += 1
        return f"v{counter[0]}"

    def walk(v: str, x, depth: int) -> None:
        if depth > 32:
            raise _Unsupported
        t = type(x)
        if x is None:
            lines.append(f"if {v} is not None: return None")
        elif t is np.ndarray:
            lines.append(f"if type({v}) is not ndarray or {v}.shape != {const(x.shape)} or "
                         f"({v}.dtype is not {const(x.dtype)} and {v}.dtype != {const(x.dtype)}): return None")
            out.append(v)
        elif isinstance(x, np.generic):
            lines.append(f"if type({v}) is not {const(t)}: return None")
            out.append(v)
        elif t is tuple or t is list or _is_namedtuple(t) and _plain_namedtuple(t):
            lines.append(f"if type({v}) is not {const(t)}: return None")
            children = [var() for _ in x]
            if children:  # unpacking checks the length (a ValueError, caught: None)
                lines.append(f"{', '.join(children)}, = {v}")
            else:
                lines.append(f"if {v}: return None")
            for c, child in zip(children, x):
                walk(c, child, depth + 1)
        elif t is dict:
            try:
                keys = sorted(x)
            except TypeError:
                raise _Unsupported from None
            lines.append(f"if type({v}) is not dict or len({v}) != {len(x)}: return None")
            for k in keys:
                c = var()
                lines.append(f"{c} = {v}.get({const(k)}, {const(_MISSING)})")
                lines.append(f"if {c} is {const(_MISSING)}: return None")
                walk(c, x[k], depth + 1)
        else:
            raise _Unsupported

    walk("v0", example, 0)
    body = "\n        ".join(lines + [f"return ({', '.join(out)},)"])
    src = f"def flat(v0):\n    try:\n        {body}\n    except (ValueError, TypeError):\n        return None\n"
    namespace = dict(consts)
    exec(compile(src, "<agentax.reverb flattener>", "exec"), namespace)  # noqa: S102 - generated from types
    return namespace["flat"]


_MISSING = object()


def _plain_namedtuple(t) -> bool:
    """Whether jax flattens NamedTuple `t` field by field (not through a registration of its own)."""
    n = len(t._fields)
    try:
        dummy = t(*(np.int8(i) for i in range(n)))
        return jax.tree_util.tree_leaves(dummy) == list(range(n)) and \
            jax.tree_util.tree_structure(dummy).num_nodes == n + 1
    except Exception:  # noqa: BLE001
        return False
