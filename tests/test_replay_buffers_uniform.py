"""PyUniformReplayBuffer, JaxUniformReplayBuffer and JaxPrioritizedReplayBuffer: TF-Agents'/Reverb's rules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.replay_buffers.jax_prioritized_replay_buffer import JaxPrioritizedReplayBuffer
from agentax.replay_buffers.jax_uniform_replay_buffer import JaxUniformReplayBuffer
from agentax.replay_buffers.py_uniform_replay_buffer import PyUniformReplayBuffer
from agentax.specs.array_spec import ArraySpec

SPEC = {"obs": ArraySpec((2,), np.float32), "t": ArraySpec((), np.int64)}


def item(i):
    return {"obs": np.full((1, 2), i, np.float32), "t": np.array([i], np.int64)}


# ---------------------------------------------------------------- PyUniformReplayBuffer

def test_py_uniform_ring_and_consecutive_samples():
    rb = PyUniformReplayBuffer(SPEC, capacity=4, seed=0)
    for i in range(6):  # keeps 2, 3, 4, 5; storage order [4, 5, 2, 3]
        rb.add_batch(item(i))
    assert rb.size == 4
    assert rb.gather_all()["t"].tolist() == [[4, 5, 2, 3]]
    seqs = rb.get_next(sample_batch_size=200, num_steps=3)["t"]
    assert seqs.shape == (200, 3)
    assert {tuple(s) for s in seqs.tolist()} == {(2, 3, 4), (3, 4, 5)}  # never across the write head
    single = rb.get_next()
    assert single["obs"].shape == (2,) and int(single["t"]) in (2, 3, 4, 5)
    unstacked = rb.get_next(num_steps=2, time_stacked=False)
    assert len(unstacked) == 2 and unstacked[1]["t"] == unstacked[0]["t"] + 1


def test_py_uniform_before_full_samples_from_the_start():
    rb = PyUniformReplayBuffer(SPEC, capacity=10, seed=0)
    for i in range(3):
        rb.add_batch(item(i))
    assert set(rb.get_next(100)["t"].tolist()) == {0, 1, 2}
    assert {tuple(s) for s in rb.get_next(100, num_steps=2)["t"].tolist()} == {(0, 1), (1, 2)}


def test_py_uniform_errors():
    rb = PyUniformReplayBuffer(SPEC, capacity=3)
    with pytest.raises(ValueError, match="empty"):
        rb.get_next()
    rb.add_batch(item(0))
    with pytest.raises(ValueError, match="num_steps=2"):
        rb.get_next(num_steps=2)
    two = {"obs": np.zeros((2, 2), np.float32), "t": np.zeros(2, np.int64)}
    with pytest.raises(NotImplementedError, match="batch size of 1"):
        rb.add_batch(two)
    with pytest.raises(ValueError, match="dtype"):
        rb.add_batch({"obs": np.zeros((1, 2)), "t": np.zeros(1, np.int64)})
    with pytest.raises(NotImplementedError):
        rb.num_frames()
    rb.clear()
    assert rb.size == 0
    it = rb.as_dataset(sample_batch_size=2)
    rb.add_batch(item(7))
    assert next(it)["t"].tolist() == [7, 7]


# ---------------------------------------------------------------- JaxUniformReplayBuffer

def filled(batch_size=2, max_length=4, n=6):
    buf = JaxUniformReplayBuffer(SPEC, batch_size, max_length)
    state = buf.init()
    add = jax.jit(buf.add_batch)
    for i in range(n):
        state = add(state, {"obs": jnp.full((batch_size, 2), i, jnp.float32),
                            "t": jnp.arange(batch_size) * 100 + i})
    return buf, state


def test_jax_uniform_valid_range_and_probabilities_match_tf_agents():
    buf, state = filled()  # last_id 5, max_length 4: ids 2..5 kept; num_steps 3 -> starts 2, 3
    items, info = jax.jit(buf.sample, static_argnums=(2, 3))(state, jax.random.key(0), 400, 3)
    t = np.asarray(items["t"])
    assert t.shape == (400, 3)
    assert {tuple(r) for r in (t % 100).tolist()} == {(2, 3, 4), (3, 4, 5)}
    assert set((t[:, 0] // 100).tolist()) == {0, 1}
    np.testing.assert_array_equal(np.asarray(info.ids), t % 100)
    np.testing.assert_allclose(info.probabilities, 1 / (2 * 2))
    assert bool(buf.can_sample(state, 4)) and not bool(buf.can_sample(state, 5))
    assert int(buf.num_frames(state)) == 8


def test_jax_uniform_before_full_and_unbatched_sample():
    buf, state = filled(n=3)  # ids 0..2; num_steps 2 -> starts 0, 1
    items, info = buf.sample(state, jax.random.key(1), None, 2)
    assert items["t"].shape == (2,) and float(info.probabilities) == pytest.approx(1 / (2 * 2))
    single, info = buf.sample(state, jax.random.key(1))
    assert single["obs"].shape == (2,) and info.ids.shape == ()
    empty = buf.init()
    assert not bool(buf.can_sample(empty)) and bool(buf.can_sample(state, 3)) and not bool(buf.can_sample(state, 4))
    np.testing.assert_array_equal(buf.gather_all(state)["t"], [[0, 1, 2], [100, 101, 102]])


def test_jax_uniform_in_scan_and_vmap_is_deterministic():
    buf = JaxUniformReplayBuffer(SPEC, 3, 8)

    def run(key):
        def body(state, i):
            items = {"obs": jnp.full((3, 2), i, jnp.float32), "t": jnp.full((3,), i)}
            return buf.add_batch(state, items), None
        state, _ = jax.lax.scan(body, buf.init(), jnp.arange(10))
        return buf.sample(state, key, 4, 2)[0]["t"]

    keys = jax.random.split(jax.random.key(0), 5)
    out = jax.jit(jax.vmap(run))(keys)
    with pytest.raises(ValueError, match=r"\['obs'\].*float32.*float16"):
        buf.add_batch(buf.init(), {"obs": jnp.zeros((3, 2), jnp.float16), "t": jnp.zeros(3, jnp.int32)})
    with pytest.raises(ValueError, match=r"\['t'\].*\(3,\).*\(2,\)"):
        buf.add_batch(buf.init(), {"obs": jnp.zeros((3, 2)), "t": jnp.zeros(2, jnp.int32)})
    assert out.shape == (5, 4, 2)
    np.testing.assert_array_equal(out[:, :, 1] - out[:, :, 0], 1)
    assert int(out.min()) >= 2  # ids 2..9 kept
    np.testing.assert_array_equal(out, jax.jit(jax.vmap(run))(keys))


# ---------------------------------------------------------------- JaxPrioritizedReplayBuffer

def test_jax_prioritized_probabilities_follow_reverb():
    buf = JaxPrioritizedReplayBuffer(ArraySpec((), np.int32), capacity=6, priority_exponent=0.5)
    state = buf.add_batch(buf.init(), jnp.arange(3, dtype=jnp.int32), jnp.array([1.0, 4.0, 0.0]))
    items, info = jax.jit(buf.sample, static_argnums=2)(state, jax.random.key(0), 4000)
    freq = np.bincount(np.asarray(items), minlength=3) / 4000
    assert freq[2] == 0
    np.testing.assert_allclose(freq[:2], [1 / 3, 2 / 3], atol=0.03)
    np.testing.assert_allclose(info.probabilities, np.where(np.asarray(items) == 0, 1 / 3, 2 / 3), rtol=1e-5)
    np.testing.assert_array_equal(info.priorities, np.where(np.asarray(items) == 0, 1.0, 4.0))


def test_jax_prioritized_exponent_zero_all_zero_and_default_priority():
    buf = JaxPrioritizedReplayBuffer(ArraySpec((), np.int32), capacity=4, priority_exponent=0.0)
    state = buf.add_batch(buf.init(), jnp.arange(3, dtype=jnp.int32), jnp.array([5.0, 0.5, 0.0]))
    _, info = buf.sample(state, jax.random.key(0), 100)
    assert set(np.asarray(info.indices).tolist()) == {0, 1}
    np.testing.assert_allclose(info.probabilities, 0.5)
    state = buf.set_priorities(state, jnp.arange(3), jnp.zeros(3))
    _, info = buf.sample(state, jax.random.key(0), 300)
    assert set(np.asarray(info.indices).tolist()) == {0, 1, 2}
    np.testing.assert_allclose(info.probabilities, 1 / 3)
    state = buf.add_batch(state, jnp.array([9, 9], jnp.int32))  # default: the max priority seen (5.0)
    np.testing.assert_allclose(state.priorities, [5.0, 0.0, 0.0, 5.0])  # indices 3 and 0 (wrapped)
    assert int(state.data[0]) == 9 and int(state.size) == 4  # wrapped around: index 0 overwritten


def test_jax_prioritized_updates_and_vmap():
    buf = JaxPrioritizedReplayBuffer(ArraySpec((), np.int32), capacity=8, priority_exponent=1.0)

    def run(key):
        state = buf.add_batch(buf.init(), jnp.arange(8, dtype=jnp.int32), jnp.ones(8))
        state = buf.set_priorities(state, jnp.array([3]), jnp.array([100.0]))
        return buf.sample(state, key, 50)[0]

    out = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), 4))
    assert out.shape == (4, 50) and (np.asarray(out) == 3).mean() > 0.8
    with pytest.raises(ValueError, match="priority_exponent"):
        JaxPrioritizedReplayBuffer(ArraySpec((), np.int32), 4, -1.0)


# ---------------------------------------------------------------- UniformReplayBuffer (stateful)

def test_stateful_uniform_buffer_as_the_tutorials_use_it(tmp_path):
    from agentax.replay_buffers.jax_uniform_replay_buffer import UniformReplayBuffer
    from agentax.utils import common

    rb = UniformReplayBuffer(SPEC, batch_size=2, max_length=4, seed=0)
    assert rb.capacity == 8 and rb.num_frames() == 0
    with pytest.raises(ValueError, match="empty"):
        rb.get_next(sample_batch_size=2)
    for i in range(6):  # row r holds t = 10 r + i; each row keeps its last 4 steps (2..5)
        rb.add_batch({"obs": np.full((2, 2), i, np.float32), "t": np.array([i, 10 + i])})
    assert rb.num_frames() == 8
    assert rb.gather_all()["t"].tolist() == [[2, 3, 4, 5], [12, 13, 14, 15]]
    items, info = rb.get_next(sample_batch_size=300, num_steps=3)
    assert items["t"].shape == (300, 3) and items["obs"].shape == (300, 3, 2)
    starts = {tuple(s) for s in np.asarray(items["t"]).tolist()}
    assert starts == {(2, 3, 4), (3, 4, 5), (12, 13, 14), (13, 14, 15)}  # within a row, never across the head
    np.testing.assert_allclose(info.probabilities, 1 / (2 * 2))  # 2 valid starts per row, 2 rows
    with pytest.raises(ValueError, match="num_steps=5"):
        rb.get_next(num_steps=5)
    (first, second), info = rb.get_next(sample_batch_size=4, num_steps=2, time_stacked=False)
    np.testing.assert_array_equal(np.asarray(second["t"]) - np.asarray(first["t"]), 1)
    assert len(info.ids) == 2 and info.ids[0].shape == (4,)  # ids split per step too, as TF-Agents'
    np.testing.assert_array_equal(np.asarray(info.ids[1]) - np.asarray(info.ids[0]), 1)
    dataset = rb.as_dataset(sample_batch_size=5, num_steps=2, num_parallel_calls=3).prefetch(3)
    assert next(iter(dataset))[0]["t"].shape == (5, 2)
    with pytest.raises(NotImplementedError, match="single_deterministic_pass"):
        rb.as_dataset(single_deterministic_pass=True)

    checkpointer = common.Checkpointer(tmp_path / "ckpt", max_to_keep=1, replay_buffer=rb)
    checkpointer.save(1)
    expected = rb.get_next(sample_batch_size=3, num_steps=2)[0]["t"]
    rb.clear()
    assert rb.num_frames() == 0
    checkpointer.initialize_or_restore()  # the contents and the sampling key come back
    assert rb.num_frames() == 8
    np.testing.assert_array_equal(rb.get_next(sample_batch_size=3, num_steps=2)[0]["t"], expected)


def test_stateful_uniform_buffer_is_a_driver_observer():
    from agentax.drivers import dynamic_step_driver
    from agentax.environments import jax_py_environment, suite_gym
    from agentax.policies import random_jax_policy
    from agentax.replay_buffers.jax_uniform_replay_buffer import UniformReplayBuffer
    from agentax.trajectories.trajectory import trajectory_spec

    env = jax_py_environment.JaxPyEnvironment(suite_gym.load("CartPole-v0"))
    policy = random_jax_policy.RandomJaxPolicy(env.time_step_spec(), env.action_spec())
    rb = UniformReplayBuffer(trajectory_spec(env.time_step_spec(), env.action_spec()), batch_size=1, max_length=100)
    counted = []
    driver = dynamic_step_driver.DynamicStepDriver(env, policy, observers=[rb.add_batch, counted.append],
                                                   num_steps=20)
    driver.run()
    stored = rb.gather_all()
    assert rb.num_frames() == len(counted) >= 20  # boundaries are stored, not counted
    np.testing.assert_array_equal(stored.step_type[0], np.concatenate([np.asarray(t.step_type) for t in counted]))
    np.testing.assert_array_equal(stored.observation[0], np.concatenate([np.asarray(t.observation) for t in counted]))
