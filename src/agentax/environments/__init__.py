"""Environments: Python (NumPy, Gymnasium) and compiled (JAX).

Submodules load on first use (`agentax.environments.suite_brax` imports Brax, which
takes seconds): `suite_gym`, `suite_mujoco`, `suite_jax`, `suite_gymnax`,
`suite_brax`, `wrappers`, `jax_wrappers`, ...
"""

import importlib

from agentax.environments.batched_py_environment import BatchedPyEnvironment
from agentax.environments.parallel_py_environment import ParallelPyEnvironment
from agentax.environments.py_environment import PyEnvironment

__all__ = ["BatchedPyEnvironment", "ParallelPyEnvironment", "PyEnvironment"]

_LAZY = ("suite_gym", "suite_mujoco", "suite_jax", "suite_gymnax", "suite_brax", "wrappers", "jax_wrappers")


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
