"""`Sequential`: TF-Agents' `sequential.Sequential` (layers applied in order) as a Flax module."""

from __future__ import annotations

from typing import Any

import flax.linen as nn


class Sequential(nn.Sequential):
    """`layers` applied in order: Flax modules and plain functions, e.g.
    `Sequential([nn.Dense(100), nn.relu, nn.Dense(num_actions)])` as a DQN's `q_network`.

    A Keras `Dense(units, activation=f)` is `nn.Dense(units)` followed by `f` in the list (a Flax
    `Dense` has no activation). `input_spec` is accepted, as TF-Agents' is, and only kept: Flax
    infers input shapes at `init`. As TF-Agents': empty `layers` is a ValueError, a layer that cannot
    be one (here: not callable) a TypeError. Stateful (recurrent) layers are not supported."""

    input_spec: Any = None

    def __post_init__(self):
        if not isinstance(self.layers, (list, tuple)) or not self.layers:
            raise ValueError(f"Sequential: `layers` must be a non-empty list of layers, got {self.layers!r}")
        for i, layer in enumerate(self.layers):
            if not callable(layer):
                raise TypeError(f"Sequential: `layers[{i}]` must be a Flax module or a function, got {layer!r}")
        super().__post_init__()
