"""Policies: map time steps to actions."""

from agentax.policies.py_epsilon_greedy_policy import PyEpsilonGreedyPolicy
from agentax.policies.py_policy import PyPolicy
from agentax.policies.random_py_policy import RandomPyPolicy
from agentax.policies.scripted_py_policy import FixedPolicy, ScriptedPyPolicy

__all__ = ["FixedPolicy", "PyEpsilonGreedyPolicy", "PyPolicy", "RandomPyPolicy", "ScriptedPyPolicy"]
