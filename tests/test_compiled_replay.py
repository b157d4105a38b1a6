"""The compiled trainer's replay path: `JaxUniformReplayBuffer.add_sequence` writes what
step-by-step `add_batch` calls write (also under `vmap` with a length per seed)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.replay_buffers.jax_uniform_replay_buffer import JaxUniformReplayBuffer
from agentax.specs import array_spec

SPEC = {"obs": array_spec.ArraySpec((2,), np.float32), "t": array_spec.ArraySpec((), np.int32)}


def steps(first, rows, count):
    t = jnp.arange(first, first + count, dtype=jnp.int32)[None, :] + 100 * jnp.arange(rows)[:, None]
    return {"obs": jnp.stack([t, -t], -1).astype(jnp.float32), "t": t}


def one_by_one(buf, state, items, length):
    for i in range(length):
        state = buf.add_batch(state, jax.tree.map(lambda x: x[:, i], items))
    return state


@pytest.mark.parametrize("lengths", [(3, 5), (5, 0, 4), (6, 6, 6)])
def test_add_sequence_equals_add_batch_steps(lengths):
    buf = JaxUniformReplayBuffer(SPEC, batch_size=2, max_length=7)  # wraps around
    expected = got = buf.init()
    first = 0
    for length in lengths:
        items = steps(first, 2, 6)  # 6 recorded, `length` of them valid
        expected = one_by_one(buf, expected, items, length)
        got = jax.jit(buf.add_sequence)(got, items, jnp.int32(length))
        first += length
    for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(got)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(got.last_id) == sum(lengths) - 1


def test_add_sequence_vmapped_lengths_per_seed():
    buf = JaxUniformReplayBuffer(SPEC, batch_size=2, max_length=7)
    states = jax.vmap(lambda _: buf.init())(jnp.arange(2))
    items = jax.tree.map(lambda x: jnp.stack([x, x + 1000 * jnp.ones_like(x)]), steps(0, 2, 6))
    got = jax.vmap(buf.add_sequence)(states, items, jnp.array([2, 5], jnp.int32))
    for seed, length in enumerate((2, 5)):
        want = one_by_one(buf, buf.init(), jax.tree.map(lambda x: x[seed], items), length)
        for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(jax.tree.map(lambda x: x[seed], got))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_add_sequence_refuses_more_steps_than_a_row_holds():
    buf = JaxUniformReplayBuffer(SPEC, batch_size=2, max_length=4)
    with pytest.raises(ValueError, match="max_length=4"):
        buf.add_sequence(buf.init(), steps(0, 2, 5), 5)


# ---------------------------------------------------------------- prioritized sequences

from agentax.replay_buffers.jax_prioritized_replay_buffer import SumTree  # noqa: E402
from agentax.replay_buffers.jax_prioritized_sequence_replay_buffer import (  # noqa: E402
    JaxPrioritizedSequenceReplayBuffer, importance_weights)


def slot_weights(buf, state):
    tree = SumTree(buf.batch_size * buf.max_length)
    return np.asarray(state.tree[tree.leaves:tree.leaves + tree.size]).reshape(buf.batch_size, buf.max_length)


def test_sum_tree_drops_out_of_range_slots_without_touching_others():
    tree = SumTree(4, priority_exponent=1.0)
    t = tree.set(tree.init(), jnp.array([0, 1, 2, 3]), jnp.array([1.0, 2.0, 3.0, 4.0]))
    t = tree.set(t, jnp.array([4, 9, -1]), jnp.array([50.0, 50.0, 50.0]))
    np.testing.assert_allclose(np.asarray(t[4:8]), [1, 2, 3, 4])
    assert float(t[1]) == 10.0


def test_prioritized_sequences_only_complete_ones_weigh():
    buf = JaxPrioritizedSequenceReplayBuffer(SPEC, batch_size=2, max_length=6, sequence_length=3,
                                             priority_exponent=1.0)
    state = buf.add_sequence(buf.init(), steps(0, 2, 3), 2)  # ids 0, 1: no complete sequence yet
    assert not bool(buf.can_sample(state)) and int(buf.num_items(state)) == 0
    np.testing.assert_array_equal(slot_weights(buf, state), 0)
    state = buf.add_sequence(state, steps(2, 2, 3), 3)  # ids 2, 3, 4: starts 0, 1, 2 complete
    np.testing.assert_array_equal(slot_weights(buf, state), [[1, 1, 1, 0, 0, 0]] * 2)
    assert int(buf.num_items(state)) == 6
    state = buf.add_sequence(state, steps(5, 2, 3), 3)  # ids 5, 6, 7: 6 -> col 0, 7 -> col 1 overwritten
    # complete starts: ids 2..5 (cols 2, 3, 4, 5); start ids 6, 7 (cols 0, 1) are incomplete
    np.testing.assert_array_equal(slot_weights(buf, state), [[0, 0, 1, 1, 1, 1]] * 2)
    assert int(buf.num_items(state)) == 8
    items, info = buf.sample(state, jax.random.key(1), 500)
    t = np.asarray(items["t"]) % 100
    np.testing.assert_array_equal(np.diff(t, axis=1), 1)  # consecutive steps, never across the head
    assert set(np.unique(t[:, 0]).tolist()) == {2, 3, 4, 5}
    np.testing.assert_allclose(info.probabilities, 1 / 8)


def test_prioritized_sequences_follow_updated_priorities_and_weights():
    buf = JaxPrioritizedSequenceReplayBuffer(SPEC, batch_size=1, max_length=8, sequence_length=2,
                                             priority_exponent=0.5)
    state = buf.add_sequence(buf.init(), steps(0, 1, 5), 5)  # starts 0..3 complete, priority 1
    state = buf.update_priorities(state, jnp.array([0, 1, 2, 3]), jnp.array([4.0, 1.0, 1.0, 0.0]))
    items, info = jax.jit(buf.sample, static_argnums=2)(state, jax.random.key(0), 4000)
    freq = np.bincount(np.asarray(items["t"][:, 0]), minlength=4) / 4000
    np.testing.assert_allclose(freq, [0.5, 0.25, 0.25, 0.0], atol=0.03)  # sqrt(4) : 1 : 1 : 0
    w = importance_weights(info, 1.0)  # (4 * p) ** -1, max 1: p = 1/4 -> 1, p = 1/2 -> 0.5
    np.testing.assert_allclose(np.asarray(w), np.where(np.asarray(info.probabilities) > 0.3, 0.5, 1.0), rtol=1e-5)
    state = buf.add_batch(state, jax.tree.map(lambda x: x[:, 0], steps(5, 1, 1)))  # start 4 gets max priority 4
    assert slot_weights(buf, state)[0, 4] == 2.0
