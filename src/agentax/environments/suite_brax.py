"""Brax's environments (`brax.envs`) as compiled `JaxEnvironment`s (needs the `brax` extra).

`load("halfcheetah")` wraps `brax.envs.get_environment(name)` (the raw environment,
without Brax's own `EpisodeWrapper`/`AutoResetWrapper`) so that it behaves like every
other `JaxEnvironment`:

- a step after LAST ignores the action and starts a new episode (auto-reset);
- Brax's `done` (e.g. Hopper falling) is a termination: LAST with discount 0;
- reaching `episode_length` steps (Brax's `envs.create` default, 1000) is a
  truncation: LAST with discount 1, as TF-Agents' `TimeLimit` gives. The final
  observation is the true one (Brax's auto-reset wrapper would replace it);
- rewards are float32 scalars, observations float32 with unbounded specs, actions
  float32 bounded by the actuators' `ctrl_range` (`[-1, 1]` when the env has none
  or it is unbounded), as Brax's own Gym wrapper declares them.

`brax` 0.14 co-installs with jax 0.10; compiling a physics env takes seconds to
tens of seconds on CPU (HalfCheetah about 10 s), the trivial `fast` env well under one.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agentax.environments.env_ids import unknown_id_error
from agentax.environments.jax_environment import JaxEnvironment
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts

try:
    with warnings.catch_warnings():  # brax's imports warn about deprecations in its dependencies
        warnings.simplefilter("ignore")
        from brax import envs as brax_envs
except ImportError:  # the extra is not installed
    brax_envs = None

INSTALL_HINT = "pip install 'agentax[brax]'"


def is_available() -> bool:
    """Whether `brax` (the `agentax[brax]` extra) is installed."""
    return brax_envs is not None


def _require_brax(loader: str) -> None:
    if brax_envs is None:
        raise ImportError(f"{loader} needs Brax, which is not installed: {INSTALL_HINT}")


def registered_ids() -> list[str]:
    """Brax's registered environment names (`ant`, `halfcheetah`, `hopper`, ...); [] without brax."""
    return sorted(brax_envs._envs) if brax_envs is not None else []  # brax keeps its registry private


class BraxState(NamedTuple):
    brax_state: Any   # brax.envs.State (pipeline state, obs, reward, done, metrics, info)
    t: jax.Array      # int32 steps taken in the episode


def _raw_key(key):
    """Brax wants a raw uint32[2] key; new-style typed keys are unwrapped."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


def _action_bounds(brax_env, action_size: int) -> tuple[np.ndarray, np.ndarray]:
    sys = getattr(brax_env.unwrapped, "sys", None)
    ctrl_range = getattr(getattr(sys, "actuator", None), "ctrl_range", None) if sys is not None else None
    if ctrl_range is not None:
        ctrl_range = np.asarray(ctrl_range, np.float32)
        if ctrl_range.shape == (action_size, 2) and np.all(np.isfinite(ctrl_range)):
            return ctrl_range[:, 0], ctrl_range[:, 1]
    return np.full(action_size, -1.0, np.float32), np.full(action_size, 1.0, np.float32)


class BraxEnvironment(JaxEnvironment):
    """Adapts a Brax `Env` (the raw one from `brax.envs.get_environment`)."""

    def __init__(self, brax_env, episode_length: int = 1000, batch_size: int | None = None):
        super().__init__(batch_size)
        if isinstance(episode_length, bool) or not isinstance(episode_length, (int, np.integer)) \
                or episode_length < 1:
            raise ValueError(f"BraxEnvironment: `episode_length` must be an int >= 1, got {episode_length!r}")
        self.brax_env = brax_env
        self.max_episode_steps = int(episode_length)
        shapes = jax.eval_shape(lambda key: brax_env.reset(key).obs, jax.random.PRNGKey(0))
        self._observation_spec = jax.tree.map(
            lambda s: array_spec.BoundedArraySpec(s.shape, np.float32, -np.inf, np.inf, name="observation"),
            shapes)
        action_size = int(brax_env.action_size)
        low, high = _action_bounds(brax_env, action_size)
        self._action_spec = array_spec.BoundedArraySpec(
            (action_size,), np.float32, array_spec_bound(low), array_spec_bound(high), name="action")

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def _observation(self, obs):
        return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), obs)

    def _reset(self, key):
        state = self.brax_env.reset(_raw_key(key))
        state = state.replace(reward=jnp.asarray(state.reward, jnp.float32),
                              done=jnp.asarray(state.done, jnp.float32))
        return BraxState(state, jnp.int32(0)), ts.restart(self._observation(state.obs))

    def _step(self, env_state: BraxState, action, key):
        state = self.brax_env.step(env_state.brax_state, action)
        state = state.replace(reward=jnp.asarray(state.reward, jnp.float32),
                              done=jnp.asarray(state.done, jnp.float32))
        t = env_state.t + 1
        terminated = state.done > 0.5
        truncated = t >= self.max_episode_steps
        step_type = jnp.where(terminated | truncated, ts.StepType.LAST, ts.StepType.MID)
        discount = jnp.where(terminated, 0.0, 1.0).astype(jnp.float32)
        time_step = ts.TimeStep(step_type, state.reward.reshape(()), discount, self._observation(state.obs))
        return BraxState(state, t), time_step


def array_spec_bound(bound: np.ndarray):
    """One scalar when every element is equal (as `from_gym_space` simplifies Box bounds)."""
    return bound.flat[0] if np.all(bound == bound.flat[0]) else bound


def load(env_name: str, episode_length: int = 1000, batch_size: int | None = None,
         **env_kwargs) -> BraxEnvironment:
    """A Brax environment by name (`brax.envs.get_environment(env_name, **env_kwargs)`,
    e.g. `backend="generalized"`) as a `JaxEnvironment` with an `episode_length` time limit."""
    _require_brax("suite_brax.load")
    if not isinstance(env_name, str) or env_name not in brax_envs._envs:
        raise unknown_id_error("suite_brax.load", env_name, registered_ids())
    with warnings.catch_warnings():  # "Brax System, pipelines and environments are not actively maintained"
        warnings.filterwarnings("ignore", message=".*not actively being maintained.*")
        brax_env = brax_envs.get_environment(env_name, **env_kwargs)
    return BraxEnvironment(brax_env, episode_length=episode_length, batch_size=batch_size)
