"""Python policies: epsilon-greedy mixing, random sampling, scripts; values, dtypes and shapes."""

import jax
import numpy as np
import pytest

from agentax.environments import BatchedPyEnvironment
from agentax.policies import FixedPolicy, PyEpsilonGreedyPolicy, RandomPyPolicy, ScriptedPyPolicy
from agentax.specs import array_spec
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import time_step as ts

from helpers import FixedLengthEnv

SPEC = BoundedArraySpec((), np.int64, 0, 4, name="action")
TIME_STEP_SPEC = ts.time_step_spec(ArraySpec((), np.int32))


def time_step(batch=None):
    return ts.restart(np.zeros(() if batch is None else (batch,), np.int32), batch_size=batch)


def epsilon_greedy(epsilon, seed=0):
    greedy = FixedPolicy(TIME_STEP_SPEC, SPEC, np.int64(0))
    random = FixedPolicy(TIME_STEP_SPEC, SPEC, np.int64(4))  # tells exploring steps apart
    return PyEpsilonGreedyPolicy(greedy, epsilon, random_policy=random, seed=seed)


@pytest.mark.parametrize("epsilon,expected", [(0.0, 0.0), (1.0, 1.0), (0.25, 0.25)])
def test_epsilon_is_the_fraction_of_random_actions(epsilon, expected):
    policy = epsilon_greedy(epsilon)
    actions = np.array([policy.action(time_step()).action for _ in range(4000)])
    assert actions.dtype == np.int64 and set(np.unique(actions)) <= {0, 4}
    assert np.mean(actions == 4) == pytest.approx(expected, abs=0.03)


def test_epsilon_greedy_draws_per_batch_element_and_is_seeded():
    policy = epsilon_greedy(0.5, seed=3)
    actions = np.stack([policy.action(time_step(batch=8)).action for _ in range(200)])
    assert actions.shape == (200, 8) and actions.dtype == np.int64
    rows_mixed = np.mean([(row == 4).any() and (row == 0).any() for row in actions])
    assert rows_mixed > 0.9  # elements explore independently within a step
    again = epsilon_greedy(0.5, seed=3)
    np.testing.assert_array_equal(actions, np.stack([again.action(time_step(batch=8)).action for _ in range(200)]))


def test_epsilon_greedy_keeps_the_greedy_policy_state_and_default_random_stays_in_spec():
    greedy = ScriptedPyPolicy(TIME_STEP_SPEC, SPEC, [(3, np.int64(2))])
    policy = PyEpsilonGreedyPolicy(greedy, 0.5, seed=0)
    assert policy.action_spec == SPEC and policy.policy_state_spec == greedy.policy_state_spec
    state = policy.get_initial_state()
    actions = []
    for _ in range(300):
        step = policy.action(time_step(), state)
        state = step.state
        actions.append(int(step.action))
    assert int(state) == 300  # the script's counter advanced on every step, explored or not
    assert set(actions) == {0, 1, 2, 3, 4} and 0 <= min(actions) and max(actions) <= 4


@pytest.mark.parametrize("epsilon", [-0.1, 1.5, float("nan")])
def test_epsilon_outside_unit_interval_is_refused(epsilon):
    with pytest.raises(ValueError, match="`epsilon`"):
        epsilon_greedy(epsilon)


def test_random_policy_in_another_spec_is_refused():
    greedy = FixedPolicy(TIME_STEP_SPEC, SPEC, np.int64(0))
    other = RandomPyPolicy(TIME_STEP_SPEC, BoundedArraySpec((), np.int32, 0, 4))
    with pytest.raises(ValueError, match="`random_policy`"):
        PyEpsilonGreedyPolicy(greedy, 0.1, random_policy=other)


@pytest.mark.parametrize("spec", [SPEC, BoundedArraySpec((2,), np.float32, -1.0, [0.5, 2.0]),
                                  {"a": BoundedArraySpec((), np.int32, -3, 3), "b": ArraySpec((3,), np.float32)}])
@pytest.mark.parametrize("batch", [None, 5])
def test_random_policy_is_seeded_within_bounds_with_batch_shapes(spec, batch):
    def draw(n):
        policy = RandomPyPolicy(TIME_STEP_SPEC, spec, seed=1)
        return jax.tree.map(lambda *xs: np.stack(xs), *[policy.action(time_step(batch)).action for _ in range(n)])

    actions = draw(300)
    outer = (300,) + (() if batch is None else (batch,))
    for leaf_spec, values in zip(array_spec.flatten(spec), jax.tree.leaves(actions)):
        assert values.shape == outer + leaf_spec.shape and values.dtype == leaf_spec.dtype
        if isinstance(leaf_spec, BoundedArraySpec):
            assert (values >= leaf_spec.minimum).all() and (values <= leaf_spec.maximum).all()
        else:
            assert np.isfinite(values).all()
    jax.tree.map(np.testing.assert_array_equal, actions, draw(300))


def test_random_policy_covers_every_discrete_value_and_drives_a_batched_env():
    env = BatchedPyEnvironment([FixedLengthEnv(2), FixedLengthEnv(3)])
    policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    time_step_ = env.reset()
    seen = set()
    for _ in range(50):
        action = policy.action(time_step_).action
        assert action.shape == (2,) and action.dtype == np.int64
        seen |= set(action.tolist())
        time_step_ = env.step(action)
    assert seen == {0, 1}


def test_scripted_policy_plays_its_script_then_repeats_the_last_action():
    policy = ScriptedPyPolicy(TIME_STEP_SPEC, SPEC, [(2, np.int64(1)), (1, np.int64(3))])
    state, actions = policy.get_initial_state(), []
    for _ in range(5):
        step = policy.action(time_step(), state)
        actions.append(int(step.action))
        state = step.state
    assert actions == [1, 1, 3, 3, 3] and state.dtype == np.int64
    with pytest.raises(ValueError, match="action_script action"):
        ScriptedPyPolicy(TIME_STEP_SPEC, SPEC, [(1, np.int64(9))])
