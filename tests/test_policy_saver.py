"""PolicySaver and policy_loader: exported policies act as the originals, without flax/optax/gymnasium."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.environments import suite_gym
from agentax.networks import ActorDistributionNetwork
from agentax.networks.distributions import Categorical, Normal
from agentax.policies import policy_loader, policy_saver
from agentax.policies.actor_policy import ActorPolicy, GreedyPolicy
from agentax.policies.jax_policy import JaxPolicy
from agentax.policies.policy_saver import PolicySaver, spec_from_json, spec_to_json
from agentax.policies.py_jax_policy import PyJaxPolicy
from agentax.policies.random_jax_policy import RandomJaxPolicy
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.trajectories import time_step as ts
from agentax.trajectories.policy_step import PolicyStep


def make_actor(env_id, seed=0):
    env = suite_gym.load(env_id)
    net = ActorDistributionNetwork(env.observation_spec(), env.action_spec(), fc_layer_params=(8,))
    obs = np.zeros((1,) + env.observation_spec().shape, np.float32)
    params = net.init(jax.random.PRNGKey(seed), obs)
    return ActorPolicy(env.time_step_spec(), env.action_spec(), net, params, emit_log_probability=True), net


def time_steps(spec, batch, seed=0):
    """Batched MID time steps (FIRST in row 0) with normal observations."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(batch,) + spec.observation.shape).astype(np.float32)
    step_type = np.full((batch,), ts.StepType.MID, np.int32)
    step_type[0] = ts.StepType.FIRST
    return ts.TimeStep(step_type, np.ones(batch, np.float32), np.ones(batch, np.float32), obs)


def unbatch(time_step, i=0):
    return jax.tree.map(lambda x: x[i], time_step)


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    actor, net = make_actor("CartPole-v0")
    greedy = GreedyPolicy(actor)
    root = tmp_path_factory.mktemp("cartpole")
    PolicySaver(actor, train_step=7).save(root / "collect_policy")
    PolicySaver(greedy, train_step=7).save(root / "greedy_policy")
    return actor, greedy, net, root


@pytest.fixture(scope="module")
def pendulum(tmp_path_factory):
    actor, _ = make_actor("Pendulum-v1")
    root = tmp_path_factory.mktemp("pendulum")
    PolicySaver(actor).save(root / "collect_policy")
    PolicySaver(GreedyPolicy(actor)).save(root / "greedy_policy")
    return actor, root


def test_greedy_actions_equal_the_original_for_batch_1_5_and_unbatched(cartpole):
    _, greedy, _, root = cartpole
    loaded = policy_loader.load(root / "greedy_policy")
    assert loaded.metadata["policy_class"] == "agentax.policies.actor_policy.GreedyPolicy"
    assert loaded.metadata["batch_size"] is None and loaded.get_train_step() == 7
    for batch in (1, 5):
        time_step = time_steps(greedy.time_step_spec, batch, seed=batch)
        expected = np.asarray(greedy.action(greedy.params, time_step, (), None).action)
        step = loaded.action(time_step)
        assert step.action.dtype == np.int64 and step.action.shape == (batch,)
        np.testing.assert_array_equal(step.action, expected)
        assert step.state == () and step.info == ()
    single = loaded.action(unbatch(time_step, 3))
    assert single.action.shape == () and single.action.dtype == np.int64
    assert single.action == expected[3]


def test_stochastic_actions_same_key_same_action(cartpole):
    actor, _, _, root = cartpole
    loaded = policy_loader.load(root / "collect_policy")
    time_step = time_steps(actor.time_step_spec, 5)
    for seed in range(4):
        key = jax.random.PRNGKey(seed)
        expected = actor.action(actor.params, time_step, (), key)
        for seeded in (loaded.action(time_step, seed=seed), loaded.action(time_step, seed=key)):
            np.testing.assert_array_equal(seeded.action, np.asarray(expected.action))
            np.testing.assert_allclose(seeded.info["log_probability"], expected.info["log_probability"], rtol=1e-6)
    # Unseeded calls draw from the load seed's stream, split as PyJaxPolicy splits.
    reference = PyJaxPolicy(actor, seed=3)
    loaded = policy_loader.load(root / "collect_policy", seed=3)
    for i in range(5):
        step = unbatch(time_steps(actor.time_step_spec, 1, seed=i))
        assert loaded.action(step).action == reference.action(step).action


def test_distribution_is_saved_and_matches(cartpole):
    actor, _, _, root = cartpole
    loaded = policy_loader.load(root / "collect_policy")
    time_step = time_steps(actor.time_step_spec, 5)
    expected = actor.distribution(actor.params, time_step).action
    dist = loaded.distribution(time_step).action
    assert type(dist).__name__ == "Categorical" and dist.offset == expected.offset == 0
    np.testing.assert_allclose(dist.logits, expected.logits, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(dist.mode()), np.asarray(expected.mode()))


def test_continuous_policy(pendulum):
    actor, root = pendulum
    time_step = time_steps(actor.time_step_spec, 5)
    loaded = policy_loader.load(root / "collect_policy")
    key = jax.random.PRNGKey(11)
    expected = actor.action(actor.params, time_step, (), key)
    step = loaded.action(time_step, seed=key)
    assert step.action.dtype == np.float32 and step.action.shape == (5, 1)
    np.testing.assert_allclose(step.action, expected.action, rtol=1e-6, atol=1e-6)
    dist = loaded.distribution(time_step).action
    np.testing.assert_allclose(dist.loc, actor.distribution(actor.params, time_step).action.loc, rtol=1e-6)
    greedy = policy_loader.load(root / "greedy_policy")
    mode = GreedyPolicy(actor).action(actor.params, time_step, (), None).action
    np.testing.assert_allclose(greedy.action(time_step).action, mode, rtol=1e-6, atol=1e-6)
    assert greedy.action(unbatch(time_step)).action.shape == (1,)


def test_save_checkpoint_gives_new_params_without_reexport(cartpole, tmp_path):
    actor, _, net, _ = cartpole
    policy = ActorPolicy(actor.time_step_spec, actor.action_spec, net, actor.params)
    greedy = GreedyPolicy(policy)
    step_counter = {"step": 1}
    saver = PolicySaver(greedy, train_step=lambda: step_counter["step"])
    saver.save(tmp_path / "policy")
    loaded = policy_loader.load(tmp_path / "policy")
    time_step = time_steps(actor.time_step_spec, 64, seed=5)
    old = greedy.action(greedy.params, time_step, (), None).action

    greedy.params = jax.tree.map(lambda x: x * 50.0, net.init(jax.random.PRNGKey(9), time_step.observation))
    step_counter["step"] = 42
    saver.save_checkpoint(tmp_path / "checkpoint")
    assert sorted(os.listdir(tmp_path / "checkpoint")) == ["variables"]
    new = greedy.action(greedy.params, time_step, (), None).action
    assert not np.array_equal(old, new)  # the test means something

    np.testing.assert_array_equal(loaded.action(time_step).action, old)
    loaded.update_from_checkpoint(tmp_path / "checkpoint")
    np.testing.assert_array_equal(loaded.action(time_step).action, new)
    assert loaded.get_train_step() == 42 and loaded.metadata["train_step"] == 42
    reloaded = policy_loader.load(tmp_path / "policy", checkpoint_dir=tmp_path / "checkpoint")
    np.testing.assert_array_equal(reloaded.action(time_step).action, new)
    # A checkpoint written into the export folder replaces its variables only.
    saver.save_checkpoint(tmp_path / "policy")
    np.testing.assert_array_equal(policy_loader.load(tmp_path / "policy").action(time_step).action, new)


def test_policy_specs_json_round_trips(cartpole):
    actor, _, _, root = cartpole
    data = json.loads((root / "collect_policy" / "policy_specs.json").read_text())
    specs = {k: spec_from_json(data[k]) for k in ("time_step_spec", "action_spec", "policy_state_spec", "info_spec")}
    assert type(specs["time_step_spec"]) is ts.TimeStep
    assert specs["time_step_spec"] == actor.time_step_spec  # shapes, dtypes, bounds (inf included)
    assert specs["action_spec"] == actor.action_spec and specs["action_spec"].dtype == np.int64
    assert specs["info_spec"] == actor.info_spec and specs["policy_state_spec"] == ()
    names = lambda nest: [s.name for s in jax.tree.leaves(nest, is_leaf=lambda x: isinstance(x, ArraySpec))]
    assert names(specs["time_step_spec"]) == names(actor.time_step_spec)
    nest = {"a": (ArraySpec((2,), np.uint8, "a0"), [BoundedArraySpec((3,), np.float64, [-np.inf, 0, 1], 2.5)]),
            "b": BoundedArraySpec((), np.int64, -(2**62), 2**62, name="b"), "c": ()}
    back = spec_from_json(json.loads(json.dumps(spec_to_json(nest), allow_nan=False)))
    assert back == nest and back["b"].name == "b" and isinstance(back["a"][1], list)


class CounterPolicy(JaxPolicy):
    """A stateful policy: action = counter % 2, state counts steps since FIRST."""

    def __init__(self):
        spec = ts.time_step_spec(ArraySpec((4,), np.float32, name="observation"))
        super().__init__(spec, BoundedArraySpec((), np.int64, 0, 1, name="action"),
                         policy_state_spec={"count": ArraySpec((), np.int32, name="count")},
                         params={"w": jnp.ones(())})

    def _action(self, params, time_step, policy_state, key):
        count = policy_state["count"]
        return PolicyStep((count % 2).astype(jnp.int32), {"count": count + params["w"].astype(jnp.int32)}, ())


def test_stateful_policy_and_missing_distribution(tmp_path):
    PolicySaver(CounterPolicy()).save(tmp_path / "p")
    loaded = policy_loader.load(tmp_path / "p")
    state = loaded.get_initial_state(3)
    assert state["count"].shape == (3,) and state["count"].dtype == np.int32
    assert loaded.get_initial_state()["count"].shape == ()
    time_step = time_steps(loaded.time_step_spec, 3)  # row 0 is FIRST: its state resets
    state = {"count": np.array([5, 5, 5], np.int32)}
    step = loaded.action(time_step, state)
    np.testing.assert_array_equal(step.action, [0, 1, 1])
    np.testing.assert_array_equal(step.state["count"], [1, 6, 6])
    with pytest.raises(NotImplementedError, match="no `distribution`"):
        loaded.distribution(time_step, state)


class TwoHeadedPolicy(JaxPolicy):
    """A nested action spec: a Categorical and a Normal, one per leaf."""

    def __init__(self):
        spec = ts.time_step_spec(ArraySpec((4,), np.float32, name="observation"))
        action_spec = {"move": BoundedArraySpec((), np.int64, 1, 3, name="move"),
                       "turn": BoundedArraySpec((2,), np.float32, -1.0, 1.0, name="turn")}
        params = {"w": jnp.arange(12.0).reshape(4, 3) / 10, "v": jnp.ones((4, 2))}
        super().__init__(spec, action_spec, params=params)

    def distribution(self, params, time_step, policy_state=()):
        obs = time_step.observation
        return PolicyStep({"move": Categorical(obs @ params["w"], 1),
                           "turn": Normal(jnp.tanh(obs @ params["v"]), jnp.full((obs.shape[0], 2), 0.5))},
                          policy_state, ())

    def _action(self, params, time_step, policy_state, key):
        dist = self.distribution(params, time_step, policy_state).action
        k1, k2 = jax.random.split(key)
        return PolicyStep({"move": dist["move"].sample(k1), "turn": dist["turn"].sample(k2)}, policy_state, ())


def test_nested_action_spec_and_distributions(tmp_path):
    policy = TwoHeadedPolicy()
    PolicySaver(policy).save(tmp_path / "p")
    loaded = policy_loader.load(tmp_path / "p")
    time_step = time_steps(policy.time_step_spec, 5)
    key = jax.random.PRNGKey(2)
    expected = policy.action(policy.params, time_step, (), key).action
    step = loaded.action(time_step, seed=key)
    assert step.action["move"].dtype == np.int64 and step.action["turn"].shape == (5, 2)
    np.testing.assert_array_equal(step.action["move"], expected["move"])
    np.testing.assert_allclose(step.action["turn"], expected["turn"], rtol=1e-6, atol=1e-6)
    dist = loaded.distribution(time_step).action
    assert isinstance(dist["move"], Categorical) and dist["move"].offset == 1  # flax is imported here
    np.testing.assert_allclose(dist["turn"].scale, 0.5)
    expected_mode = np.argmax(time_step.observation @ np.asarray(policy.params["w"]), axis=-1) + 1
    np.testing.assert_array_equal(np.asarray(dist["move"].mode()), expected_mode)


def test_fixed_batch_size(cartpole, tmp_path):
    _, greedy, _, _ = cartpole
    PolicySaver(greedy, batch_size=5).save(tmp_path / "p")
    loaded = policy_loader.load(tmp_path / "p")
    time_step = time_steps(greedy.time_step_spec, 5)
    np.testing.assert_array_equal(loaded.action(time_step).action,
                                  greedy.action(greedy.params, time_step, (), None).action)
    with pytest.raises(ValueError, match="outer dimensions"):
        loaded.action(time_steps(greedy.time_step_spec, 3))
    with pytest.raises(ValueError, match="batch_size"):
        PolicySaver(greedy, batch_size=0)


def test_wrong_time_step_is_a_clear_error(cartpole):
    _, _, _, root = cartpole
    loaded = policy_loader.load(root / "greedy_policy")
    bad = time_steps(loaded.time_step_spec, 2)._replace(observation=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected float32\[2, 4\]"):
        loaded.action(bad)


CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    from agentax.policies import policy_loader
    heavy = lambda: sorted(m for m in ("flax", "optax", "gymnasium") if m in sys.modules)
    policy = policy_loader.load(sys.argv[1])
    after_load = heavy()
    first = policy.time_step_spec._replace(step_type=np.int32(0), reward=np.float32(0),
                                           discount=np.float32(1), observation=np.ones(4, np.float32))
    step = policy.action(first)
    dist = policy.distribution(first).action
    after_action = heavy()

    from agentax.drivers import PyDriver
    from agentax.environments.py_environment import PyEnvironment
    from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
    from agentax.trajectories import time_step as ts

    class TenSteps(PyEnvironment):
        def observation_spec(self):
            return ArraySpec((4,), np.float32, name="observation")
        def action_spec(self):
            return BoundedArraySpec((), np.int64, 0, 1, name="action")
        def _reset(self):
            self.t = 0
            return ts.restart(np.zeros(4, np.float32))
        def _step(self, action):
            self.t += 1
            obs = np.full(4, self.t, np.float32)
            return ts.termination(obs, 1.0) if self.t == 10 else ts.transition(obs, 1.0)

    env = TenSteps()
    trajs = []
    PyDriver(env, policy, [trajs.append], max_episodes=2).run(env.reset())
    print(json.dumps({"after_load": after_load, "after_action": after_action, "after_driver": heavy(),
                      "action": int(step.action), "mode": int(dist.mode()), "dist": type(dist).__name__,
                      "steps": len(trajs),
                      "action_dtypes": sorted({str(t.action.dtype) for t in trajs})}))
""")


def test_loaded_policy_runs_in_a_pydriver_without_flax_optax_gymnasium(cartpole):
    _, _, _, root = cartpole
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(root / "greedy_policy")], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after_load"] == result["after_action"] == result["after_driver"] == []
    assert result["steps"] == 22  # two episodes of 10 steps, each ended by its boundary (LAST -> FIRST)
    assert result["action_dtypes"] == ["int64"] and result["action"] in (0, 1)
    assert result["dist"] == "Categorical" and result["mode"] == result["action"]  # greedy: the mode


def damage(export_dir, name):
    path = export_dir / name
    if name.endswith("missing"):
        path = export_dir / name.rsplit(":", 1)[0]
        path.unlink()
    else:
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    return path.name


@pytest.mark.parametrize("name, cause", [
    ("metadata.json:missing", "missing"),
    ("policy_specs.json", "damaged policy specs"),
    ("action.jaxexport", "damaged exported function"),
    ("get_initial_state.jaxexport:missing", "missing"),
    ("variables/params.npz", "damaged parameters"),
    ("variables/params.npz:missing", "missing"),
    ("variables/params.json", "damaged parameter index"),
])
def test_damaged_export_is_a_clear_error(cartpole, tmp_path, name, cause):
    _, greedy, _, _ = cartpole
    PolicySaver(greedy).save(tmp_path / "p")
    file_name = damage(tmp_path / "p", name)
    with pytest.raises(policy_loader.PolicyLoadError, match=cause) as err:
        policy_loader.load(tmp_path / "p")
    assert file_name in str(err.value)


def test_save_is_atomic(cartpole, tmp_path, monkeypatch):
    _, greedy, _, _ = cartpole
    saver = PolicySaver(greedy, train_step=1)
    saver.save(tmp_path / "p")
    saver._train_step = 2
    real = policy_saver._write_json

    def failing(path, obj):
        if path.name == policy_saver.METADATA_JSON:
            raise OSError("disk full")
        real(path, obj)

    monkeypatch.setattr(policy_saver, "_write_json", failing)
    with pytest.raises(OSError, match="disk full"):
        saver.save(tmp_path / "p")
    assert os.listdir(tmp_path) == ["p"]  # no temporary folder left behind
    assert policy_loader.load(tmp_path / "p").get_train_step() == 1
    monkeypatch.setattr(policy_saver, "_write_json", real)
    saver.save(tmp_path / "p")
    assert os.listdir(tmp_path) == ["p"] and policy_loader.load(tmp_path / "p").get_train_step() == 2


def test_policy_without_params(cartpole, tmp_path):
    actor, _, net, _ = cartpole
    random_policy = RandomJaxPolicy(actor.time_step_spec, BoundedArraySpec((2,), np.float32, -1.0, 1.0))
    PolicySaver(random_policy).save(tmp_path / "random")
    loaded = policy_loader.load(tmp_path / "random")
    time_step = time_steps(actor.time_step_spec, 5)
    key = jax.random.PRNGKey(4)
    np.testing.assert_array_equal(loaded.action(time_step, seed=key).action,
                                  random_policy.action(None, time_step, (), key).action)
    assert "distribution" not in loaded.metadata["functions"]
    with pytest.raises(Exception) as err:
        PolicySaver(ActorPolicy(actor.time_step_spec, actor.action_spec, net))
    assert "`policy.params` of agentax.policies.actor_policy.ActorPolicy is None" in "".join(err.value.__notes__)
