"""The pure cores, each run both jitted and not (chex variants), with shapes and dtypes checked."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from agentax.environments import suite_jax
from agentax.metrics import jax_metrics
from agentax.policies.random_jax_policy import RandomJaxPolicy
from agentax.specs import tensor_spec
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import StepType, Trajectory, time_step as ts


def trajectory(step_type, next_step_type, reward):
    step_type = jnp.asarray(step_type, jnp.int32)
    return Trajectory(step_type, jnp.zeros(step_type.shape), jnp.zeros(step_type.shape, jnp.int32), (),
                      jnp.asarray(next_step_type, jnp.int32), jnp.asarray(reward, jnp.float32),
                      jnp.ones(step_type.shape, jnp.float32))


class PureFunctionsTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_cartpole_reset_and_step(self):
        env = suite_jax.load("CartPole-v0", batch_size=3)
        state, time_step = self.variant(env.reset)(jax.random.PRNGKey(0))
        chex.assert_shape(time_step.observation, (3, 4))
        chex.assert_shape([time_step.step_type, time_step.reward, time_step.discount], (3,))
        chex.assert_type([time_step.observation, time_step.reward, time_step.discount], jnp.float32)
        np.testing.assert_array_equal(time_step.step_type, [StepType.FIRST] * 3)
        state, time_step = self.variant(env.step)(state, jnp.ones(3, jnp.int32))
        np.testing.assert_array_equal(time_step.step_type, [StepType.MID] * 3)
        np.testing.assert_array_equal(time_step.reward, [1.0] * 3)
        chex.assert_type(time_step.step_type, jnp.int32)

    @chex.variants(with_jit=True, without_jit=True)
    def test_average_return_update_and_result(self):
        metric = jax_metrics.AverageReturnMetric(buffer_size=2)
        update, result = self.variant(metric.update), self.variant(metric.result)
        state = metric.init(2)
        chex.assert_shape([state.running, state.buffer], [(2,), (2,)])
        for step_type, next_type, reward in [([0, 0], [1, 1], [1, 2]), ([1, 1], [2, 1], [3, 4]),
                                             ([2, 1], [0, 2], [0, 5])]:
            state = update(state, trajectory(step_type, next_type, reward))
        chex.assert_shape(result(state), ())
        chex.assert_type(result(state), jnp.float32)
        self.assertAlmostEqual(float(result(state)), (4 + 11) / 2)

    @chex.variants(with_jit=True, without_jit=True)
    def test_counters(self):
        steps, episodes = jax_metrics.EnvironmentSteps(), jax_metrics.NumberOfEpisodes()
        traj = trajectory([0, 2, 1], [1, 0, 2], [1, 1, 1])
        self.assertEqual(int(self.variant(steps.update)(steps.init(3), traj)), 2)
        self.assertEqual(int(self.variant(episodes.update)(episodes.init(3), traj)), 1)

    @chex.variants(with_jit=True, without_jit=True)
    def test_sample_spec_nest(self):
        spec = {"d": BoundedArraySpec((2,), np.int32, 0, 3), "c": BoundedArraySpec((), np.float32, -1.0, 1.0)}
        sample = self.variant(lambda key: tensor_spec.sample_spec_nest(spec, key, (7,)))(jax.random.PRNGKey(0))
        chex.assert_shape([sample["d"], sample["c"]], [(7, 2), (7,)])
        chex.assert_type([sample["d"], sample["c"]], [jnp.int32, jnp.float32])
        assert (np.asarray(sample["d"]) >= 0).all() and (np.asarray(sample["d"]) <= 3).all()

    @chex.variants(with_jit=True, without_jit=True)
    def test_random_jax_policy_action(self):
        spec = BoundedArraySpec((), np.int32, 0, 1)
        policy = RandomJaxPolicy(ts.time_step_spec(ArraySpec((4,), np.float32)), spec)
        time_step = ts.restart(jnp.zeros((5, 4)), batch_size=5)
        step = self.variant(lambda key: policy.action(None, time_step, (), key))(jax.random.PRNGKey(1))
        chex.assert_shape(step.action, (5,))
        chex.assert_type(step.action, jnp.int32)

    @chex.variants(with_jit=True, without_jit=True)
    def test_time_step_constructors_on_jax_arrays(self):
        def build(observation, reward):
            return ts.restart(observation, batch_size=4), ts.termination(observation, reward)
        first, last = self.variant(build)(jnp.zeros((4, 2)), jnp.ones(4))
        chex.assert_shape([first.step_type, first.discount, last.step_type, last.discount], (4,))
        chex.assert_type([first.step_type, last.step_type], jnp.int32)
        np.testing.assert_array_equal(last.discount, np.zeros(4))
        np.testing.assert_array_equal(last.step_type, [StepType.LAST] * 4)
