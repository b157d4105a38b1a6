"""Small action distributions (pytrees, so they pass through `jit`)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Categorical(NamedTuple):
    """A categorical over `logits[..., n]`, with values shifted by `offset`
    (the action spec's minimum)."""

    logits: jax.Array
    offset: int = 0

    def log_prob(self, value):
        index = (value - self.offset).astype(jnp.int32)
        log_probs = jax.nn.log_softmax(self.logits)
        return jnp.take_along_axis(log_probs, index[..., None], axis=-1)[..., 0]

    def sample(self, key, dtype=jnp.int32):
        return (jax.random.categorical(key, self.logits) + self.offset).astype(dtype)

    def mode(self, dtype=jnp.int32):
        return (jnp.argmax(self.logits, axis=-1) + self.offset).astype(dtype)

    def entropy(self):
        log_probs = jax.nn.log_softmax(self.logits)
        return -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)

    def probs(self):
        return jax.nn.softmax(self.logits)

    def kl_divergence(self, other: "Categorical"):
        """`KL(self || other)` over the last axis."""
        log_p = jax.nn.log_softmax(self.logits)
        return jnp.sum(jnp.exp(log_p) * (log_p - jax.nn.log_softmax(other.logits)), axis=-1)


class Normal(NamedTuple):
    """Independent normals over the last axis (log-probabilities and entropies are summed)."""

    loc: jax.Array
    scale: jax.Array

    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return jnp.sum(-0.5 * z**2 - jnp.log(self.scale) - 0.5 * math.log(2 * math.pi), axis=-1)

    def sample(self, key, dtype=jnp.float32):
        return (self.loc + self.scale * jax.random.normal(key, self.loc.shape)).astype(dtype)

    def mode(self, dtype=jnp.float32):
        return self.loc.astype(dtype)

    def entropy(self):
        return jnp.sum(0.5 + 0.5 * math.log(2 * math.pi) + jnp.log(self.scale), axis=-1)

    def kl_divergence(self, other: "Normal"):
        """`KL(self || other)`, summed over the last axis."""
        ratio = (self.scale / other.scale) ** 2
        return jnp.sum(0.5 * (ratio + ((self.loc - other.loc) / other.scale) ** 2 - 1.0 - jnp.log(ratio)), axis=-1)


class Deterministic(NamedTuple):
    """A point mass at `loc` (TFP's `Deterministic`): what `ActorPolicy` makes of an actor
    network that returns actions (DDPG's and TD3's `ActorNetwork`), as TF-Agents' does.
    Log-probabilities and entropies are summed over the last axis, as `Normal`'s."""

    loc: jax.Array

    def log_prob(self, value):
        return jnp.sum(jnp.where(value == self.loc, 0.0, -jnp.inf), axis=-1)

    def sample(self, key, dtype=jnp.float32):
        return self.loc.astype(dtype)

    def mode(self, dtype=jnp.float32):
        return self.loc.astype(dtype)

    def entropy(self):
        return jnp.zeros(self.loc.shape[:-1], jnp.float32)
