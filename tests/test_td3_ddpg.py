"""Td3Agent and DdpgAgent: losses against hand-computed values on tiny linear networks
(twin-critic minimum, target policy smoothing with clipping, dqda clipping, boundary masking),
the periods of actor and target updates, bad arguments, and short runs that improve."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentax.agents.actor_critic import as_transition
from agentax.agents.ddpg.actor_network import ActorNetwork
from agentax.agents.ddpg.critic_network import CriticNetwork
from agentax.agents.ddpg.ddpg_agent import DdpgAgent, dqda_actor_loss
from agentax.agents.td3.td3_agent import Td3Agent, smoothed_target_actions
from agentax.policies.gaussian_policy import GaussianPolicy
from agentax.policies.ou_noise_policy import OUNoisePolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.trajectory import Trajectory
from agentax.utils.losses import element_wise_squared_loss

OBS = array_spec.BoundedArraySpec((2,), np.float32, -10.0, 10.0, name="observation")
ACT = array_spec.BoundedArraySpec((1,), np.float32, -2.0, 2.0, name="action")
TSS = ts.time_step_spec(OBS)


class ConstantActor(nn.Module):
    """a(s) = theta + 0 * s (one parameter per action element)."""

    @nn.compact
    def __call__(self, observation):
        theta = self.param("theta", nn.initializers.zeros, (1,))
        return theta + 0.0 * observation[..., :1]


class LinearCritic(nn.Module):
    """Q(s, a) = w . s + k . a."""

    @nn.compact
    def __call__(self, inputs):
        observation, action = inputs
        w = self.param("w", nn.initializers.zeros, (2,))
        k = self.param("k", nn.initializers.zeros, (1,))
        return observation @ w + action @ k


def _params(**values):
    return {"params": {name: jnp.asarray(value, jnp.float32) for name, value in values.items()}}


def _experience(obs, action, reward, next_obs, discount, step_type=None):
    batch = len(reward)
    step_type = np.full(batch, ts.StepType.MID) if step_type is None else np.asarray(step_type)
    return Trajectory(step_type=jnp.asarray(np.stack([step_type, np.full(batch, ts.StepType.MID)], 1), jnp.int32),
                      observation=jnp.asarray(np.stack([obs, next_obs], 1), jnp.float32),
                      action=jnp.asarray(np.stack([action, action], 1), jnp.float32), policy_info=(),
                      next_step_type=jnp.full((batch, 2), ts.StepType.MID, jnp.int32),
                      reward=jnp.asarray(np.stack([reward, reward], 1), jnp.float32),
                      discount=jnp.asarray(np.stack([discount, discount], 1), jnp.float32))


OBS_T = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 3.0]])
ACT_T = np.array([[0.5], [-1.0], [2.0]])
REWARD = np.array([1.0, -2.0, 0.5])
NEXT_OBS = np.array([[0.0, 1.0], [2.0, -1.0], [1.0, 1.0]])
DISCOUNT = np.array([1.0, 0.0, 1.0])


def _td3(**kwargs):
    args = dict(gamma=0.9, reward_scale_factor=2.0, td_errors_loss_fn=element_wise_squared_loss,
                target_policy_noise=0.2, target_policy_noise_clip=0.0)
    args.update(kwargs)
    return Td3Agent(TSS, ACT, ConstantActor(), LinearCritic(), **args)


def test_td3_critic_loss_uses_the_minimum_of_the_twin_target_critics():
    agent = _td3()
    state = agent.init(jax.random.PRNGKey(0))
    critics = (_params(w=[1.0, 0.0], k=[2.0]), _params(w=[0.0, 1.0], k=[-1.0]))
    targets = (_params(w=[0.5, 0.5], k=[1.0]), _params(w=[1.0, -1.0], k=[3.0]))
    target_actor = _params(theta=[0.3])
    loss = agent.critic_loss(critics, targets, target_actor, state.hparams,
                             as_transition(_experience(OBS_T, ACT_T, REWARD, NEXT_OBS, DISCOUNT)), jax.random.PRNGKey(1))
    # hand: target action 0.3 (noise clipped to 0), Q'1 = .5 s1 + .5 s2 + .3, Q'2 = s1 - s2 + .9
    q1_target = 0.5 * NEXT_OBS[:, 0] + 0.5 * NEXT_OBS[:, 1] + 0.3
    q2_target = NEXT_OBS[:, 0] - NEXT_OBS[:, 1] + 0.9
    y = 2.0 * REWARD + 0.9 * DISCOUNT * np.minimum(q1_target, q2_target)
    q1 = OBS_T[:, 0] + 2.0 * ACT_T[:, 0]
    q2 = OBS_T[:, 1] - ACT_T[:, 0]
    np.testing.assert_allclose(loss, np.mean((y - q1) ** 2 + (y - q2) ** 2), rtol=1e-5)
    # DDPG: one critic, no smoothing
    ddpg = DdpgAgent(TSS, ACT, ConstantActor(), LinearCritic(), gamma=0.9, reward_scale_factor=2.0,
                     td_errors_loss_fn=element_wise_squared_loss)
    loss = ddpg.critic_loss(critics[:1], targets[:1], target_actor, ddpg.init(jax.random.PRNGKey(0)).hparams,
                            as_transition(_experience(OBS_T, ACT_T, REWARD, NEXT_OBS, DISCOUNT)))
    y = 2.0 * REWARD + 0.9 * DISCOUNT * q1_target
    np.testing.assert_allclose(loss, np.mean((y - q1) ** 2), rtol=1e-5)


def test_boundary_transitions_are_masked_and_weights_apply():
    agent = _td3()
    state = agent.init(jax.random.PRNGKey(0))
    critics = (_params(w=[1.0, 0.0], k=[2.0]), _params(w=[0.0, 1.0], k=[-1.0]))
    args = (critics, critics, _params(theta=[0.0]), state.hparams)
    boundary = [ts.StepType.MID, ts.StepType.LAST, ts.StepType.MID]
    masked = agent.critic_loss(*args, as_transition(_experience(OBS_T, ACT_T, REWARD, NEXT_OBS, DISCOUNT, boundary)),
                               jax.random.PRNGKey(1))
    weighted = agent.critic_loss(*args, as_transition(_experience(OBS_T, ACT_T, REWARD, NEXT_OBS, DISCOUNT)),
                                 jax.random.PRNGKey(1), jnp.asarray([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(masked, weighted, rtol=1e-6)
    full = agent.critic_loss(*args, as_transition(_experience(OBS_T, ACT_T, REWARD, NEXT_OBS, DISCOUNT)),
                             jax.random.PRNGKey(1))
    assert masked < full


def test_target_policy_smoothing_clips_the_noise():
    actions = jnp.asarray([[0.5], [-1.0], [1.9], [0.0]] * 50, jnp.float32)
    key = jax.random.PRNGKey(3)
    # clip 0: no noise at all; noise 0: none either
    np.testing.assert_array_equal(smoothed_target_actions(actions, key, 0.2, 0.0), actions)
    np.testing.assert_array_equal(smoothed_target_actions(actions, key, 0.0, 0.5), actions)
    # a huge scale: every noise element is clipped to exactly +-0.5 (and not clipped to the bounds)
    delta = np.asarray(smoothed_target_actions(actions, key, 1e6, 0.5) - actions)
    np.testing.assert_allclose(np.abs(delta), 0.5, rtol=1e-6)
    assert (delta > 0).any() and (delta < 0).any()
    assert np.max(np.asarray(smoothed_target_actions(actions, key, 1e6, 0.5))) == pytest.approx(2.4)
    # a small scale is unclipped Gaussian noise
    delta = np.asarray(smoothed_target_actions(jnp.zeros((20_000, 1)), key, 0.1, 10.0))
    assert abs(delta.std() - 0.1) < 0.005


def test_td3_critic_loss_with_smoothing_noise_clipped_at_hand_values():
    # a huge target noise clipped at 0.25: the target action is 0.3 +- 0.25; with k' = 0 on the
    # second target critic and k' = 1 on the first, min(Q'1, Q'2) is known for either sign
    agent = _td3(target_policy_noise=1e6, target_policy_noise_clip=0.25)
    state = agent.init(jax.random.PRNGKey(0))
    critics = (_params(w=[0.0, 0.0], k=[0.0]), _params(w=[0.0, 0.0], k=[0.0]))
    targets = (_params(w=[0.0, 0.0], k=[1.0]), _params(w=[0.0, 0.0], k=[0.0]))
    loss = agent.critic_loss(critics, targets, _params(theta=[0.3]), state.hparams,
                             as_transition(_experience(OBS_T, ACT_T, REWARD, NEXT_OBS, DISCOUNT)),
                             jax.random.PRNGKey(1))
    # Q'1 = 0.3 +- 0.25 > 0 = Q'2: the minimum is 0, so y = 2 r
    np.testing.assert_allclose(loss, np.mean(2 * (2.0 * REWARD) ** 2), rtol=1e-5)
    # with the target actor at -1: Q'1 = -1 +- 0.25 < 0, the minimum is Q'1 in [-1.25, -0.75]
    loss = agent.critic_loss(critics, targets, _params(theta=[-1.0]), state.hparams,
                             as_transition(_experience(OBS_T, ACT_T, REWARD, NEXT_OBS, DISCOUNT)),
                             jax.random.PRNGKey(1))
    lows = np.mean(2 * (2.0 * REWARD + 0.9 * DISCOUNT * -1.25) ** 2)
    highs = np.mean(2 * (2.0 * REWARD + 0.9 * DISCOUNT * -0.75) ** 2)
    assert min(lows, highs) - 1e-4 <= float(loss) <= max(lows, highs) + 1e-4


def test_dqda_clipping_in_the_actor_loss():
    critic = lambda a: a @ jnp.asarray([5.0, -0.2])  # noqa: E731  dQ/da = (5, -0.2)
    actions = jnp.asarray([[0.1, 0.2], [0.3, -0.4]])
    np.testing.assert_allclose(dqda_actor_loss(critic, actions), [(25 + 0.04) / 2] * 2, rtol=1e-6)
    np.testing.assert_allclose(dqda_actor_loss(critic, actions, 1.0), [(1 + 0.04) / 2] * 2, rtol=1e-6)
    # the gradient in the actions is -2 dqda / |A|: ascent on Q, with the clipped dqda
    grad = jax.grad(lambda a: jnp.sum(dqda_actor_loss(critic, a, 1.0)))(actions)
    np.testing.assert_allclose(grad, [[-1.0, 0.2]] * 2, rtol=1e-6)
    # through the agent: DDPG's actor loss with dqda_clipping=0.5 and k = 3
    agent = DdpgAgent(TSS, ACT, ConstantActor(), LinearCritic(), dqda_clipping=0.5)
    state = agent.init(jax.random.PRNGKey(0))
    transition = as_transition(_experience(OBS_T, ACT_T, REWARD, NEXT_OBS, DISCOUNT))
    loss = agent.actor_loss(_params(theta=[0.1]), (_params(w=[1.0, 1.0], k=[3.0]),), state.hparams, transition)
    np.testing.assert_allclose(loss, 0.25, rtol=1e-6)
    unclipped = DdpgAgent(TSS, ACT, ConstantActor(), LinearCritic())
    loss = unclipped.actor_loss(_params(theta=[0.1]), (_params(w=[1.0, 1.0], k=[3.0]),),
                                unclipped.init(jax.random.PRNGKey(0)).hparams, transition)
    np.testing.assert_allclose(loss, 9.0, rtol=1e-6)


def _changes(agent, steps):
    """For each train step: did the actor / critic 1 / target actor / target critic 1 change?"""
    state = agent.init(jax.random.PRNGKey(0))
    state = state._replace(critic_params=tuple(_params(w=[0.5, -0.5], k=[1.0]) for _ in state.critic_params))
    experience = _experience(OBS_T, ACT_T, REWARD, NEXT_OBS, DISCOUNT)
    step = jax.jit(agent.train_step)
    rows = []
    for i in range(steps):
        new, _ = step(state, experience, jax.random.PRNGKey(i))
        changed = [not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(getattr(new, f)),
                                                               jax.tree.leaves(getattr(state, f))))
                   for f in ("actor_params", "critic_params", "target_actor_params", "target_critic_params")]
        rows.append((changed, state, new))
        state = new
    return rows


def test_actor_updates_every_actor_update_period_steps():
    rows = _changes(_td3(actor_update_period=3, target_update_period=1000), 7)
    assert [r[0][0] for r in rows] == [True, False, False, True, False, False, True]
    assert all(r[0][1] for r in rows)  # the critics at every step


def test_soft_and_hard_target_updates_at_their_periods():
    tau = 0.25
    rows = _changes(_td3(target_update_period=3, target_update_tau=tau), 7)
    # TF-Agents' Periodically: calls 3, 6, ... (not the first)
    assert [r[0][2] for r in rows] == [False, False, True, False, False, True, False]
    assert [r[0][3] for r in rows] == [False, False, True, False, False, True, False]
    for changed, before, after in rows:
        if changed[3]:  # target <- (1 - tau) target + tau online (the online after this step's update)
            for t0, online, t1 in zip(jax.tree.leaves(before.target_critic_params),
                                      jax.tree.leaves(after.critic_params), jax.tree.leaves(after.target_critic_params)):
                np.testing.assert_allclose(t1, (1 - tau) * t0 + tau * online, rtol=1e-6, atol=1e-7)
    # tau = 1 (hard): the targets are copies of the online networks right after each update
    rows = _changes(DdpgAgent(TSS, ACT, ConstantActor(), LinearCritic(), target_update_period=2), 4)
    assert [r[0][2] for r in rows] == [False, True, False, True]
    for changed, _, after in rows:
        same = all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(after.target_actor_params),
                                                        jax.tree.leaves(after.actor_params)))
        assert same == changed[2]


def test_policies_hyperparameters_and_specs():
    td3 = Td3Agent(TSS, ACT, ActorNetwork(OBS, ACT, (8,)), CriticNetwork((OBS, ACT), joint_fc_layer_params=(8,)),
                   exploration_noise_std=0.3, target_update_tau=0.01)
    assert isinstance(td3.collect_policy, GaussianPolicy) and td3.collect_policy.scale == 0.3
    assert td3.train_sequence_length == 2
    td3.initialize()
    state = td3.with_hyperparameters(td3.state, target_policy_noise=0.1, critic_learning_rate=5e-4)
    values = td3.hyperparameters(state)
    assert float(values["target_policy_noise"]) == pytest.approx(0.1)
    assert float(values["critic_learning_rate"]) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        td3.with_hyperparameters(td3.state, epsilon=0.1)
    # the twin critics start apart (independent initializations of one module)
    c1, c2 = td3.state.critic_params
    assert not np.allclose(jax.tree.leaves(c1)[-1], jax.tree.leaves(c2)[-1])
    ddpg = DdpgAgent(TSS, ACT, ActorNetwork(OBS, ACT, (8,)), CriticNetwork((OBS, ACT), joint_fc_layer_params=(8,)),
                     ou_stddev=0.2, ou_damping=0.15)
    assert isinstance(ddpg.collect_policy, OUNoisePolicy)
    assert len(ddpg.collect_policy.policy_state_spec) == 2


def test_bad_arguments_are_refused():
    actor, critic = ConstantActor(), LinearCritic()
    with pytest.raises(ValueError, match="continuous"):
        Td3Agent(TSS, array_spec.BoundedArraySpec((), np.int32, 0, 2), actor, critic)
    with pytest.raises(ValueError, match="actor_update_period"):
        Td3Agent(TSS, ACT, actor, critic, actor_update_period=0)
    with pytest.raises(ValueError, match="`gamma`"):
        DdpgAgent(TSS, ACT, actor, critic, gamma=1.5)
    with pytest.raises(ValueError, match="`ou_damping`"):
        DdpgAgent(TSS, ACT, actor, critic, ou_damping=-0.1)
    with pytest.raises(ValueError, match="target_policy_noise_clip"):
        Td3Agent(TSS, ACT, actor, critic, target_policy_noise_clip=-1.0)
    with pytest.raises(TypeError, match="critic_network"):
        DdpgAgent(TSS, ACT, actor, lambda x: x)
    agent = Td3Agent(TSS, ACT, actor, critic, target_critic_network=CriticNetwork((OBS, ACT), joint_fc_layer_params=(4,)))
    with pytest.raises(ValueError, match="target_critic_network"):
        agent.initialize()


@pytest.mark.parametrize("agent_class", [Td3Agent, DdpgAgent])
def test_a_short_run_on_a_one_step_task_improves(agent_class):
    """One-step episodes with reward -(a - 0.5 s1)^2: the greedy action's reward rises."""
    rng = np.random.default_rng(0)
    kwargs = dict(actor_optimizer=None, critic_optimizer=None, gamma=0.0, target_update_tau=0.05,
                  td_errors_loss_fn=element_wise_squared_loss)
    if agent_class is Td3Agent:
        kwargs.update(actor_update_period=2, target_update_period=2)
    import optax
    kwargs.update(actor_optimizer=optax.adam(3e-3), critic_optimizer=optax.adam(1e-2))
    agent = agent_class(TSS, ACT, ActorNetwork(OBS, ACT, (32,)),
                        CriticNetwork((OBS, ACT), joint_fc_layer_params=(32, 32)), **kwargs)
    state = agent.init(jax.random.PRNGKey(0))
    eval_obs = jnp.asarray(rng.uniform(-2, 2, (256, 2)), jnp.float32)

    def greedy_reward(state):
        actions = agent.actor_network.apply(state.actor_params, eval_obs)
        return float(jnp.mean(-(actions[:, 0] - 0.5 * eval_obs[:, 0]) ** 2))

    obs = rng.uniform(-2, 2, (4096, 2))
    actions = rng.uniform(-2, 2, (4096, 1))
    rewards = -(actions[:, 0] - 0.5 * obs[:, 0]) ** 2
    data = _experience(obs, actions, rewards, obs, np.zeros(4096))

    @jax.jit
    def train(state, key):
        def one(state, key):
            index = jax.random.randint(key, (64,), 0, 4096)
            return agent.train_step(state, jax.tree.map(lambda x: x[index], data), key)
        return jax.lax.scan(one, state, jax.random.split(key, 600))

    before = greedy_reward(state)
    state, _ = train(state, jax.random.PRNGKey(1))
    after = greedy_reward(state)
    assert after > before + 0.3 and after > -0.1, (before, after)


def _quiet(*args):
    pass


@pytest.mark.parametrize("agent", ["td3", "ddpg"])
def test_both_trainers_run_and_save_policies_that_act_inside_the_bounds(agent, tmp_path):
    """A few iterations on the compiled (TD3) or Python (DDPG, with its OU policy state) trainer:
    the run trains, evaluates, and its saved collect policy acts inside Pendulum's bounds."""
    import dataclasses

    from agentax.environments import suite_gym
    from agentax.policies import policy_loader
    from agentax.train.run import agent_config_module, train_run

    config = dataclasses.replace(
        agent_config_module(agent).PRESETS["default"], trainer="compiled" if agent == "td3" else "python",
        num_envs=2, iterations=3, collect_steps_per_iteration=4, train_steps_per_iteration=2,
        initial_collect_steps=16, replay_capacity=100, sample_batch_size=4, actor_fc_layer_params=(8,),
        critic_joint_fc_layer_params=(8,), eval_interval=3, log_interval=3, num_eval_episodes=1, video_episodes=0)
    summary = train_run(config, tmp_path / agent, progress=False, echo=_quiet)
    assert summary["train_steps"] == 6 and summary["env_steps"] >= 16 + 12
    assert np.isfinite(summary["final_eval_return"])
    policy = policy_loader.load(tmp_path / agent / "policies" / "collect_policy")
    env = suite_gym.load("Pendulum-v1")
    env.seed(0)
    time_step, state = env.reset(), policy.get_initial_state(None)
    for _ in range(20):
        step = policy.action(time_step, state)
        state = step.state
        assert np.all(np.abs(step.action) <= 2.0)
        time_step = env.step(step.action)
