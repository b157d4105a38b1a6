"""Specs for arrays and nests of arrays."""

from agentax.specs.array_spec import (ArraySpec, BoundedArraySpec, from_gym_space, sample_spec_nest,
                                      validate)

__all__ = ["ArraySpec", "BoundedArraySpec", "from_gym_space", "sample_spec_nest", "validate"]
