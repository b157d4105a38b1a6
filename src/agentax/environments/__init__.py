"""Environments: Python (NumPy, Gymnasium) and compiled (JAX)."""

from agentax.environments.batched_py_environment import BatchedPyEnvironment
from agentax.environments.parallel_py_environment import ParallelPyEnvironment
from agentax.environments.py_environment import PyEnvironment

__all__ = ["BatchedPyEnvironment", "ParallelPyEnvironment", "PyEnvironment"]
