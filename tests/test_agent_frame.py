"""The agent frame: JaxAgent's shell, common.Variable/function/Checkpointer, train.{Actor, Learner, triggers},
ActorPolicy's bounds and action nests, the policy-owned random stream."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agentax.agents.reinforce.config import ReinforceConfig
from agentax.agents.reinforce.reinforce_agent import ReinforceAgent
from agentax.environments import suite_gym
from agentax.networks import ActorDistributionNetwork
from agentax.networks.distributions import Categorical, Normal
from agentax.policies.actor_policy import ActorPolicy, GreedyPolicy
from agentax.policies.py_jax_policy import PyJaxPolicy
from agentax.replay_buffers import pad_episodes
from agentax.specs.array_spec import ArraySpec, BoundedArraySpec
from agentax.train import Actor, Learner, triggers
from agentax.train.utils import train_utils
from agentax.trajectories import time_step_spec
from agentax.utils import common

OBS = ArraySpec((3,), np.float32, "observation")


def cartpole_agent(seed=0, counter=None):
    env = suite_gym.load("CartPole-v0")
    config = ReinforceConfig(fc_layer_params=(8,), value_baseline=False, seed=seed)
    agent = config.make_agent(env.time_step_spec(), env.action_spec())
    if counter is not None:
        agent = ReinforceAgent(env.time_step_spec(), env.action_spec(), agent.actor_network, optax.adam(1e-2),
                               train_step_counter=counter, seed=seed)
    return env, agent


class EpisodeList:
    """A tiny observer keeping whole episodes (each ending with its boundary step)."""

    def __init__(self):
        self.episodes, self.steps = [], []

    def __call__(self, trajectory):
        self.steps.append(trajectory)
        if trajectory.is_boundary():
            self.episodes.append(jax.tree.map(lambda *xs: np.stack(xs), *self.steps))
            self.steps = []

    def gather_all(self):
        batch = pad_episodes(self.episodes)
        self.episodes = []
        return batch


def collect(env, agent, episodes):
    buffer = EpisodeList()
    actor = Actor(env, PyJaxPolicy(agent.collect_policy), agent.train_step_counter, episodes_per_run=episodes,
                  observers=[buffer])
    actor.run()
    return buffer.gather_all()


def test_variable_behaves_like_the_tf_variable_ported_code_uses():
    counter = common.create_variable("train_step", 0)
    counter.assign(5)
    counter.assign_add(2)
    assert int(counter) == 7 and counter.numpy() == 7 and counter.numpy().dtype == np.int64
    assert counter == 7 and f"{float(counter):.1f}" == "7.0" and list(range(10))[counter] == 7


def test_train_step_counter_counts_and_can_be_reset_as_in_the_tutorial():
    env, agent = cartpole_agent()
    agent.initialize()
    agent.train = common.function(agent.train)  # the tutorial's idiom: returns the method unchanged
    experience, mask = collect(env, agent, 2)
    agent.train(experience, mask)
    agent.train(experience, mask)
    assert int(agent.train_step_counter) == 2 and int(agent.state.step) == 2
    agent.train_step_counter.assign(0)
    agent.train(experience, mask)
    assert agent.train_step_counter.numpy() == 1 and int(agent.state.step) == 1


def test_loss_initializes_checks_like_train_and_does_not_update():
    env, agent = cartpole_agent()
    agent.initialize()
    experience, mask = collect(env, agent, 2)
    agent = cartpole_agent()[1]  # never initialized, never trained
    before = agent.loss(experience, mask)
    params = jax.tree.map(np.asarray, agent.state.actor_params)
    assert int(agent.train_step_counter) == 0
    again = agent.loss(experience, mask)
    assert float(again.loss) == float(before.loss)
    jax.tree.map(np.testing.assert_array_equal, params, jax.tree.map(np.asarray, agent.state.actor_params))
    trained = agent.train(experience, mask)  # train's loss is of the parameters before its update
    np.testing.assert_allclose(float(trained.loss), float(before.loss), rtol=1e-5)
    one_step = jax.tree.map(lambda x: x[:, 0], experience)
    with pytest.raises(ValueError, match=r"outer dims \[batch, time\]"):
        agent.loss(one_step)


def test_a_shared_counter_is_the_agents_counter():
    counter = train_utils.create_train_step()
    _, agent = cartpole_agent(counter=counter)
    assert agent.train_step_counter is counter


def test_stateful_policy_action_uses_current_parameters_and_the_policys_stream():
    env, agent = cartpole_agent()
    agent.initialize()
    time_step = env.reset()
    greedy = agent.policy.action(time_step)
    pure = agent.policy.action(agent.state.actor_params, time_step, (), None)
    assert int(greedy.action) == int(pure.action)
    # The collect policy's stream advances: 50 draws are not all the same key's draw.
    first = [int(agent.collect_policy.action(time_step).action) for _ in range(50)]
    assert len(set(first)) == 2
    # A seed gives a repeatable draw.
    assert int(agent.collect_policy.action(time_step, seed=3).action) == \
        int(agent.collect_policy.action(time_step, seed=3).action)


def test_rebuilt_wrappers_continue_the_stream_and_do_not_recompile():
    """The tutorial builds a new PyJaxPolicy in every collect call: actions must not restart."""
    env, agent = cartpole_agent()
    agent.initialize()
    time_step = env.reset()
    actions = [int(PyJaxPolicy(agent.collect_policy, use_tf_function=True).action(time_step).action)
               for _ in range(60)]
    assert 15 < sum(actions) < 45  # a restarted stream would repeat one action 60 times
    assert agent.collect_policy.jitted_action._cache_size() == 1
    env2, agent2 = cartpole_agent()
    agent2.initialize()
    again = [int(PyJaxPolicy(agent2.collect_policy).action(time_step).action) for _ in range(60)]
    assert actions == again  # the same seed, the same stream


def test_pyjaxpolicy_takes_the_wrapped_policys_action_spec():
    env, agent = cartpole_agent()
    policy = PyJaxPolicy(agent.policy)
    assert policy.action_spec == agent.policy.action_spec
    with pytest.raises(TypeError, match="`policy` must be a JaxPolicy"):
        PyJaxPolicy(object())


def normal_spec(low=-2.0, high=2.0, shape=(2,)):
    return BoundedArraySpec(shape, np.float32, low, high, "action")


def batch_of(n, spec=OBS):
    return time_step_spec(spec)._replace(step_type=jnp.ones((n,), jnp.int32), reward=jnp.zeros((n,)),
                                         discount=jnp.ones((n,)), observation=jnp.zeros((n,) + spec.shape))


def test_continuous_actor_actions_stay_in_the_spec():
    spec = normal_spec(-0.5, 0.5)
    net = ActorDistributionNetwork(OBS, spec, fc_layer_params=())
    params = net.init(jax.random.PRNGKey(0), jnp.zeros(3))
    params = jax.tree.map(lambda x: x, params)
    params["params"]["log_std"] = jnp.full((2,), 3.0)  # std ~3: most raw samples leave [-0.5, 0.5]
    policy = ActorPolicy(time_step_spec(OBS), spec, net, params)
    action = np.asarray(policy.action(params, batch_of(2000), (), jax.random.PRNGKey(1)).action)
    assert action.min() == pytest.approx(-0.5) and action.max() == pytest.approx(0.5)
    assert ((action == -0.5) | (action == 0.5)).mean() > 0.5  # clipped, as TF-Agents' ActorPolicy(clip=True)
    unclipped = ActorPolicy(time_step_spec(OBS), spec, net, params, clip=False)
    raw = np.asarray(unclipped.action(params, batch_of(2000), (), jax.random.PRNGKey(1)).action)
    assert np.abs(raw).max() > 2.0


class TwoHeads:
    """A network returning one distribution per leaf of a dict action spec."""

    def apply(self, params, observation):
        n = observation.shape[:-1]
        return {"move": Normal(jnp.full(n + (1,), 0.25), jnp.full(n + (1,), 1e-3)),
                "pick": Categorical(jnp.broadcast_to(jnp.array([0.0, 9.0, 0.0]), n + (3,)), offset=1)}


def test_actor_policy_samples_every_leaf_of_an_action_nest():
    spec = {"move": normal_spec(-1.0, 1.0, (1,)), "pick": BoundedArraySpec((), np.int64, 1, 3, "pick")}
    policy = ActorPolicy(time_step_spec(OBS), spec, TwoHeads(), params={}, emit_log_probability=True)
    step = policy.action({}, batch_of(4), (), jax.random.PRNGKey(0))
    assert step.action["move"].shape == (4, 1) and step.action["move"].dtype == jnp.float32
    assert step.action["pick"].dtype == jnp.int32 and (np.asarray(step.action["pick"]) == 2).all()
    np.testing.assert_allclose(step.action["move"], 0.25, atol=0.01)
    greedy = GreedyPolicy(policy).action({}, batch_of(4), (), None).action
    assert (np.asarray(greedy["pick"]) == 2).all() and np.allclose(greedy["move"], 0.25)
    assert step.info["log_probability"].shape == (4,)
    wrong = ActorPolicy(time_step_spec(OBS), {"only": spec["pick"]}, TwoHeads(), params={})
    with pytest.raises(ValueError, match="returns 2 distribution"):
        wrong.action({}, batch_of(4), (), jax.random.PRNGKey(0))


def test_interval_trigger_rules():
    calls = []
    trigger = triggers.IntervalTrigger(3, lambda: calls.append(1), start=0)
    for step in range(1, 8):
        trigger(step)
    assert len(calls) == 2  # at 3 and 6
    trigger(2)  # went back (a restore): triggers and restarts from there
    assert len(calls) == 3
    trigger(3, force_trigger=True)
    assert len(calls) == 4
    never = triggers.IntervalTrigger(0, lambda: calls.append(1))
    never(100)
    assert len(calls) == 4


def test_step_per_second_trigger_measures():
    step = common.create_variable("s", 0)
    lines = []
    trigger = triggers.StepPerSecondLogTrigger(step, interval=10, log=lines.append)
    step.assign(10)
    trigger(10)
    assert trigger.steps_per_sec > 0 and lines[0].endswith("steps/sec")


def test_learner_trains_checkpoints_and_restores(tmp_path):
    env, agent = cartpole_agent()
    train_step = agent.train_step_counter
    buffer = EpisodeList()
    actor = Actor(env, PyJaxPolicy(agent.collect_policy), train_step, episodes_per_run=2,
                  observers=[buffer], summary_dir=tmp_path / "actor", summary_interval=1)

    def dataset():
        while True:
            experience, mask = buffer.gather_all()
            yield {"experience": experience, "weights": mask}, None

    saved = []
    learner = Learner(tmp_path, train_step, agent, dataset, checkpoint_interval=2, use_kwargs_in_agent_train=True,
                      triggers=[triggers.IntervalTrigger(1, lambda: saved.append(int(train_step)))])
    for _ in range(3):
        actor.run()
        loss = learner.run(iterations=1)
    assert np.isfinite(loss.loss) and int(train_step) == 3 and saved == [1, 2, 3]
    assert learner.checkpointer.all_steps() == [2]
    params_at_2 = None
    # A new learner over a fresh agent restores step 2 from root_dir/train/checkpoints.
    _, fresh = cartpole_agent(seed=5)
    Learner(tmp_path, fresh.train_step_counter, fresh, dataset, checkpoint_interval=2)
    assert int(fresh.train_step_counter) == 2
    params_at_2 = fresh.state.actor_params
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params_at_2),
                                                         jax.tree.leaves(agent.state.actor_params)))
    assert any((tmp_path / "actor").iterdir())  # TensorBoard events from the actor's metrics


def test_checkpointer_saves_keeps_and_restores(tmp_path):
    _, agent = cartpole_agent()
    agent.initialize()
    step = common.create_variable("global_step", 0)
    checkpointer = common.Checkpointer(tmp_path / "ckpt", max_to_keep=2, agent=agent, global_step=step)
    params = []
    for i in range(1, 4):
        step.assign(i)
        agent.set_state(agent.state._replace(actor_params=jax.tree.map(lambda x: x + 1.0, agent.state.actor_params)))
        params.append(agent.state.actor_params)
        checkpointer.save(step)
    assert checkpointer.all_steps() == [2, 3]
    _, other = cartpole_agent(seed=9)
    other_step = common.create_variable("global_step", 0)
    restored = common.Checkpointer(tmp_path / "ckpt", agent=other, global_step=other_step).initialize_or_restore()
    assert restored == 3 and int(other_step) == 3
    jax.tree.map(np.testing.assert_array_equal, other.state.actor_params, params[-1])
    assert common.Checkpointer(tmp_path / "empty", agent=other).initialize_or_restore() is None


def test_checkpointer_refuses_another_network_with_a_clear_error(tmp_path):
    _, agent = cartpole_agent()
    agent.initialize()
    common.Checkpointer(tmp_path / "ckpt", agent=agent).save(1)
    env = suite_gym.load("CartPole-v0")
    bigger = ReinforceConfig(fc_layer_params=(16,), value_baseline=False).make_agent(env.time_step_spec(),
                                                                                      env.action_spec())
    with pytest.raises(common.CheckpointError, match="ckpt/1"):
        common.Checkpointer(tmp_path / "ckpt", agent=bigger).initialize_or_restore()
    with pytest.raises(TypeError, match="`thing` must have get_checkpoint_state"):
        common.Checkpointer(tmp_path / "x", thing=object())


def test_evaluation_on_a_batched_env_averages_whole_episodes():
    """Rows of lengths 3 and 5 (reward 1 a step). Episodes end (is_last) at iterations 3 (A), 5 (B), 7 (A),
    11 (A, then B); boundaries are counted one step later, so the 4th falls at iteration 12, where B's
    boundary makes a 5th. The metric keeps the last 4 episodes: 5, 3, 3, 5 -> 4.0. (The old loop
    summed both rows' rewards until both had ended.)"""
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from helpers import FixedLengthEnv

    from agentax.environments import BatchedPyEnvironment
    from agentax.policies import FixedPolicy
    from agentax.train.evaluation import compute_avg_return

    env = BatchedPyEnvironment([FixedLengthEnv(3), FixedLengthEnv(5)])
    policy = FixedPolicy(env.time_step_spec(), env.action_spec(), np.int64(0))
    assert compute_avg_return(env, policy, num_episodes=4) == pytest.approx(4.0)
    single = FixedLengthEnv(5)
    assert compute_avg_return(single, FixedPolicy(single.time_step_spec(), single.action_spec(), np.int64(0)),
                              num_episodes=2) == 5.0
    assert compute_avg_return(single, FixedPolicy(single.time_step_spec(), single.action_spec(), np.int64(0)),
                              num_episodes=2, max_steps=3) == 0.0  # the cap stops before any episode ends
    with pytest.raises(ValueError, match="`num_episodes`"):
        compute_avg_return(single, policy, num_episodes=0)


def test_normal_distribution_matches_the_formulas():
    loc, scale = jnp.array([[0.5, -1.0]]), jnp.array([[2.0, 0.5]])
    dist = Normal(loc, scale)
    x = jnp.array([[1.5, -1.25]])
    z = (np.array([1.5, -1.25]) - np.array([0.5, -1.0])) / np.array([2.0, 0.5])
    expected = np.sum(-0.5 * z**2 - np.log([2.0, 0.5]) - 0.5 * np.log(2 * np.pi))
    np.testing.assert_allclose(dist.log_prob(x), [expected], rtol=1e-6)
    np.testing.assert_allclose(dist.entropy(), [np.sum(0.5 + 0.5 * np.log(2 * np.pi) + np.log([2.0, 0.5]))],
                               rtol=1e-6)
    samples = Normal(jnp.zeros((20000, 1)), jnp.full((20000, 1), 3.0)).sample(jax.random.PRNGKey(0))
    assert abs(float(samples.mean())) < 0.1 and float(samples.std()) == pytest.approx(3.0, rel=0.03)
    assert (dist.mode() == loc).all()


def test_entropy_regularization_and_gradient_clipping_in_the_reinforce_loss():
    obs = ArraySpec((4,), np.float32, "observation")
    action = BoundedArraySpec((), np.int32, 0, 1, "action")
    net = ActorDistributionNetwork(obs, action, fc_layer_params=())
    params = {"params": {"logits": {"kernel": jnp.zeros((4, 2)), "bias": jnp.array([0.0, np.log(3.0)])}}}
    batch = __import__("test_reinforce").tiny_batch()
    batch = jax.tree.map(jnp.asarray, batch)
    hparams = {"gamma": 1.0, "entropy_regularization": 0.1, "value_estimation_loss_coef": 0.2}
    agent = ReinforceAgent(time_step_spec(obs), action, net, optax.sgd(1.0), normalize_returns=False,
                           entropy_regularization=0.1)
    info = agent.loss_fn(params, None, hparams, batch)
    p = np.array([0.25, 0.75])
    entropy = -np.sum(p * np.log(p))
    # Entropy bonus: -coef * sum(entropy * valid weights) / number of steps (8); 6 valid steps.
    assert float(info.extra.entropy_regularization_loss) == pytest.approx(-0.1 * entropy * 6 / 8, rel=1e-5)
    # Gradient clipping: an update's global norm is at most the clip (plain SGD with lr 1).
    clipped = ReinforceAgent(time_step_spec(obs), action, net, optax.sgd(1.0), normalize_returns=False,
                             gradient_clipping=0.01)
    state = clipped.init(jax.random.PRNGKey(0))._replace(actor_params=params)
    new, _ = clipped.train_step(state, batch)
    delta = jax.tree.map(lambda a, b: a - b, new.actor_params, params)
    norm = float(optax.tree.norm(delta))
    assert norm == pytest.approx(0.01, rel=1e-4)
    with pytest.raises(ValueError, match="`gradient_clipping`"):
        ReinforceAgent(time_step_spec(obs), action, net, optax.sgd(1.0), gradient_clipping=-1.0)
