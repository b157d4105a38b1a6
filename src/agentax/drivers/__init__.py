"""Drivers: run a policy in an environment and broadcast trajectories to observers."""

from agentax.drivers.dynamic_episode_driver import DynamicEpisodeDriver
from agentax.drivers.dynamic_step_driver import DynamicStepDriver
from agentax.drivers.py_driver import PyDriver

__all__ = ["DynamicEpisodeDriver", "DynamicStepDriver", "PyDriver"]
