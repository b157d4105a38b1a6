"""Any environment gymnax registers, as a `JaxEnvironment` (needs the `gymnax` extra).

gymnax's step gives `(obs, state, reward, terminated, truncated, info)`; here a
terminated step is LAST with discount 0, a truncated one LAST with discount 1,
and the true final observation is kept (the reset happens on the next step).
"""

from __future__ import annotations

import gymnax
import jax.numpy as jnp
from gymnax.environments import spaces

from agentax.environments.env_ids import unknown_id_error
from agentax.environments.jax_environment import JaxEnvironment
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts


def registered_ids() -> list[str]:
    return list(gymnax.registered_envs)


def spec_from_space(space, name: str):
    """A gymnax space as a spec nest: through Gymnasium's space and `from_gym_space`,
    with JAX's 32-bit dtypes (one converter for both libraries)."""
    return array_spec.to_jax_spec(array_spec.from_gym_space(spaces.gymnax_space_to_gym_space(space), name=name))


class GymnaxEnvironment(JaxEnvironment):
    """Adapts a gymnax environment and its params."""

    def __init__(self, gymnax_env, env_params, batch_size: int | None = None):
        super().__init__(batch_size)
        self.gymnax_env = gymnax_env
        self.env_params = env_params
        self._observation_spec = spec_from_space(gymnax_env.observation_space(env_params), "observation")
        self._action_spec = spec_from_space(gymnax_env.action_space(env_params), "action")

    @property
    def max_episode_steps(self) -> int:
        return int(self.env_params.max_steps_in_episode)

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def _observation(self, obs):
        return jnp.asarray(obs, self._observation_spec.dtype) if isinstance(
            self._observation_spec, array_spec.ArraySpec) else obs

    def _reset(self, key):
        obs, state = self.gymnax_env.reset_env(key, self.env_params)
        return state, ts.restart(self._observation(obs))

    def _step(self, env_state, action, key):
        obs, state, reward, terminated, _ = self.gymnax_env.step_env(key, env_state, action, self.env_params)
        truncated = self.gymnax_env.is_truncated(state, self.env_params)
        step_type = jnp.where(terminated | truncated, ts.StepType.LAST, ts.StepType.MID)
        discount = jnp.where(terminated, 0.0, 1.0).astype(jnp.float32)
        reward = jnp.asarray(reward, jnp.float32).reshape(())
        return state, ts.TimeStep(step_type, reward, discount, self._observation(obs))


def load(env_id: str, batch_size: int | None = None, **param_overrides) -> GymnaxEnvironment:
    """A gymnax environment by id; `param_overrides` replace fields of its default params."""
    if not isinstance(env_id, str) or env_id not in gymnax.registered_envs:
        raise unknown_id_error("suite_gymnax.load", env_id, registered_ids())
    env, params = gymnax.make(env_id)
    if param_overrides:
        params = params.replace(**param_overrides)
    return GymnaxEnvironment(env, params, batch_size)
