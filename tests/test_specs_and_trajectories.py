import gymnasium as gym
import numpy as np
import pytest

from agentax.specs import array_spec
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import (PolicyStep, StepType, from_transition, restart, termination, transition,
                                  truncation)


def test_bounded_spec_broadcasts_scalar_bounds_and_prints_them():
    spec = BoundedArraySpec((3,), np.float32, -1.0, 2.0, name="obs")
    assert spec.minimum.dtype == np.float32 and float(spec.maximum) == 2.0
    assert spec.check_array(np.array([0, 1, 2], np.float32))
    assert not spec.check_array(np.array([0, 1, 3], np.float32))
    text = repr(spec)
    assert "shape=(3,)" in text and "float32" in text and "minimum=-1.0" in text and "name='obs'" in text


def test_bounded_spec_rejects_bad_bounds():
    with pytest.raises(ValueError, match="minimum"):
        BoundedArraySpec((2,), np.float32, [0.0, 0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="greater"):
        BoundedArraySpec((), np.int64, 3, 1)


def test_validate_names_argument_spec_and_value():
    spec = BoundedArraySpec((), np.int64, 0, 1, name="action")
    array_spec.validate(spec, np.int64(1), "action")
    with pytest.raises(ValueError, match=r"`action`.*bounds") as err:
        array_spec.validate(spec, np.int64(5), "action")
    assert "BoundedArraySpec" in str(err.value) and "5" in str(err.value)
    with pytest.raises(ValueError, match="dtype int32, expected int64"):
        array_spec.validate(spec, np.int32(1), "action")
    with pytest.raises(ValueError, match=r"shape \(1,\), expected \(\)"):
        array_spec.validate(spec, np.array([1]), "action")


def test_validate_nests():
    spec = {"a": ArraySpec((2,), np.float32), "b": (BoundedArraySpec((), np.int32, 0, 3),)}
    good = {"a": np.zeros(2, np.float32), "b": (np.int32(2),)}
    array_spec.validate(spec, good)
    with pytest.raises(ValueError, match="structure"):
        array_spec.validate(spec, {"a": np.zeros(2, np.float32)})


def test_sample_spec_nest_is_seeded_and_within_bounds():
    spec = {"d": BoundedArraySpec((), np.int64, 2, 4), "c": BoundedArraySpec((3,), np.float32, -1.0, 1.0)}
    a = array_spec.sample_spec_nest(spec, np.random.default_rng(7), outer_dims=(100,))
    b = array_spec.sample_spec_nest(spec, np.random.default_rng(7), outer_dims=(100,))
    np.testing.assert_array_equal(a["d"], b["d"])
    assert a["d"].shape == (100,) and set(np.unique(a["d"])) == {2, 3, 4}
    assert a["c"].shape == (100, 3) and a["c"].dtype == np.float32
    assert a["c"].min() >= -1 and a["c"].max() <= 1


def test_from_gym_space_all_kinds():
    s = gym.spaces
    assert array_spec.from_gym_space(s.Discrete(3, start=1)) == BoundedArraySpec((), np.int64, 1, 3)
    md = array_spec.from_gym_space(s.MultiDiscrete([2, 5]))
    np.testing.assert_array_equal(md.maximum, [1, 4])
    mb = array_spec.from_gym_space(s.MultiBinary(4))
    assert mb.shape == (4,) and mb.dtype == np.int8 and int(mb.maximum) == 1
    box = array_spec.from_gym_space(s.Box(-2.0, 2.0, (2, 3), np.float32))
    assert box.shape == (2, 3) and float(box.minimum) == -2.0
    nested = array_spec.from_gym_space(s.Dict({"pos": s.Box(0, 1, (2,)), "t": s.Tuple((s.Discrete(2), s.Discrete(4)))}))
    assert set(nested) == {"pos", "t"} and nested["t"][1].num_values == 4


def test_time_step_constructors_unbatched_and_batched():
    obs = np.zeros(2, np.float32)
    first = restart(obs)
    assert first.step_type == StepType.FIRST and first.reward == 0 and first.discount == 1
    assert transition(obs, 1.0, 0.9).discount == np.float32(0.9)
    term = termination(obs, 2.0)
    assert term.is_last() and term.discount == 0.0 and term.reward == 2.0
    trunc = truncation(obs, 1.0)
    assert trunc.is_last() and trunc.discount == 1.0
    batch = restart(np.zeros((3, 2), np.float32), batch_size=3)
    assert batch.step_type.shape == (3,) and batch.reward.dtype == np.float32
    mids = transition(np.zeros((3, 2)), np.ones(3))
    np.testing.assert_array_equal(mids.step_type, [1, 1, 1])


def test_trajectory_predicates():
    obs = np.zeros(1)
    last = termination(obs, 1.0)
    boundary = from_transition(last, PolicyStep(np.int64(0)), restart(obs))
    assert boundary.is_boundary() and not boundary.is_last() and not boundary.is_first()
    ending = from_transition(transition(obs, 1.0), PolicyStep(np.int64(0)), last)
    assert ending.is_last() and not ending.is_boundary()
    starting = from_transition(restart(obs), PolicyStep(np.int64(0)), transition(obs, 1.0))
    assert starting.is_first() and starting.reward == 1.0


def test_an_environment_that_overrides_discount_spec_sees_it_in_time_step_spec():
    from agentax.environments.environment_specs import EnvironmentSpecs

    class HalfDiscount(EnvironmentSpecs):
        def observation_spec(self):
            return ArraySpec((), np.float32)

        def action_spec(self):
            return ArraySpec((), np.int32)

        def discount_spec(self):
            return BoundedArraySpec((), np.float32, 0.0, 0.5, name="discount")

    assert HalfDiscount().time_step_spec().discount == HalfDiscount().discount_spec()
    assert float(HalfDiscount().time_step_spec().discount.maximum) == 0.5


def test_tensor_spec_from_spec_and_add_outer_dim_as_tf_agents_names_them():
    from agentax.specs import tensor_spec
    spec = {"obs": BoundedArraySpec((4,), np.float64, -1.0, 1.0), "act": BoundedArraySpec((), np.int64, 0, 2)}
    jax_spec = tensor_spec.from_spec(spec)
    assert jax_spec["obs"].dtype == np.float32 and jax_spec["act"] == BoundedArraySpec((), np.int32, 0, 2)
    batched = tensor_spec.add_outer_dim(jax_spec, 3)
    assert batched["obs"].shape == (3, 4) and batched["act"].shape == (3,)
    assert float(batched["obs"].maximum) == 1.0 and batched["act"].dtype == np.int32
    assert tensor_spec.add_outer_dim(jax_spec)["obs"].shape == (None, 4)  # TF-Agents' default: any size
    with pytest.raises(ValueError, match="outer_dims"):
        array_spec.add_outer_dims_nest(spec, (-1,))


def test_numpy_and_jax_samplers_share_bounds_and_stay_inside_them():
    import jax
    from agentax.specs import tensor_spec
    spec = (BoundedArraySpec((2,), np.int32, [0, -3], [1, 3]), BoundedArraySpec((), np.float32, -2.0, 0.5),
            ArraySpec((), np.float32), BoundedArraySpec((), np.uint8, 250, 255))
    np_sample = array_spec.sample_spec_nest(spec, np.random.default_rng(0), (500,))
    for sample in (np_sample, tensor_spec.sample_spec_nest(spec, 0, (500,)),
                   jax.jit(lambda k: tensor_spec.sample_spec_nest(spec, k, (500,)))(jax.random.PRNGKey(0))):
        ints, floats, unbounded, bytes_ = (np.asarray(x) for x in sample)
        assert ints.shape == (500, 2) and ints.dtype == np.int32
        assert set(ints[:, 0].tolist()) == {0, 1} and set(ints[:, 1].tolist()) == set(range(-3, 4))
        assert floats.dtype == np.float32 and floats.min() >= -2.0 and floats.max() <= 0.5
        assert np.isfinite(unbounded).all() and set(bytes_.tolist()) == set(range(250, 256))


@pytest.mark.parametrize("value,dtype,ok", [
    (np.int32(1), np.int64, True), (1, np.int64, True), (1, np.int8, True), (300, np.int8, False),
    (True, np.int64, True), (0.5, np.float32, True), (0.1, np.float32, False), (1.5, np.int64, False),
    (np.float64(0.5), np.float32, False), (np.float32(0.5), np.float64, True), (np.uint64(1), np.int64, False),
    (np.array([1, 2], np.int16), np.int32, True), (np.array([1.0]), np.int64, False)])
def test_lossless_cast(value, dtype, ok):
    cast = array_spec.lossless_cast(value, dtype)
    assert (cast is not None) == ok
    if ok:
        assert cast.dtype == dtype and np.array_equal(cast, value)


def test_conform_casts_losslessly_and_refuses_the_rest_naming_the_argument():
    spec = {"a": BoundedArraySpec((), np.int64, 0, 3), "b": ArraySpec((2,), np.float64)}
    out = array_spec.conform(spec, {"a": np.int32(2), "b": np.array([1, 2], np.float32)}, "action")
    assert out["a"].dtype == np.int64 and out["b"].dtype == np.float64
    with pytest.raises(ValueError, match=r"`action` does not match its spec: dtype float64, expected int64"):
        array_spec.conform(spec, {"a": 2.0, "b": np.zeros(2)}, "action")
    with pytest.raises(ValueError, match=r"`action`.*bounds"):
        array_spec.conform(spec, {"a": 4, "b": np.zeros(2)}, "action")
    with pytest.raises(ValueError, match=r"`action` does not match the structure"):
        array_spec.conform(spec, {"a": 1}, "action")
