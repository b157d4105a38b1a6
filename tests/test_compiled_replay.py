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
