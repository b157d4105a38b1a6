"""`DynamicEpisodeDriver`: runs N episodes in a compiled loop."""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from agentax.drivers import checks
from agentax.drivers.compiled_driver import CompiledDriver
from agentax.policies.jax_policy import JaxPolicy


class DynamicEpisodeDriver(CompiledDriver):
    """Runs `policy` in `env` until `num_episodes` episodes end, as one `jax.lax.while_loop`.

    An episode counts on its boundary step (LAST -> FIRST), so a run ends on the
    reset step and returns a FIRST time step. Counters are summed over the batch:
    a batched run may finish more episodes than asked, never fewer (unless
    `maximum_iterations` stops it). Observers as in `DynamicStepDriver`.
    """

    def __init__(self, env, policy: JaxPolicy, observers: Sequence | None = None,
                 transition_observers: Sequence | None = None, num_episodes: int = 1, seed: int = 0):
        super().__init__(env, policy, observers, transition_observers, num_episodes, "num_episodes", seed)
        self.num_episodes = int(num_episodes)

    def _count(self, trajectory):
        return trajectory.is_boundary().astype(jnp.int32)

    def run(self, time_step=None, policy_state=None, num_episodes=None, maximum_iterations=None, params=None):
        """Run from `time_step` (default: `env.reset()`); return `(time_step, policy_state)`."""
        num_episodes = checks.count_limit("DynamicEpisodeDriver.run", "num_episodes", num_episodes, 1)
        if time_step is None:
            time_step = self.env.reset()
        limit = self.num_episodes if num_episodes is None else num_episodes
        return self._run(time_step, policy_state, limit, maximum_iterations, params)
