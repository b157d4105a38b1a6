"""Replay buffers: observers that store trajectories and sample them back."""

from agentax.replay_buffers.episodic_replay_buffer import EpisodicReplayBuffer

__all__ = ["EpisodicReplayBuffer"]
