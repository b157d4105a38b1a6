"""Specs for arrays and nests of arrays (`tensor_spec` holds the JAX-side helpers)."""

from agentax.specs.array_spec import (ArraySpec, BoundedArraySpec, conform, from_gym_space, lossless_cast,
                                      sample_spec_nest, validate)

__all__ = ["ArraySpec", "BoundedArraySpec", "conform", "from_gym_space", "lossless_cast", "sample_spec_nest",
           "validate"]
