"""Pendulum-v1 in JAX, following Gymnasium's `PendulumEnv` step for step.

Same constants (g = 10, m = l = 1, dt = 0.05, max speed 8, max torque 2), the same
reset (theta uniform on [-pi, pi], theta_dot on [-1, 1]), cost and Euler step, and
Gymnasium's 200-step time limit: the 200th step is LAST with discount 1 (Pendulum
never terminates). gymnax's Pendulum-v1 computes the same; this native one needs no
extra, so `suite_jax.load("Pendulum-v1")` works on the base install, and it renders.

Actions are float32 of shape (1,) in [-2, 2]. A concrete action outside them is
refused (eager calls, `StatefulJaxEnvironment.step`), as is any inside `jit` when
`check_actions` is on; otherwise, inside `jit`, it is clipped as Gymnasium clips it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agentax.environments.jax_environment import JaxEnvironment, JaxEnvState
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts

MAX_SPEED = 8.0
MAX_TORQUE = 2.0
DT = 0.05
GRAVITY = 10.0
MASS = 1.0
LENGTH = 1.0


class PendulumState(NamedTuple):
    theta: jax.Array       # float32 angle (0 = upright)
    theta_dot: jax.Array   # float32 angular velocity
    t: jax.Array           # int32 steps taken in the episode


def angle_normalize(x):
    return ((x + jnp.pi) % (2 * jnp.pi)) - jnp.pi


def observation(theta, theta_dot):
    return jnp.stack([jnp.cos(theta), jnp.sin(theta), theta_dot]).astype(jnp.float32)


def dynamics(theta, theta_dot, torque):
    """`(new theta, new theta_dot, reward)` of Gymnasium's step with `torque` clipped to +-2."""
    u = jnp.clip(torque, -MAX_TORQUE, MAX_TORQUE)
    costs = angle_normalize(theta) ** 2 + 0.1 * theta_dot ** 2 + 0.001 * u ** 2
    new_theta_dot = theta_dot + (3 * GRAVITY / (2 * LENGTH) * jnp.sin(theta) + 3.0 / (MASS * LENGTH ** 2) * u) * DT
    new_theta_dot = jnp.clip(new_theta_dot, -MAX_SPEED, MAX_SPEED)
    return theta + new_theta_dot * DT, new_theta_dot, -costs


class Pendulum(JaxEnvironment):
    """Pendulum-v1 with Gymnasium's dynamics; `max_episode_steps` is the time limit."""

    def __init__(self, max_episode_steps: int = 200, batch_size: int | None = None):
        super().__init__(batch_size)
        if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, (int, np.integer)) \
                or max_episode_steps < 1:
            raise ValueError(f"Pendulum: `max_episode_steps` must be an integer >= 1, got {max_episode_steps!r}")
        self.max_episode_steps = int(max_episode_steps)
        high = np.array([1.0, 1.0, MAX_SPEED], np.float32)
        self._observation_spec = array_spec.BoundedArraySpec((3,), np.float32, -high, high, name="observation")
        self._action_spec = array_spec.BoundedArraySpec((1,), np.float32, -MAX_TORQUE, MAX_TORQUE, name="action")

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def _reset(self, key):
        high = jnp.array([jnp.pi, 1.0], jnp.float32)
        theta, theta_dot = jax.random.uniform(key, (2,), jnp.float32, -high, high)
        return PendulumState(theta, theta_dot, jnp.int32(0)), ts.restart(observation(theta, theta_dot))

    def _step(self, env_state: PendulumState, action, key):
        theta, theta_dot, reward = dynamics(env_state.theta, env_state.theta_dot, action[0])
        t = env_state.t + 1
        step_type = jnp.where(t >= self.max_episode_steps, ts.StepType.LAST, ts.StepType.MID)
        time_step = ts.TimeStep(step_type, reward.astype(jnp.float32), jnp.float32(1.0),
                                observation(theta, theta_dot))
        return PendulumState(theta, theta_dot, t), time_step

    def render(self, state: JaxEnvState) -> np.ndarray:
        return render_frame(float(self.first_state(state).theta))


_SIZE = 500


def render_frame(theta: float) -> np.ndarray:
    """A 500x500 RGB frame in Gymnasium's Pendulum style (red rod from a black axle)."""
    scale = _SIZE / 4.4
    centre = _SIZE // 2
    rod_len, half_width = LENGTH * scale, 0.1 * scale
    frame = np.full((_SIZE, _SIZE, 3), 255, np.uint8)
    yy, xx = np.mgrid[0:_SIZE, 0:_SIZE]
    dx, dy = xx - centre, (_SIZE - 1 - yy) - centre  # y measured upwards
    ux, uy = -math.sin(theta), math.cos(theta)  # theta = 0 points up, as Gymnasium draws it
    along = dx * ux + dy * uy
    across = np.abs(dx * uy - dy * ux)
    rod = ((along >= 0) & (along <= rod_len) & (across <= half_width)) | \
        (dx ** 2 + dy ** 2 <= half_width ** 2) | ((dx - ux * rod_len) ** 2 + (dy - uy * rod_len) ** 2 <= half_width ** 2)
    frame[rod] = (204, 77, 77)
    frame[dx ** 2 + dy ** 2 <= (0.05 * scale) ** 2] = 0
    return frame
