"""Load a compiled environment by id: agentax's own JAX environments, then gymnax's."""

from __future__ import annotations

from agentax.environments.env_ids import unknown_id_error
from agentax.environments.jax_cartpole import CartPole
from agentax.environments.jax_environment import JaxEnvironment

_NATIVE = {
    "CartPole-v0": lambda batch_size: CartPole(max_episode_steps=200, batch_size=batch_size),
    "CartPole-v1": lambda batch_size: CartPole(max_episode_steps=500, batch_size=batch_size),
}


def registered_ids() -> list[str]:
    ids = list(_NATIVE)
    try:
        from agentax.environments import suite_gymnax
        ids += [i for i in suite_gymnax.registered_ids() if i not in _NATIVE]
    except ImportError:
        pass
    return ids


def load(env_id: str, batch_size: int | None = None) -> JaxEnvironment:
    """A `JaxEnvironment` by id (native CartPole first, then any gymnax id if gymnax is installed)."""
    if isinstance(env_id, str) and env_id in _NATIVE:
        return _NATIVE[env_id](batch_size)
    try:
        from agentax.environments import suite_gymnax
    except ImportError:
        suite_gymnax = None
    if suite_gymnax is not None and env_id in suite_gymnax.registered_ids():
        return suite_gymnax.load(env_id, batch_size=batch_size)
    raise unknown_id_error("suite_jax.load", env_id, registered_ids())
