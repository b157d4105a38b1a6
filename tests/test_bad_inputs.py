"""The catalogue of bad inputs to specs, environments, drivers and metrics.

Every case expects a clear error naming the argument (and where it helps, the
value or the spec), raised before anything runs for long: never a hang, never a
silent cast or clip. Cases with a documented behaviour instead of an error are
at the end. Each case runs under a time limit.
"""

import signal

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.drivers import DynamicEpisodeDriver, DynamicStepDriver, PyDriver
from agentax.environments import BatchedPyEnvironment, suite_gym, suite_jax
from agentax.environments.jax_cartpole import CartPole
from agentax.environments.jax_environment import StatefulJaxEnvironment
from agentax.environments.jax_py_environment import JaxPyEnvironment
from agentax.metrics import jax_metrics, py_metrics
from agentax.policies import FixedPolicy, RandomPyPolicy
from agentax.policies.random_jax_policy import RandomJaxPolicy
from agentax.specs import array_spec, tensor_spec
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import StepType, time_step as ts

from helpers import CountingJaxPolicy, FixedLengthEnv, FixedLengthJaxEnv


@pytest.fixture(autouse=True)
def no_hang():
    """Fail a case that runs longer than 60 s instead of hanging the suite."""
    def timeout(*_):
        raise TimeoutError("a bad input made this case hang")
    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def reset(env):
    env.reset()
    return env


class Float64Observations(FixedLengthEnv):
    """Declares a float32 observation and returns float64 ones (a bug JaxPyEnvironment must not hide)."""

    def observation_spec(self):
        return ArraySpec((), np.float32, name="observation")

    def _reset(self):
        return ts.restart(np.asarray(0.0))


class HugeObservations(FixedLengthEnv):
    """int64 observations that do not fit JAX's int32."""

    def observation_spec(self):
        return ArraySpec((), np.int64, name="observation")

    def _reset(self):
        return ts.restart(np.asarray(2**40))


def cartpole():
    env = suite_gym.load("CartPole-v0")
    env.reset()
    return env


def pendulum():
    env = suite_gym.load("Pendulum-v1")
    env.reset()
    return env


def jax_cartpole_state():
    env = suite_jax.load("CartPole-v0")
    return env, env.reset(jax.random.PRNGKey(0))[0]


def counting():
    env = FixedLengthJaxEnv([3, 5])
    return env, CountingJaxPolicy(env.time_step_spec(), env.action_spec())


def py_setup():
    env = FixedLengthEnv(3)
    return env, FixedPolicy(env.time_step_spec(), env.action_spec(), np.int64(0))


def unbatched_trajectory():
    env, policy = py_setup()
    out = []
    PyDriver(env, policy, [out.append], max_steps=1).run(env.reset())
    return out[0]


CASES = {
    # ---- specs
    "spec shape negative": (lambda: ArraySpec((-1,), np.float32), ValueError, r"`shape`"),
    "spec shape not a sequence": (lambda: ArraySpec(3, np.float32), TypeError, r"`shape`"),
    "spec shape float": (lambda: ArraySpec((2.5,), np.float32), ValueError, r"`shape`"),
    "spec dtype unknown": (lambda: ArraySpec((), "floot32"), TypeError, r"`dtype` 'floot32'"),
    "bounds minimum > maximum": (lambda: BoundedArraySpec((), np.int64, 3, 1), ValueError, r"`minimum`.*`maximum`"),
    "bounds NaN": (lambda: BoundedArraySpec((), np.float32, np.nan, 1.0), ValueError, r"`minimum` must not be NaN"),
    "bounds not whole for ints": (lambda: BoundedArraySpec((), np.int64, 0, 1.5), ValueError,
                                  r"`maximum` 1.5 is not a whole number"),
    "bounds outside the dtype": (lambda: BoundedArraySpec((), np.uint8, -1, 3), ValueError,
                                 r"`minimum` -1 does not fit dtype uint8"),
    "bounds shape": (lambda: BoundedArraySpec((3,), np.float32, [0, 0], 1), ValueError, r"`minimum` of shape"),
    "validate structure": (lambda: array_spec.validate({"a": ArraySpec((), np.int32)}, (1,), "obs"), ValueError,
                           r"`obs` does not match the structure"),
    "validate dtype": (lambda: array_spec.validate(ArraySpec((), np.int32), np.int64(1), "obs"), ValueError,
                       r"`obs`.*dtype int64, expected int32"),
    "conform lossy": (lambda: array_spec.conform(ArraySpec((), np.int32), 1.5, "act"), ValueError,
                      r"`act`.*dtype float64, expected int32"),
    "outer dims negative": (lambda: tensor_spec.add_outer_dim(ArraySpec((), np.int32), -2), ValueError,
                            r"`outer_dims`"),
    "unsupported gym space": (lambda: array_spec.from_gym_space(gym.spaces.Text(4)), TypeError,
                              r"unsupported space type Text"),
    # ---- Python environments
    "unknown env id": (lambda: suite_gym.load("CartPol-v1"), ValueError, r"`env_id`='CartPol-v1'.*CartPole-v1"),
    "env id not a string": (lambda: suite_gym.load(7), ValueError, r"`env_id`=7"),
    "max_episode_steps 0": (lambda: suite_gym.load("CartPole-v1", max_episode_steps=0), ValueError,
                            r"`max_episode_steps`"),
    "action out of bounds": (lambda: cartpole().step(np.int64(2)), ValueError, r"`action`.*bounds"),
    "action negative": (lambda: cartpole().step(-7), ValueError, r"`action`.*bounds"),
    "action lossy dtype": (lambda: cartpole().step(np.float32(1.0)), ValueError, r"`action`.*dtype float32"),
    "action wrong shape": (lambda: cartpole().step(np.array([0, 1])), ValueError, r"`action`.*shape"),
    "action a string": (lambda: cartpole().step("left"), ValueError, r"`action`.*dtype <U4"),
    "action None": (lambda: cartpole().step(None), ValueError, r"`action`.*dtype object"),
    "continuous action NaN": (lambda: pendulum().step(np.array([np.nan], np.float32)), ValueError,
                              r"`action`.*bounds"),
    "continuous action float64": (lambda: pendulum().step(np.array([0.3])), ValueError,
                                  r"`action`.*dtype float64, expected float32"),
    "render mode": (lambda: cartpole().render("human"), ValueError, r"`mode`"),
    "batched env of nothing": (lambda: BatchedPyEnvironment([]), ValueError, r"`envs`"),
    "batched env of mixed specs": (lambda: BatchedPyEnvironment([FixedLengthEnv(2), suite_gym.load("CartPole-v0")]),
                                   ValueError, r"env 1 has specs"),
    "batched action shape": (lambda: reset(BatchedPyEnvironment([FixedLengthEnv(2), FixedLengthEnv(2)])).step(
        np.zeros(3, np.int64)),
                             ValueError, r"`action`.*shape \(3,\), expected \(2,\)"),
    # ---- compiled environments
    "unknown jax env id": (lambda: suite_jax.load("Cartpole-v0"), ValueError, r"`env_id`='Cartpole-v0'"),
    "jax batch_size 0": (lambda: suite_jax.load("CartPole-v0", batch_size=0), ValueError, r"`batch_size`"),
    "cartpole time limit 0": (lambda: CartPole(max_episode_steps=0), ValueError, r"`max_episode_steps`"),
    "jax action 5": (lambda: (lambda e, s: e.step(s, jnp.int32(5)))(*jax_cartpole_state()), ValueError,
                     r"`action`.*bounds"),
    "jax action lossy dtype": (lambda: (lambda e, s: jax.jit(e.step)(s, jnp.float32(1.0)))(*jax_cartpole_state()),
                               ValueError, r"`action`.*dtype float32, expected int32"),
    "jax action structure": (lambda: (lambda e, s: e.step(s, (jnp.int32(1),)))(*jax_cartpole_state()),
                             ValueError, r"`action` does not match the structure"),
    "jax shell action -7": (lambda: reset(StatefulJaxEnvironment(suite_jax.load("CartPole-v0"))).step(-7),
                            ValueError, r"`action`.*bounds"),
    "JaxPyEnvironment of a JAX env": (lambda: JaxPyEnvironment(suite_jax.load("CartPole-v0")), TypeError,
                                      r"`py_env`"),
    "JaxPyEnvironment step arity": (lambda: JaxPyEnvironment(FixedLengthEnv(2)).step(1, 2, 3), TypeError,
                                    r"\(action\) or \(state, action\)"),
    "JaxPyEnvironment observation dtype": (lambda: JaxPyEnvironment(Float64Observations(2)).reset(), ValueError,
                                           r"`observation` of dtype float64, but its spec says float32"),
    "JaxPyEnvironment int64 overflow": (lambda: JaxPyEnvironment(HugeObservations(2)).reset(), ValueError,
                                        r"`observation` \[1099511627776\] does not fit JAX.s int32"),
    "JaxPyEnvironment under vmap": (lambda: jax.vmap(JaxPyEnvironment(FixedLengthEnv(2)).reset)(
        jax.random.split(jax.random.PRNGKey(0), 2)), ValueError, r"vmap"),
    # ---- PyDriver
    "py driver no limits": (lambda: PyDriver(*py_setup(), max_steps=None, max_episodes=0), ValueError,
                            r"`max_steps` or `max_episodes`"),
    "py driver negative limit": (lambda: PyDriver(*py_setup(), max_steps=-1), ValueError, r"`max_steps` must be >= 0"),
    "py driver float limit": (lambda: PyDriver(*py_setup(), max_episodes=1.5), TypeError,
                              r"`max_episodes` must be an int"),
    "py driver observer not callable": (lambda: PyDriver(*py_setup(), [[]], max_steps=1), TypeError,
                                        r"`observers\[0\]` must be callable"),
    "py driver observers not a list": (lambda: PyDriver(*py_setup(), print, max_steps=1), TypeError,
                                       r"`observers` must be a list"),
    "py driver compiled env": (lambda: PyDriver(suite_jax.load("CartPole-v0"), py_setup()[1], max_steps=1),
                               TypeError, r"`env` is a compiled environment"),
    "py driver not a policy": (lambda: PyDriver(FixedLengthEnv(2), object(), max_steps=1), TypeError, r"`policy`"),
    "py driver run without time step": (lambda: PyDriver(*py_setup(), max_steps=1).run(None), TypeError,
                                        r"`time_step` must be a TimeStep"),
    "py driver policy in another spec": (
        lambda: (lambda env: PyDriver(env, RandomPyPolicy(env.time_step_spec(), BoundedArraySpec((), np.int64, 5, 9)),
                                      max_steps=3).run(env.reset()))(FixedLengthEnv(3)),
        ValueError, r"`action`.*bounds"),
    # ---- compiled drivers
    "step driver num_steps 0": (lambda: DynamicStepDriver(*counting(), num_steps=0), ValueError, r"`num_steps`"),
    "step driver num_steps float": (lambda: DynamicStepDriver(*counting(), num_steps=2.5), TypeError,
                                    r"`num_steps` must be an int"),
    "episode driver num_episodes -1": (lambda: DynamicEpisodeDriver(*counting(), num_episodes=-1), ValueError,
                                       r"`num_episodes`"),
    "episode driver run num_episodes 0": (lambda: DynamicEpisodeDriver(*counting()).run(num_episodes=0), ValueError,
                                          r"`num_episodes`"),
    "driver maximum_iterations 0": (lambda: DynamicStepDriver(*counting()).run(maximum_iterations=0), ValueError,
                                    r"`maximum_iterations` must be >= 1"),
    "compiled driver python env": (lambda: DynamicStepDriver(FixedLengthEnv(2), counting()[1]), TypeError,
                                   r"`env` is a Python environment.*JaxPyEnvironment"),
    "compiled driver python policy": (lambda: DynamicStepDriver(counting()[0], py_setup()[1]), TypeError,
                                      r"`policy` must be a JaxPolicy"),
    "compiled driver spec mismatch": (
        lambda: (lambda env: DynamicStepDriver(env, RandomJaxPolicy(env.time_step_spec(), BoundedArraySpec(
            (), np.int32, 0, 2))))(counting()[0]), ValueError, r"action spec does not match"),
    "compiled driver observer not callable": (lambda: DynamicStepDriver(*counting(), observers=[3]), TypeError,
                                              r"`observers\[0\]`"),
    # ---- metrics
    "metric buffer_size 0": (lambda: py_metrics.AverageReturnMetric(buffer_size=0), ValueError, r"`buffer_size`"),
    "metric buffer_size float": (lambda: jax_metrics.AverageReturnMetric(buffer_size=2.5), ValueError,
                                 r"`buffer_size`"),
    "metric batch_size 0": (lambda: jax_metrics.AverageEpisodeLengthMetric(batch_size=0), ValueError,
                            r"`batch_size`"),
    "metric batch_size mismatch": (lambda: py_metrics.AverageReturnMetric(batch_size=4)(unbatched_trajectory()),
                                   ValueError, r"`batch_size`=4.*batch size 1"),
    "py metric given a time step": (lambda: py_metrics.NumberOfEpisodes()(ts.restart(np.zeros(2))), TypeError,
                                    r"observes a `trajectory`.*got TimeStep"),
    "py metric given a transition": (lambda: py_metrics.AverageReturnMetric()(
        (lambda e, p: [PyDriver(e, p, [], transition_observers=[py_metrics.AverageReturnMetric()],
                                max_steps=1).run(e.reset())])(*py_setup())), TypeError, r"got Transition"),
    "jax metric given a time step": (lambda: jax_metrics.EnvironmentSteps()(ts.restart(jnp.zeros(2))), TypeError,
                                     r"observes a `trajectory`.*got TimeStep"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_clear_error(name):
    fn, error, match = CASES[name]
    with pytest.raises(error, match=match):
        fn()


# ---- documented behaviours instead of errors

def test_step_before_reset_resets():
    env = FixedLengthEnv(3)
    assert int(env.step(np.int64(0)).step_type) == StepType.FIRST  # PyEnvironment: documented auto-reset
    shell = StatefulJaxEnvironment(suite_jax.load("CartPole-v0"))
    assert int(shell.step(1).step_type) == StepType.FIRST


def test_unchecked_out_of_spec_jax_actions_inside_jit_are_documented():
    """Inside `jit`, without `check_actions`, CartPole pushes left on any action but 1 (its docstring)."""
    env, state = jax_cartpole_state()
    step = jax.jit(env.step)
    np.testing.assert_array_equal(step(state, jnp.int32(-7))[1].observation,
                                  step(state, jnp.int32(0))[1].observation)
    assert "any action but 1 pushes left" in " ".join(CartPole.__doc__.split())


def test_lossless_actions_are_accepted_not_refused():
    env = cartpole()
    assert int(env.step(np.int32(1)).step_type) == StepType.MID
    assert int(env.step(1).step_type) in (StepType.MID, StepType.LAST)
