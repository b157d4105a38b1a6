"""Gymnasium's MuJoCo environments (HalfCheetah-v5, Hopper-v5, ...) as `PyEnvironment`s.

Mirrors `tf_agents.environments.suite_mujoco`: a thin layer over `suite_gym.load`
that checks the MuJoCo bindings are installed (`pip install 'agentax[mujoco]'`)
and that the id names a MuJoCo environment. TF-Agents used `mujoco_py`; here it is
DeepMind's `mujoco` package, through `gymnasium[mujoco]`.

Rendering needs an OpenGL backend: with no `DISPLAY`, `MUJOCO_GL` defaults to
`egl` here (set before `mujoco` is first imported; an explicit setting wins).
Observations keep Gymnasium's float64 dtype, as TF-Agents' specs do.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402

from agentax.environments import suite_gym  # noqa: E402
from agentax.environments.env_ids import unknown_id_error  # noqa: E402
from agentax.environments.py_environment import PyEnvironment  # noqa: E402

try:
    import mujoco  # noqa: F401
except ImportError:  # the extra is not installed
    mujoco = None

INSTALL_HINT = "pip install 'agentax[mujoco]'"


def is_available() -> bool:
    """Whether the `mujoco` package (the `agentax[mujoco]` extra) is installed."""
    return mujoco is not None


def _is_mujoco_entry(spec) -> bool:
    entry = spec.entry_point
    return isinstance(entry, str) and entry.startswith("gymnasium.envs.mujoco")


def registered_ids() -> list[str]:
    """The Gymnasium ids of MuJoCo environments (all versions; v5 is current)."""
    return [env_id for env_id, spec in gym.registry.items() if _is_mujoco_entry(spec)]


def _require_mujoco(loader: str) -> None:
    if mujoco is None:
        raise ImportError(f"{loader} needs the MuJoCo bindings, which are not installed: {INSTALL_HINT}")


def load(env_id: str, discount: float = 1.0, max_episode_steps: int | None = None,
         gym_env_wrappers: Sequence[Callable[[gym.Env], gym.Env]] = (),
         env_wrappers: Sequence[Callable[[PyEnvironment], PyEnvironment]] = (),
         gym_kwargs: dict | None = None,
         render_mode: str | None = "rgb_array") -> PyEnvironment:
    """A Gymnasium MuJoCo environment as a `PyEnvironment` (see `suite_gym.load`).

    The argument order is TF-Agents' (`discount`, `max_episode_steps`,
    `gym_env_wrappers`, `env_wrappers`); `spec_dtype_map` has no counterpart.
    `max_episode_steps=None` keeps the registered limit (1000 for most,
    Reacher 50, Pusher 100); it ends an episode with a LAST step of discount 1.
    Raises `ImportError` naming the pip command when the extra is missing, and
    `ValueError` for an id that is not a MuJoCo environment.
    """
    _require_mujoco("suite_mujoco.load")
    if not isinstance(env_id, str) or env_id not in gym.registry or not _is_mujoco_entry(gym.registry[env_id]):
        raise unknown_id_error("suite_mujoco.load", env_id, registered_ids())
    return suite_gym.load(env_id, discount=discount, max_episode_steps=max_episode_steps,
                          gym_kwargs=gym_kwargs, env_wrappers=env_wrappers, render_mode=render_mode,
                          gym_env_wrappers=gym_env_wrappers)
