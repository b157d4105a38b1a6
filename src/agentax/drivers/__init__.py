"""Drivers: run a policy in an environment and broadcast trajectories to observers."""

from agentax.drivers.py_driver import PyDriver

__all__ = ["PyDriver"]
