"""`TanhNormalProjectionNetwork`: features -> a tanh-squashed diagonal normal over a bounded
continuous action (TF-Agents' `tf_agents.agents.sac.tanh_normal_projection_network`, the SAC
actor head), and `TanhNormal`, the distribution it returns.

Plug it into an actor: `ActorDistributionNetwork(obs_spec, action_spec, fc_layer_params=(256, 256),
continuous_projection_net=TanhNormalProjectionNetwork)`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from agentax.specs import array_spec

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
# `log_prob(value)` inverts the squashing with atanh; values at the bounds map to +-inf, so the
# unit-interval value is clipped this far inside (float32 tanh saturates at |x| ~ 9 anyway).
_ATANH_EPS = 1e-6


def std_clip_transform(stddevs):
    """`exp(clip(x, -20, 2))`: the standard deviation from an unbounded network output
    (TF-Agents' `sac_agent.std_clip_transform`; softlearning's and SB3's log-std range)."""
    return jnp.exp(jnp.clip(stddevs, -20.0, 2.0))


def _log1m_tanh_sq(x):
    """`log(1 - tanh(x)**2)`, stable for large |x| (tfp's Tanh bijector's form)."""
    return 2.0 * (math.log(2.0) - x - jax.nn.softplus(-2.0 * x))


class TanhNormal(NamedTuple):
    """`center + half_range * tanh(x)`, `x ~ Normal(loc, scale)` independently per action
    element (TF-Agents: a `MultivariateNormalDiag` through `scale_distribution_to_spec`).

    `log_prob` is summed over the last axis and includes the change of variables:
    `log p(a) = log N(x; loc, scale) - sum log(half_range * (1 - tanh(x)**2))`.
    `center`/`half_range` broadcast against `loc` (the spec's `(max + min) / 2`, `(max - min) / 2`).
    """

    loc: jax.Array
    scale: jax.Array
    center: jax.Array
    half_range: jax.Array

    def _squash(self, x):
        action = self.center + self.half_range * jnp.tanh(x)
        # tanh is in [-1, 1], but center + half_range * 1 may round one ulp past an asymmetric bound.
        return jnp.clip(action, self.center - self.half_range, self.center + self.half_range)

    def _log_prob_pre_squash(self, x):
        z = (x - self.loc) / self.scale
        normal = -0.5 * z**2 - jnp.log(self.scale) - _HALF_LOG_2PI
        log_det = jnp.log(self.half_range) + _log1m_tanh_sq(x)
        return jnp.sum(normal - log_det, axis=-1)

    def sample_and_log_prob(self, key, dtype=jnp.float32):
        """A sample and its log-probability, computed from the pre-squash sample (no atanh:
        exact even where tanh saturates); what SAC's losses use."""
        x = self.loc + self.scale * jax.random.normal(key, jnp.shape(self.loc), jnp.result_type(self.loc))
        return self._squash(x).astype(dtype), self._log_prob_pre_squash(x)

    def sample(self, key, dtype=jnp.float32):
        return self.sample_and_log_prob(key, dtype)[0]

    def log_prob(self, value):
        """Log-density of actions `value` (inverted through atanh, clipped `1e-6` inside the bounds)."""
        unit = (jnp.asarray(value, jnp.float32) - self.center) / self.half_range
        x = jnp.arctanh(jnp.clip(unit, -1.0 + _ATANH_EPS, 1.0 - _ATANH_EPS))
        return self._log_prob_pre_squash(x)

    def mode(self, dtype=jnp.float32):
        """`squash(loc)` (TF-Agents' `SquashToSpecNormal.mode`): the greedy action."""
        return self._squash(self.loc).astype(dtype)

    def entropy(self):
        """An estimate: the normal's entropy plus the log-Jacobian at `loc` (the tanh-normal has no
        closed form; TF-Agents raises `NotImplementedError` here)."""
        normal = jnp.sum(0.5 + _HALF_LOG_2PI + jnp.log(self.scale), axis=-1)
        return normal + jnp.sum(jnp.log(self.half_range) + _log1m_tanh_sq(self.loc), axis=-1)


def _bounded_continuous(sample_spec, owner: str) -> array_spec.BoundedArraySpec:
    leaves = array_spec.flatten(sample_spec)
    if len(leaves) != 1:
        raise ValueError(f"{owner}: only a single spec is supported, got `sample_spec` {sample_spec}")
    spec = leaves[0]
    if array_spec.is_discrete(spec) or not isinstance(spec, array_spec.BoundedArraySpec):
        raise ValueError(f"{owner}: `sample_spec` must be a bounded float spec, got {spec}")
    low, high = np.broadcast_to(spec.minimum, spec.shape), np.broadcast_to(spec.maximum, spec.shape)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
        raise ValueError(f"{owner}: `sample_spec` needs finite bounds with maximum > minimum, got {spec}")
    return spec


class TanhNormalProjectionNetwork(nn.Module):
    """One dense layer of `2 * action size` units (`activation_fn` on it if given): means and
    pre-transform standard deviations, `std_transform` applied to the latter; returns a
    `TanhNormal` scaled to `sample_spec`'s bounds. Any outer dims of `inputs` are kept.

    Differences from TF-Agents: `std_transform` defaults to `std_clip_transform` (log-std
    clipped to [-20, 2]) instead of a bare `exp`, which overflows to an infinite scale (and
    NaN log-probabilities) on extreme inputs; no `outer_rank` argument (outer dims are
    inferred); the dense kernel is Glorot-uniform as Keras' default.
    """

    sample_spec: Any
    activation_fn: Callable | None = None
    std_transform: Callable | None = std_clip_transform

    @nn.compact
    def __call__(self, inputs):
        spec = _bounded_continuous(self.sample_spec, type(self).__name__)
        size = int(np.prod(spec.shape))
        out = nn.Dense(2 * size, kernel_init=nn.initializers.glorot_uniform(), name="projection_layer")(
            jnp.asarray(inputs, jnp.float32))
        if self.activation_fn is not None:
            out = self.activation_fn(out)
        means, stds = jnp.split(out, 2, axis=-1)
        outer = out.shape[:-1]
        means = means.reshape(outer + tuple(spec.shape))
        stds = stds.reshape(outer + tuple(spec.shape))
        if self.std_transform is not None:
            stds = self.std_transform(stds)
        low = np.broadcast_to(np.asarray(spec.minimum, np.float32), spec.shape)
        high = np.broadcast_to(np.asarray(spec.maximum, np.float32), spec.shape)
        return TanhNormal(means, stds, jnp.asarray((high + low) / 2.0), jnp.asarray((high - low) / 2.0))
