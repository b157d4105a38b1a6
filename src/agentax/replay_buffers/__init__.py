"""Replay buffers: observers that store trajectories and sample them back.

Python path: `ReverbReplayBuffer` over `agentax.reverb` tables, filled by the
`reverb_utils` observers; `PyUniformReplayBuffer`. Compiled path (pure
`init/add_batch/sample`): `JaxUniformReplayBuffer`, `JaxPrioritizedReplayBuffer`; the uniform one
used statefully (TF-Agents' `TFUniformReplayBuffer`): `UniformReplayBuffer`.
"""

from agentax.replay_buffers import reverb_utils
from agentax.replay_buffers.episodes import pad_episodes
from agentax.replay_buffers.jax_prioritized_replay_buffer import JaxPrioritizedReplayBuffer
from agentax.replay_buffers.jax_uniform_replay_buffer import JaxUniformReplayBuffer, UniformReplayBuffer
from agentax.replay_buffers.py_uniform_replay_buffer import PyUniformReplayBuffer
from agentax.replay_buffers.reverb_replay_buffer import ReverbReplayBuffer
from agentax.replay_buffers.reverb_utils import (ReverbAddEpisodeObserver, ReverbAddTrajectoryObserver,
                                                 ReverbTrajectorySequenceObserver)

__all__ = ["JaxPrioritizedReplayBuffer", "JaxUniformReplayBuffer", "PyUniformReplayBuffer",
           "ReverbAddEpisodeObserver", "ReverbAddTrajectoryObserver", "ReverbReplayBuffer",
           "ReverbTrajectorySequenceObserver", "UniformReplayBuffer", "pad_episodes", "reverb_utils"]
