"""`JaxAsPyEnvironment`: a compiled `JaxEnvironment` seen as a stateful `PyEnvironment`.

The opposite direction of `JaxPyEnvironment` (a Python environment used from JAX):
here a JAX environment is stepped from plain Python code, so everything written for
`suite_gym.load(id)` (`PyDriver`, `compute_avg_return`, `record_video`, a loaded saved
policy) runs on environments that exist only compiled: gymnax's (`Breakout-MinAtar`),
Brax's (`halfcheetah`) or agentax's own (`CartPole-v1`). `load(env_id)` builds one from
any id `suite_jax.load` accepts.

It behaves like `suite_gym.load(id)`:

- unbatched: a `JaxEnvironment` with `batch_size=1` has its batch of one squeezed away
  (time steps and actions carry no batch dimension); an unbatched one is used as is;
- specs are the JAX environment's (JAX's 32-bit dtypes); time steps are NumPy arrays;
- auto-reset: `step()` after a LAST time step ignores the action and returns FIRST.
  The reset is the JAX environment's own (its pure `step` after LAST), so the time steps
  are exactly those of the JAX environment stepped directly from the same key;
- `seed(n)`: the next `reset()` uses `jax.random.PRNGKey(n)`, exactly as
  `jax_env.reset(jax.random.PRNGKey(n))`; later explicit resets draw
  `jax.random.fold_in(PRNGKey(n), i)` for the i-th one after it. Without `seed`, the
  constructor's `seed` (default 0) plays that role;
- actions are checked against the spec as every `PyEnvironment` checks them (lossless
  dtype casts, shape, bounds); a bad one is a `ValueError`, never clipped;
- `render()` gives the JAX environment's frame when it can render (the native
  CartPole and Pendulum can); otherwise (gymnax, Brax) a `NotImplementedError` saying so.

`reset` and `step` are each jitted once; a step costs one dispatch and one device-to-host
copy of the time step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from agentax.environments.jax_environment import JaxEnvironment, JaxEnvState
from agentax.environments.py_environment import PyEnvironment
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts

_LAST = int(ts.StepType.LAST)


class JaxAsPyEnvironment(PyEnvironment):
    """Steps `jax_env` (unbatched or `batch_size=1`) from Python; see the module docstring."""

    def __init__(self, jax_env: JaxEnvironment, seed: int = 0, validate_actions: bool = True,
                 name: str | None = None):
        if not isinstance(jax_env, JaxEnvironment):
            raise TypeError(f"JaxAsPyEnvironment: `jax_env` must be a JaxEnvironment, got {type(jax_env).__name__}")
        if jax_env.batch_size not in (None, 1):
            raise ValueError(f"JaxAsPyEnvironment: `jax_env` must be unbatched or have batch_size=1, got "
                             f"batch_size={jax_env.batch_size}; batch JAX environments with vmap instead")
        super().__init__(validate_actions)
        self.jax_env = jax_env
        self.name = name or type(jax_env).__name__
        self._squeeze = jax_env.batch_size == 1
        self._observation_spec = jax_env.observation_spec()
        self._action_spec = jax_env.action_spec()
        # The action a step after LAST passes to the JAX env, which ignores it.
        self._ignored_action = array_spec.map_spec(lambda s: np.zeros(s.shape, s.dtype), self._action_spec)
        self._reset_fn = jax.jit(self._pure_reset)
        self._step_fn = jax.jit(self._pure_step)
        self._state: JaxEnvState | None = None
        self._base_key = jax.random.PRNGKey(self._check_seed(seed))
        self._resets = 0

    # ---- the pure functions, jitted once (the batch of one squeezed away inside them)
    def _unbatch(self, time_step):
        return jax.tree.map(lambda x: x[0], time_step) if self._squeeze else time_step

    def _pure_reset(self, key):
        state, time_step = self.jax_env.reset(key)
        return state, self._unbatch(time_step)

    def _pure_step(self, state, action):
        if self._squeeze:
            action = jax.tree.map(lambda x: jnp.expand_dims(x, 0), action)
        state, time_step = self.jax_env.step(state, action)
        return state, self._unbatch(time_step)

    # ---- specs
    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def reward_spec(self):
        return self.jax_env.reward_spec()

    def discount_spec(self):
        return self.jax_env.discount_spec()

    # ---- the loop
    @staticmethod
    def _check_seed(seed) -> int:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
            raise ValueError(f"JaxAsPyEnvironment: `seed` must be an integer in [0, 2**32), got {seed!r}")
        return int(seed)

    def seed(self, seed: int) -> None:
        """The next `reset()` uses `jax.random.PRNGKey(seed)` (later ones keys folded from it)."""
        self._base_key = jax.random.PRNGKey(self._check_seed(seed))
        self._resets = 0

    def _reset(self) -> ts.TimeStep:
        key = self._base_key if self._resets == 0 else jax.random.fold_in(self._base_key, self._resets)
        self._resets += 1
        self._state, time_step = self._reset_fn(key)
        return jax.device_get(time_step)

    def step(self, action) -> ts.TimeStep:
        """Apply `action`; after a LAST step the action is ignored (not checked) and the JAX
        environment's own reset gives the FIRST step."""
        current = self._current_time_step
        if current is None:
            return self.reset()
        if int(current.step_type) == _LAST:
            action = self._ignored_action
        elif self._validate_actions:
            action = self._check_action(action)
        self._current_time_step = self._step(action)
        return self._current_time_step

    def _step(self, action) -> ts.TimeStep:
        self._state, time_step = self._step_fn(self._state, action)
        return jax.device_get(time_step)

    @property
    def state(self) -> JaxEnvState | None:
        """The JAX environment's current state (None before the first reset)."""
        return self._state

    def render(self, mode: str = "rgb_array") -> np.ndarray:
        """The JAX environment's RGB frame of the current state, or `NotImplementedError`
        when it cannot render (gymnax and Brax environments here)."""
        if mode != "rgb_array":
            raise ValueError(f"render: `mode` must be 'rgb_array', got {mode!r}")
        if self._state is None:
            self.reset()
        try:
            frame = self.jax_env.render(self._state)
        except NotImplementedError as err:
            raise NotImplementedError(f"{self.name}: this compiled environment cannot render ({err})") from None
        return np.asarray(frame)

    def close(self) -> None:
        self._state = None
        self._current_time_step = None


def load(env_id: str, seed: int = 0) -> JaxAsPyEnvironment:
    """`suite_jax.load(env_id)` (native, gymnax or Brax id) as a `PyEnvironment`, like `suite_gym.load`."""
    from agentax.environments import suite_jax
    return JaxAsPyEnvironment(suite_jax.load(env_id), seed=seed, name=env_id)
