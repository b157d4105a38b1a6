"""Load a compiled environment by id: agentax's own JAX environments, then gymnax's, then Brax's.

Native ids win: `CartPole-v0`, `CartPole-v1` and `Pendulum-v1` are agentax's own
(Gymnasium's dynamics, no extra needed). Then any gymnax id (`agentax[gymnax]`), then
any Brax name (`halfcheetah`, `hopper`, ...; `agentax[brax]`) through `suite_brax`.
"""

from __future__ import annotations

from agentax.environments.env_ids import unknown_id_error
from agentax.environments.jax_cartpole import CartPole
from agentax.environments.jax_environment import JaxEnvironment
from agentax.environments.jax_pendulum import Pendulum

_NATIVE = {
    "CartPole-v0": lambda batch_size: CartPole(max_episode_steps=200, batch_size=batch_size),
    "CartPole-v1": lambda batch_size: CartPole(max_episode_steps=500, batch_size=batch_size),
    "Pendulum-v1": lambda batch_size: Pendulum(max_episode_steps=200, batch_size=batch_size),
}


def _gymnax_ids() -> list[str]:
    try:
        from agentax.environments import suite_gymnax
    except ImportError:
        return []
    return suite_gymnax.registered_ids()


def _brax_ids() -> list[str]:
    from agentax.environments import suite_brax
    return suite_brax.registered_ids()  # [] when brax is not installed


def registered_ids() -> list[str]:
    ids = list(_NATIVE)
    ids += [i for i in _gymnax_ids() if i not in ids]
    ids += [i for i in _brax_ids() if i not in ids]
    return ids


def load(env_id: str, batch_size: int | None = None) -> JaxEnvironment:
    """A `JaxEnvironment` by id: native first, then gymnax's, then Brax's (if installed)."""
    if isinstance(env_id, str) and env_id in _NATIVE:
        return _NATIVE[env_id](batch_size)
    if isinstance(env_id, str) and env_id in _gymnax_ids():
        from agentax.environments import suite_gymnax
        return suite_gymnax.load(env_id, batch_size=batch_size)
    if isinstance(env_id, str) and env_id in _brax_ids():
        from agentax.environments import suite_brax
        return suite_brax.load(env_id, batch_size=batch_size)
    raise unknown_id_error("suite_jax.load", env_id, registered_ids())
