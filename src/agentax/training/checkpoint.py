"""Checkpoints: an agent's parameters, optimizer state and step counter in one file."""

from __future__ import annotations

import os
from pathlib import Path

import jax
from flax import serialization

from agentax.agents.reinforce.reinforce_agent import ReinforceAgent, TrainState

CHECKPOINT_NAME = "checkpoint.msgpack"


def save_checkpoint(agent: ReinforceAgent, directory: str | Path) -> Path:
    """Write `agent.train_state` to `directory/checkpoint.msgpack` atomically."""
    if agent.train_state is None:
        raise ValueError("save_checkpoint: the agent has no parameters yet (call agent.initialize())")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CHECKPOINT_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(serialization.to_bytes(agent.train_state))
    os.replace(tmp, path)
    return path


def restore_checkpoint(agent: ReinforceAgent, directory: str | Path) -> TrainState:
    """Load `directory/checkpoint.msgpack` into `agent` (built with the same networks and optimizer)."""
    path = Path(directory) / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"restore_checkpoint: no checkpoint at {path}")
    template = agent.init(jax.random.PRNGKey(0))
    agent.set_train_state(serialization.from_bytes(template, path.read_bytes()))
    return agent.train_state
