"""`DynamicStepDriver`: takes N environment steps in a compiled loop."""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from agentax.drivers.compiled_driver import CompiledDriver
from agentax.policies.jax_policy import JaxPolicy


class DynamicStepDriver(CompiledDriver):
    """Runs `policy` in `env` for `num_steps` steps as one `jax.lax.while_loop`.

    Only steps that are not boundaries (LAST -> FIRST) count; the counters of all
    batch elements are summed, so a batched run may take more than `num_steps`,
    never fewer (unless `maximum_iterations` stops it). `observers` get each
    `Trajectory`, `transition_observers` each `Transition(time_step, policy_step,
    next_time_step)`. Compiled observers (`agentax.metrics.jax_metrics`) run in the
    loop; a plain Python callable works too, through a host callback (slow: one
    round trip to Python per step).
    """

    def __init__(self, env, policy: JaxPolicy, observers: Sequence | None = None,
                 transition_observers: Sequence | None = None, num_steps: int = 1, seed: int = 0):
        super().__init__(env, policy, observers, transition_observers, num_steps, "num_steps", seed)
        self.num_steps = int(num_steps)

    def _count(self, trajectory):
        return (~trajectory.is_boundary()).astype(jnp.int32)

    def run(self, time_step=None, policy_state=None, maximum_iterations=None, params=None):
        """Step from `time_step` (default: `env.current_time_step()`); return `(time_step, policy_state)`."""
        if time_step is None:
            time_step = self.env.current_time_step()
        return self._run(time_step, policy_state, self.num_steps, maximum_iterations, params)
