"""`utils.packing`: one array per dtype, and back to the same tree."""

import jax
import jax.numpy as jnp
import numpy as np

from agentax.utils import packing


def _tree():
    return {"obs": jnp.arange(24, dtype=jnp.float32).reshape(3, 2, 4), "reward": jnp.array([1.0, 2.0, 3.0]),
            "step_type": jnp.array([0, 1, 2], jnp.int32), "action": jnp.array([[5], [6], [7]], jnp.int32),
            "done": jnp.array([True, False, True]), "empty": ()}


def test_one_array_per_dtype_with_the_batch_axes_kept():
    arrays, layout = packing.pack(_tree())
    assert sorted((a.dtype.name, a.shape) for a in arrays) == [("bool", (3, 1)), ("float32", (3, 9)),
                                                                ("int32", (3, 2))]
    floats = next(a for a in arrays if a.dtype == jnp.float32)
    # leaves in tree order (sorted dict keys: obs before reward), each flattened after the batch axis
    np.testing.assert_array_equal(floats[1], [8, 9, 10, 11, 12, 13, 14, 15, 2.0])
    back = packing.unpack(arrays, layout)
    jax.tree.map(np.testing.assert_array_equal, back, _tree())


def test_unpack_after_a_scan_keeps_the_new_leading_axis():
    layout = []

    def body(carry, _):
        tree = jax.tree.map(lambda x: x + carry.astype(x.dtype) if x.dtype != jnp.bool_ else x, _tree())
        arrays, out = packing.pack(tree)
        layout.append(out)
        return carry + 1, arrays

    _, stacked = jax.lax.scan(body, jnp.int32(0), None, 5)
    back = packing.unpack(stacked, layout[0])
    assert back["obs"].shape == (5, 3, 2, 4) and back["step_type"].shape == (5, 3) and back["empty"] == ()
    np.testing.assert_array_equal(back["reward"][4], [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(back["action"][2, :, 0], [7, 8, 9])
    assert back["done"].dtype == jnp.bool_


def test_unbatched_leaves_pack_with_no_batch_axis():
    arrays, layout = packing.pack({"a": jnp.float32(1.5), "b": jnp.zeros((2,), jnp.float32)}, batch_ndim=0)
    assert [a.shape for a in arrays] == [(3,)]
    back = packing.unpack(arrays, layout)
    assert back["a"].shape == () and float(back["a"]) == 1.5
