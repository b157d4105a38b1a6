"""TF-Agents' environment wrappers, Python (`wrappers`) and compiled (`jax_wrappers`).

Both forms wrap the same toy walk (deterministic, no randomness): position p starts
at 0, an action a in [-1, 1] moves it to p + a, the reward is the new p, and p >= 2.5
terminates (discount 0). The observation is [p, t] (t = steps taken), or with
`nested`, {"pos": [p], "time": [t, 2t]}. Hand-worked values below follow from that.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.environments import jax_wrappers, wrappers
from agentax.environments.jax_environment import JaxEnvironment
from agentax.environments.py_environment import PyEnvironment
from agentax.specs import array_spec
from agentax.trajectories import StepType
from agentax.trajectories import time_step as ts

FIRST, MID, LAST = int(StepType.FIRST), int(StepType.MID), int(StepType.LAST)
GOAL = 2.5


def _specs(nested):
    action = array_spec.BoundedArraySpec((1,), np.float32, -1.0, 1.0, name="action")
    if nested:
        observation = {"pos": array_spec.BoundedArraySpec((1,), np.float32, -100.0, 100.0, name="pos"),
                       "time": array_spec.ArraySpec((2,), np.float32, name="time")}
    else:
        observation = array_spec.BoundedArraySpec((2,), np.float32, [-100.0, 0.0], [100.0, 1000.0],
                                                  name="observation")
    return observation, action


class PyWalk(PyEnvironment):
    def __init__(self, nested=False):
        super().__init__()
        self.nested = nested
        self._obs_spec, self._act_spec = _specs(nested)

    def observation_spec(self):
        return self._obs_spec

    def action_spec(self):
        return self._act_spec

    def _obs(self):
        if self.nested:
            return {"pos": np.array([self.p], np.float32), "time": np.array([self.t, 2 * self.t], np.float32)}
        return np.array([self.p, self.t], np.float32)

    def _reset(self):
        self.p, self.t = np.float32(0), 0
        return ts.restart(self._obs())

    def _step(self, action):
        self.p, self.t = np.float32(self.p + action[0]), self.t + 1
        if self.p >= GOAL:
            return ts.termination(self._obs(), self.p)
        return ts.transition(self._obs(), self.p)


class JaxWalk(JaxEnvironment):
    def __init__(self, nested=False, batch_size=None):
        super().__init__(batch_size)
        self.nested = nested
        self._obs_spec, self._act_spec = _specs(nested)

    def observation_spec(self):
        return self._obs_spec

    def action_spec(self):
        return self._act_spec

    def _obs(self, p, t):
        t = t.astype(jnp.float32)
        if self.nested:
            return {"pos": p[None], "time": jnp.stack([t, 2 * t])}
        return jnp.stack([p, t])

    def _reset(self, key):
        p, t = jnp.float32(0), jnp.int32(0)
        return (p, t), ts.restart(self._obs(p, t))

    def _step(self, state, action, key):
        p, t = state[0] + action[0], state[1] + 1
        done = p >= GOAL
        step_type = jnp.where(done, StepType.LAST, StepType.MID)
        return (p, t), ts.TimeStep(step_type, p, jnp.where(done, 0.0, 1.0).astype(jnp.float32), self._obs(p, t))


def py_run(env, actions):
    """[reset, step(a) for a in actions] as NumPy time steps."""
    out = [env.reset()]
    out += [env.step(np.array([a], np.float32)) for a in actions]
    return [jax.tree.map(np.asarray, t) for t in out]


def jax_run(env, actions, batch=None):
    state, time_step = env.reset(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    out = [time_step]
    for a in actions:
        action = jnp.full((batch, 1) if batch else (1,), a, jnp.float32)
        state, time_step = step(state, action)
        out.append(time_step)
    return [jax.tree.map(np.asarray, t) for t in out]


def summary(steps):
    return [(int(t.step_type), float(t.reward), float(t.discount)) for t in steps]


def assert_same_runs(py_steps, jax_steps):
    assert len(py_steps) == len(jax_steps)
    for i, (p, j) in enumerate(zip(py_steps, jax_steps)):
        assert int(p.step_type) == int(j.step_type), i
        np.testing.assert_allclose(float(p.reward), float(j.reward), rtol=1e-6, err_msg=str(i))
        assert float(p.discount) == float(j.discount), i
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=str(i)),
                     p.observation, j.observation)


def both(wrapper_name, *args, nested=False, **kwargs):
    py_env = getattr(wrappers, wrapper_name)(PyWalk(nested), *args, **kwargs)
    jax_env = getattr(jax_wrappers, wrapper_name)(JaxWalk(nested), *args, **kwargs)
    return py_env, jax_env


# ---------------------------------------------------------------- TimeLimit

def test_time_limit_truncates_with_discount_one_then_resets():
    actions = [0.5] * 4 + [1.0] * 3
    py_env, jax_env = both("TimeLimit", 3)
    py_steps = py_run(py_env, actions)
    # p: .5, 1, 1.5 (3rd step: truncated) | reset | 1, 2, 3 (3rd: terminates and hits the limit)
    assert summary(py_steps) == [(FIRST, 0, 1), (MID, .5, 1), (MID, 1, 1), (LAST, 1.5, 1),
                                 (FIRST, 0, 1), (MID, 1, 1), (MID, 2, 1), (LAST, 3, 0)]
    np.testing.assert_array_equal(py_steps[3].observation, [1.5, 3])  # the true last observation
    assert py_env.duration == 3 and py_env.max_episode_steps == 3
    assert_same_runs(py_steps, jax_run(jax_env, actions))
    assert jax_env.max_episode_steps == 3


def test_time_limit_leaves_earlier_terminations_alone():
    py_env, jax_env = both("TimeLimit", 10)
    actions = [1.0] * 4
    py_steps = py_run(py_env, actions)
    assert summary(py_steps) == [(FIRST, 0, 1), (MID, 1, 1), (MID, 2, 1), (LAST, 3, 0), (FIRST, 0, 1)]
    assert_same_runs(py_steps, jax_run(jax_env, actions))


# ---------------------------------------------------------------- ActionRepeat

def test_action_repeat_sums_rewards_and_stops_at_last():
    py_env, jax_env = both("ActionRepeat", 2)
    actions = [0.5, 0.5, 0.5, 1.0, 0.75]
    py_steps = py_run(py_env, actions)
    # .5+1 = 1.5 | 1.5+2 = 3.5 | 2.5 terminates on the first repeat: stop, reward 2.5 |
    # reset (the 1.0 is ignored) | .75+1.5 = 2.25
    assert summary(py_steps) == [(FIRST, 0, 1), (MID, 1.5, 1), (MID, 3.5, 1), (LAST, 2.5, 0),
                                 (FIRST, 0, 1), (MID, 2.25, 1)]
    np.testing.assert_array_equal(py_steps[3].observation, [2.5, 5])  # 5 inner steps, not 6
    assert py_steps[3].reward.dtype == np.float32
    assert_same_runs(py_steps, jax_run(jax_env, actions))


def test_action_repeat_under_a_time_limit_and_vmapped():
    actions = [0.25] * 4
    py_env = wrappers.ActionRepeat(wrappers.TimeLimit(PyWalk(), 3), 2)
    py_steps = py_run(py_env, actions)
    # inner limit 3: .25+.5 | .75 then LAST at the limit (stops after one repeat) | reset | .25+.5
    assert summary(py_steps) == [(FIRST, 0, 1), (MID, .75, 1), (LAST, .75, 1), (FIRST, 0, 1), (MID, .75, 1)]
    jax_env = jax_wrappers.ActionRepeat(jax_wrappers.TimeLimit(JaxWalk(batch_size=3), 3), 2)
    assert jax_env.batch_size == 3 and jax_env.max_episode_steps == 2  # ceil(3 / 2)
    batched = jax_run(jax_env, actions, batch=3)
    for k in range(3):
        assert_same_runs(py_steps, [jax.tree.map(lambda x, k=k: x[k], t) for t in batched])


def test_action_repeat_needs_more_than_one_repeat():
    for module, env in ((wrappers, PyWalk()), (jax_wrappers, JaxWalk())):
        for bad in (1, 0, 2.0, True):
            with pytest.raises(ValueError, match="`times` must be an integer greater than 1"):
                module.ActionRepeat(env, bad)


# ---------------------------------------------------------------- ActionClipWrapper

def test_action_clip_clips_to_the_bounds():
    py_env, jax_env = both("ActionClipWrapper")
    actions = [5.0, -3.0, 0.5, 7.0, 9.0]
    py_steps = py_run(py_env, actions)
    # clipped: 1, -1, .5, 1, 1 -> p = 1, 0, .5, 1.5, 2.5 (terminates)
    assert summary(py_steps) == [(FIRST, 0, 1), (MID, 1, 1), (MID, 0, 1), (MID, .5, 1), (MID, 1.5, 1),
                                 (LAST, 2.5, 0)]
    assert_same_runs(py_steps, jax_run(jax_env, actions))
    walk = PyWalk()
    walk.reset()
    with pytest.raises(ValueError, match="`action`"):  # unwrapped: refused, never clipped
        walk.step(np.array([5.0], np.float32))
    py_env.reset()
    with pytest.raises(ValueError, match="`action`.*shape"):  # shapes are still checked
        py_env.step(np.array([5.0, 1.0], np.float32))
    state, _ = jax_env.reset(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="`action`.*shape"):
        jax_env.step(state, jnp.zeros((2,), jnp.float32))


# ---------------------------------------------------------------- observations

def test_observation_filter_keeps_the_listed_elements():
    py_env, jax_env = both("ObservationFilterWrapper", [1])
    spec = py_env.observation_spec()
    assert spec.shape == (1,) and spec.minimum.tolist() == [0.0] and spec.maximum.tolist() == [1000.0]
    assert jax_env.observation_spec() == spec
    py_steps = py_run(py_env, [0.5, 0.5])
    assert [t.observation.tolist() for t in py_steps] == [[0], [1], [2]]  # t only
    assert_same_runs(py_steps, jax_run(jax_env, [0.5, 0.5]))
    for bad, match in (([2], "out of bounds"), ([], "at least one"), ([[0]], "1-D"), ([0.5], "integers")):
        with pytest.raises(ValueError, match=match):
            wrappers.ObservationFilterWrapper(PyWalk(), bad)
    with pytest.raises(ValueError, match="not nested"):
        jax_wrappers.ObservationFilterWrapper(JaxWalk(nested=True), [0])


def test_flatten_observations_packs_in_key_order():
    py_env, jax_env = both("FlattenObservationsWrapper", nested=True)
    spec = py_env.observation_spec()
    assert spec == array_spec.ArraySpec((3,), np.float32, name="packed_observations")
    assert jax_env.observation_spec() == spec
    py_steps = py_run(py_env, [0.5, 0.25])
    assert [t.observation.tolist() for t in py_steps] == [[0, 0, 0], [.5, 1, 2], [.75, 2, 4]]  # pos, time
    assert_same_runs(py_steps, jax_run(jax_env, [0.5, 0.25]))

    py_env, jax_env = both("FlattenObservationsWrapper", ["time"], nested=True)
    assert py_env.observation_spec().shape == (2,) and jax_env.observation_spec().shape == (2,)
    py_steps = py_run(py_env, [0.5])
    assert py_steps[1].observation.tolist() == [1, 2]
    assert_same_runs(py_steps, jax_run(jax_env, [0.5]))
    with pytest.raises(ValueError, match="not found in the environment: \\['speed'\\]"):
        wrappers.FlattenObservationsWrapper(PyWalk(nested=True), ["speed"])
    with pytest.raises(ValueError, match="must return a dict"):
        jax_wrappers.FlattenObservationsWrapper(JaxWalk(), ["pos"])


def test_history_zero_pads_and_includes_actions():
    py_env, jax_env = both("HistoryWrapper", 3, include_actions=True)
    spec = py_env.observation_spec()
    assert spec["observation"].shape == (3, 2) and spec["action"].shape == (3, 1)
    py_steps = py_run(py_env, [0.5, 1.0, 1.0, 0.25])
    obs = [t.observation["observation"].tolist() for t in py_steps]
    act = [t.observation["action"].tolist() for t in py_steps]
    assert obs[0] == [[0, 0], [0, 0], [0, 0]] and act[0] == [[0], [0], [0]]
    assert obs[1] == [[0, 0], [0, 0], [.5, 1]] and act[1] == [[0], [0], [.5]]
    assert obs[3] == [[.5, 1], [1.5, 2], [2.5, 3]] and act[3] == [[.5], [1], [1]]  # LAST (terminated)
    assert obs[4] == [[0, 0], [0, 0], [0, 0]] and act[4] == [[0], [0], [0]]  # reset: padded again
    assert int(py_steps[3].step_type) == LAST and int(py_steps[4].step_type) == FIRST
    assert_same_runs(py_steps, jax_run(jax_env, [0.5, 1.0, 1.0, 0.25]))

    py_env, jax_env = both("HistoryWrapper", 2)  # observations only
    assert py_env.observation_spec().shape == (2, 2) == jax_env.observation_spec().shape
    py_steps = py_run(py_env, [0.5, 0.5])
    assert py_steps[2].observation.tolist() == [[.5, 1], [1, 2]]
    assert_same_runs(py_steps, jax_run(jax_env, [0.5, 0.5]))


# ---------------------------------------------------------------- RunStats

def test_run_stats_counts_episodes_resets_and_steps():
    env = wrappers.RunStats(wrappers.TimeLimit(PyWalk(), 2))
    assert (env.episodes, env.resets, env.episode_steps, env.total_steps) == (0, 0, 0, 0)
    env.reset()
    assert (env.episodes, env.resets, env.episode_steps, env.total_steps) == (0, 1, 0, 0)
    env.step(np.array([0.5], np.float32))
    env.step(np.array([0.5], np.float32))  # LAST (time limit)
    assert (env.episodes, env.resets, env.episode_steps, env.total_steps) == (1, 1, 2, 2)
    env.step(np.array([0.5], np.float32))  # the reset step: the action is ignored
    assert (env.episodes, env.resets, env.episode_steps, env.total_steps) == (1, 2, 0, 2)
    env.step(np.array([0.5], np.float32))
    assert (env.episodes, env.resets, env.episode_steps, env.total_steps) == (1, 2, 1, 3)
    env.reset()  # an episode left unfinished is not counted
    assert (env.episodes, env.resets, env.episode_steps, env.total_steps) == (1, 3, 0, 3)


# ---------------------------------------------------------------- the wrapper base

def test_wrappers_forward_attributes_and_refuse_bad_arguments():
    walk = PyWalk()
    walk.max_episode_steps = 7
    env = wrappers.HistoryWrapper(wrappers.TimeLimit(walk, 5), 2)
    assert env.max_episode_steps == 5 and env.wrapped_env().wrapped_env() is walk
    assert env.action_spec() == walk.action_spec() and not env.batched
    jax_env = jax_wrappers.TimeLimit(JaxWalk(batch_size=2), 4)
    assert jax_env.batch_size == 2 and jax_env.nested is False  # forwarded
    with pytest.raises(TypeError, match="`env` must be a PyEnvironment"):
        wrappers.TimeLimit(JaxWalk(), 3)
    with pytest.raises(TypeError, match="`env` must be a JaxEnvironment"):
        jax_wrappers.TimeLimit(PyWalk(), 3)
    from agentax.environments.jax_py_environment import JaxPyEnvironment
    with pytest.raises(TypeError, match="wrappers.TimeLimit before JaxPyEnvironment"):
        jax_wrappers.TimeLimit(JaxPyEnvironment(PyWalk()), 3)
    with pytest.raises(ValueError, match="`duration` must be an integer >= 1, got 0"):
        wrappers.TimeLimit(PyWalk(), 0)
    with pytest.raises(ValueError, match="`history_length`"):
        jax_wrappers.HistoryWrapper(JaxWalk(), 0)
    from agentax.environments.batched_py_environment import BatchedPyEnvironment
    with pytest.raises(ValueError, match="TimeLimit: `env` must be unbatched"):
        wrappers.TimeLimit(BatchedPyEnvironment([PyWalk(), PyWalk()]), 3)


def test_batched_python_env_through_clip_and_flatten():
    from agentax.environments.batched_py_environment import BatchedPyEnvironment
    env = wrappers.FlattenObservationsWrapper(wrappers.ActionClipWrapper(
        BatchedPyEnvironment([PyWalk(nested=True), PyWalk(nested=True)])))
    env.reset()
    time_step = env.step(np.array([[3.0], [-0.5]], np.float32))
    assert env.batched and env.batch_size == 2
    assert time_step.observation.tolist() == [[1, 1, 2], [-0.5, 1, 2]]


def test_suite_gym_applies_env_wrappers():
    from agentax.environments import suite_gym
    env = suite_gym.load("Pendulum-v1", env_wrappers=[lambda e: wrappers.ActionRepeat(e, 4),
                                                      wrappers.RunStats])
    env.reset()
    for _ in range(50):  # 200 inner steps: Gymnasium's limit ends the episode on the 50th
        time_step = env.step(np.zeros(1, np.float32))
    assert int(time_step.step_type) == LAST and float(time_step.discount) == 1.0
    assert (env.episodes, env.total_steps) == (1, 50)
