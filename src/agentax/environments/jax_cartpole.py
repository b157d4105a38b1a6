"""CartPole in JAX, following Gymnasium's `CartPoleEnv` dynamics step for step.

`CartPole-v0` ends at 200 steps and `CartPole-v1` at 500 (a LAST step with
discount 1); falling over or leaving the track terminates (discount 0).
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

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_CART + MASS_POLE
HALF_POLE_LENGTH = 0.5
POLE_MASS_LENGTH = MASS_POLE * HALF_POLE_LENGTH
FORCE_MAG = 10.0
TAU = 0.02
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4


class CartPoleState(NamedTuple):
    physics: jax.Array   # float32 [x, x_dot, theta, theta_dot]
    t: jax.Array         # int32 steps taken in the episode


def dynamics(physics: jax.Array, action: jax.Array) -> jax.Array:
    """One Euler step of Gymnasium's CartPole equations."""
    x, x_dot, theta, theta_dot = physics[0], physics[1], physics[2], physics[3]
    force = jnp.where(action == 1, FORCE_MAG, -FORCE_MAG)
    costheta, sintheta = jnp.cos(theta), jnp.sin(theta)
    temp = (force + POLE_MASS_LENGTH * theta_dot**2 * sintheta) / TOTAL_MASS
    thetaacc = (GRAVITY * sintheta - costheta * temp) / (
        HALF_POLE_LENGTH * (4.0 / 3.0 - MASS_POLE * costheta**2 / TOTAL_MASS))
    xacc = temp - POLE_MASS_LENGTH * thetaacc * costheta / TOTAL_MASS
    return jnp.stack([x + TAU * x_dot, x_dot + TAU * xacc, theta + TAU * theta_dot, theta_dot + TAU * thetaacc])


def is_terminated(physics: jax.Array) -> jax.Array:
    x, theta = physics[0], physics[2]
    return (x < -X_THRESHOLD) | (x > X_THRESHOLD) | (theta < -THETA_THRESHOLD) | (theta > THETA_THRESHOLD)


class CartPole(JaxEnvironment):
    """CartPole with Gymnasium's dynamics; `max_episode_steps` is the time limit.

    Actions are int32 in {0, 1}. An action outside them is refused when it is
    concrete (eager calls, `StatefulJaxEnvironment.step`) and inside `jit` when
    `check_actions` is on; otherwise, inside `jit`, any action but 1 pushes left.
    """

    def __init__(self, max_episode_steps: int = 500, batch_size: int | None = None):
        super().__init__(batch_size)
        if max_episode_steps < 1:
            raise ValueError(f"CartPole: `max_episode_steps` must be >= 1, got {max_episode_steps}")
        self.max_episode_steps = max_episode_steps
        high = np.array([X_THRESHOLD * 2, np.inf, THETA_THRESHOLD * 2, np.inf], np.float32)
        self._observation_spec = array_spec.BoundedArraySpec((4,), np.float32, -high, high, name="observation")
        self._action_spec = array_spec.BoundedArraySpec((), np.int32, 0, 1, name="action")

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def _reset(self, key):
        physics = jax.random.uniform(key, (4,), jnp.float32, -0.05, 0.05)
        return CartPoleState(physics, jnp.int32(0)), ts.restart(physics)

    def _step(self, env_state: CartPoleState, action, key):
        physics = dynamics(env_state.physics, action)
        t = env_state.t + 1
        terminated = is_terminated(physics)
        truncated = t >= self.max_episode_steps
        step_type = jnp.where(terminated | truncated, ts.StepType.LAST, ts.StepType.MID)
        discount = jnp.where(terminated, 0.0, 1.0).astype(jnp.float32)
        time_step = ts.TimeStep(step_type, jnp.float32(1.0), discount, physics)
        return CartPoleState(physics, t), time_step

    def render(self, state: JaxEnvState) -> np.ndarray:
        return render_frame(np.asarray(self.first_state(state).physics))


_WIDTH, _HEIGHT = 600, 400


def render_frame(physics: np.ndarray) -> np.ndarray:
    """A 400x600 RGB frame in Gymnasium's CartPole style (cart, pole, axle, track)."""
    scale = _WIDTH / (X_THRESHOLD * 2)
    pole_width, pole_len = 10.0, scale * 2 * HALF_POLE_LENGTH
    cart_w, cart_h, cart_y = 50.0, 30.0, 100.0
    x, theta = float(physics[0]), float(physics[2])
    cart_x = x * scale + _WIDTH / 2.0
    frame = np.full((_HEIGHT, _WIDTH, 3), 255, np.uint8)
    yy, xx = np.mgrid[0:_HEIGHT, 0:_WIDTH]
    py = _HEIGHT - 1 - yy  # y measured upwards, as Gymnasium draws before flipping
    cart = (np.abs(xx - cart_x) <= cart_w / 2) & (np.abs(py - cart_y) <= cart_h / 2)
    frame[np.abs(py - cart_y) <= 0.5] = 0  # the track
    frame[cart] = 0
    axle_y = cart_y + cart_h / 4.0
    # The pole: a rectangle from the axle along the direction given by theta (0 = upright).
    ux, uy = math.sin(theta), math.cos(theta)
    dx, dy = xx - cart_x, py - axle_y
    along = dx * ux + dy * uy
    across = np.abs(dx * uy - dy * ux)
    frame[(along >= 0) & (along <= pole_len) & (across <= pole_width / 2)] = (202, 152, 101)
    frame[(dx**2 + dy**2) <= (pole_width / 2) ** 2] = (129, 132, 203)
    return frame
