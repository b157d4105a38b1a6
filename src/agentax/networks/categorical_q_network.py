"""`CategoricalQNetwork`: observation -> logits of a return distribution per action (Flax)."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn

from agentax.networks.q_network import QNetwork


class CategoricalQNetwork(QNetwork):
    """As `QNetwork`, with `num_atoms` logits per action: `[..., num_actions, num_atoms]`
    (C51's distribution over a fixed support, the agent's `min_q_value..max_q_value`)."""

    fc_layer_params: Sequence[int] | None = (200,)
    num_atoms: int = 51

    @nn.compact
    def __call__(self, observation):
        logits = self.head(self.num_actions * self.num_atoms)(self.encode(observation))
        return logits.reshape(logits.shape[:-1] + (self.num_actions, self.num_atoms))
