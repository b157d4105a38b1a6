"""Load any registered Gymnasium environment as a `PyEnvironment` by id."""

from __future__ import annotations

import os
import warnings
from typing import Callable, Sequence

# Rendering uses pygame (SDL); headless machines have no audio device or display.
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

from agentax.environments.env_ids import unknown_id_error
from agentax.environments.py_environment import PyEnvironment
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts


class GymWrapper(PyEnvironment):
    """Wraps a `gymnasium.Env`.

    Termination gives a LAST step with discount 0; truncation (a time limit)
    gives a LAST step with discount 1, so bootstrapping stays correct.
    """

    def __init__(self, gym_env: gym.Env, discount: float = 1.0, validate_actions: bool = True):
        super().__init__(validate_actions)
        self._env = gym_env
        self._discount = np.float32(discount)
        self._observation_spec = array_spec.from_gym_space(gym_env.observation_space, name="observation")
        self._action_spec = array_spec.from_gym_space(gym_env.action_space, name="action")
        # Gymnasium's Discrete spaces want a Python int; other spaces take arrays.
        self._discrete_actions = isinstance(gym_env.action_space, gym.spaces.Discrete)
        self._next_seed: int | None = None
        self._info: dict = {}

    @property
    def gym(self) -> gym.Env:
        """The wrapped Gymnasium environment."""
        return self._env

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def seed(self, seed: int) -> None:
        self._next_seed = int(seed)

    def _reset(self) -> ts.TimeStep:
        seed, self._next_seed = self._next_seed, None
        observation, self._info = self._env.reset(seed=seed)
        return ts.restart(observation)

    def _step(self, action) -> ts.TimeStep:
        if self._discrete_actions:
            action = int(action)
        observation, reward, terminated, truncated, self._info = self._env.step(action)
        if terminated:
            return ts.termination(observation, reward)
        if truncated:
            return ts.truncation(observation, reward, self._discount)
        return ts.transition(observation, reward, self._discount)

    def get_info(self) -> dict:
        return self._info

    def render(self, mode: str = "rgb_array"):
        if mode != "rgb_array":
            raise ValueError(f"render: `mode` must be 'rgb_array', got {mode!r}")
        frame = self._env.render()
        if frame is None:
            raise RuntimeError(f"{self._env.spec.id if self._env.spec else self._env} was not "
                               "created with render_mode='rgb_array'")
        return np.asarray(frame)

    def close(self) -> None:
        self._env.close()


def _check_env_id(env_id: str) -> None:
    if not isinstance(env_id, str) or env_id not in gym.registry:
        raise unknown_id_error("suite_gym.load", env_id, gym.registry.keys())


def load(env_id: str, discount: float = 1.0, max_episode_steps: int | None = None,
         gym_kwargs: dict | None = None,
         env_wrappers: Sequence[Callable[[PyEnvironment], PyEnvironment]] = (),
         render_mode: str | None = "rgb_array",
         gym_env_wrappers: Sequence[Callable[[gym.Env], gym.Env]] = ()) -> PyEnvironment:
    """A registered Gymnasium environment as a `PyEnvironment`.

    `max_episode_steps` overrides the registered time limit (`CartPole-v0`: 200,
    `CartPole-v1`: 500). `gym_env_wrappers` (Gymnasium wrappers) are applied in
    order to the Gymnasium env, `env_wrappers` (e.g. `agentax.environments.wrappers`)
    in order to the wrapped `PyEnvironment`, as in TF-Agents.

    Differences from TF-Agents: the time limit is Gymnasium's own `TimeLimit`
    (it tells truncation from termination, so the LAST step keeps discount 1 as
    TF-Agents' `wrappers.TimeLimit` gives), and `max_episode_steps=0` is refused
    rather than meaning "no limit".
    """
    _check_env_id(env_id)
    kwargs = dict(gym_kwargs or {})
    if render_mode is not None:
        kwargs.setdefault("render_mode", render_mode)
    if max_episode_steps is not None:
        if max_episode_steps < 1:
            raise ValueError(f"suite_gym.load: `max_episode_steps` must be >= 1, got {max_episode_steps}")
        kwargs["max_episode_steps"] = max_episode_steps
    with warnings.catch_warnings():  # e.g. "CartPole-v0 is out of date": the reference uses it on purpose
        warnings.filterwarnings("ignore", message=".*is out of date.*")
        gym_env = gym.make(env_id, **kwargs)
    for gym_wrapper in gym_env_wrappers:
        gym_env = gym_wrapper(gym_env)
    env: PyEnvironment = GymWrapper(gym_env, discount=discount)
    for wrapper in env_wrappers:
        env = wrapper(env)
    return env
