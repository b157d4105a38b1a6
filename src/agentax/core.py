"""What every layer may import: the compiled observer protocol.

Drivers, metrics and replay buffers all speak it, so it lives below them (the
reference keeps observers as plain callables; compiled code needs a pure core).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


class JaxObserver:
    """A compiled observer: `init(batch_size) -> state`, `update(state, item) -> state`.

    `state` holds the current state for stateful use; drivers read and write it.
    """

    state: Any = None

    def init(self, batch_size: int | None):
        raise NotImplementedError

    def update(self, state, item):
        raise NotImplementedError

    def reset(self) -> None:
        self.state = None

    def __call__(self, item) -> None:
        """Eager use: update the held state with one (batched or unbatched) trajectory."""
        if self.state is None:
            shape = jnp.shape(item.step_type)
            self.state = self.init(shape[0] if shape else None)
        if not hasattr(self, "_update_jit"):
            self._update_jit = jax.jit(self.update)
        self.state = self._update_jit(self.state, item)
