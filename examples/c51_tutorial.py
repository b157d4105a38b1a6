"""The C51 tutorial (TF-Agents' "DQN C51/Rainbow" notebook), ported by renames.

Each line follows the reference: `tf_agents` -> `agentax`, `tf_py_environment.TFPyEnvironment` ->
`jax_py_environment.JaxPyEnvironment`, `random_tf_policy.RandomTFPolicy` ->
`random_jax_policy.RandomJaxPolicy`, `tf_uniform_replay_buffer.TFUniformReplayBuffer` ->
`jax_uniform_replay_buffer.UniformReplayBuffer`. Where a TensorFlow idiom has no JAX twin, the README's
porting table says what to write and this file does exactly that (marked `# port:`). The notebook's
display code (virtual display, IPython embedding) is left out; the plot and the video go to files.
`--iterations N` shortens the run (the tests use it).
"""

import sys

import imageio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402  (port: the optimizer)

from agentax.agents.categorical_dqn import categorical_dqn_agent  # noqa: E402
from agentax.environments import jax_py_environment, suite_gym  # noqa: E402
from agentax.networks import categorical_q_network  # noqa: E402
from agentax.policies import random_jax_policy  # noqa: E402
from agentax.replay_buffers import jax_uniform_replay_buffer  # noqa: E402
from agentax.trajectories import trajectory  # noqa: E402
from agentax.utils import common  # noqa: E402

env_name = "CartPole-v1"  # @param {type:"string"}
num_iterations = 15000  # @param {type:"integer"}

initial_collect_steps = 1000  # @param {type:"integer"}
collect_steps_per_iteration = 1  # @param {type:"integer"}
replay_buffer_capacity = 100000  # @param {type:"integer"}

fc_layer_params = (100,)

batch_size = 64  # @param {type:"integer"}
learning_rate = 1e-3  # @param {type:"number"}
gamma = 0.99
log_interval = 200  # @param {type:"integer"}

num_atoms = 51  # @param {type:"integer"}
min_q_value = -20  # @param {type:"integer"}
max_q_value = 20  # @param {type:"integer"}
n_step_update = 2  # @param {type:"integer"}

num_eval_episodes = 10  # @param {type:"integer"}
eval_interval = 1000  # @param {type:"integer"}

if "--iterations" in sys.argv:
    num_iterations = int(sys.argv[sys.argv.index("--iterations") + 1])

train_py_env = suite_gym.load(env_name)
eval_py_env = suite_gym.load(env_name)

train_env = jax_py_environment.JaxPyEnvironment(train_py_env)
eval_env = jax_py_environment.JaxPyEnvironment(eval_py_env)

categorical_q_net = categorical_q_network.CategoricalQNetwork(
    train_env.observation_spec(),
    train_env.action_spec(),
    num_atoms=num_atoms,
    fc_layer_params=fc_layer_params)

optimizer = optax.adam(learning_rate=learning_rate)  # port: tf.compat.v1.train.AdamOptimizer

train_step_counter = common.Variable(0)  # port: tf.compat.v2.Variable(0)

agent = categorical_dqn_agent.CategoricalDqnAgent(
    train_env.time_step_spec(),
    train_env.action_spec(),
    categorical_q_network=categorical_q_net,
    optimizer=optimizer,
    min_q_value=min_q_value,
    max_q_value=max_q_value,
    n_step_update=n_step_update,
    td_errors_loss_fn=common.element_wise_squared_loss,
    gamma=gamma,
    train_step_counter=train_step_counter)
agent.initialize()


def compute_avg_return(environment, policy, num_episodes=10):

    total_return = 0.0
    for _ in range(num_episodes):

        time_step = environment.reset()
        episode_return = 0.0

        while not time_step.is_last():
            action_step = policy.action(time_step)
            time_step = environment.step(action_step.action)
            episode_return += time_step.reward
        total_return += episode_return

    avg_return = total_return / num_episodes
    return np.asarray(avg_return)[0]  # port: avg_return.numpy()[0]


random_policy = random_jax_policy.RandomJaxPolicy(train_env.time_step_spec(),
                                                  train_env.action_spec())

print(compute_avg_return(eval_env, random_policy, num_eval_episodes))

replay_buffer = jax_uniform_replay_buffer.UniformReplayBuffer(
    data_spec=agent.collect_data_spec,
    batch_size=train_env.batch_size,
    max_length=replay_buffer_capacity)


def collect_step(environment, policy):
    time_step = environment.current_time_step()
    action_step = policy.action(time_step)
    next_time_step = environment.step(action_step.action)
    traj = trajectory.from_transition(time_step, action_step, next_time_step)

    # Add trajectory to the replay buffer
    replay_buffer.add_batch(traj)


for _ in range(initial_collect_steps):
    collect_step(train_env, random_policy)

# This loop is so common in RL, that we provide standard implementations of
# these. For more details see the drivers module.

# Dataset generates trajectories with shape [BxTx...] where
# T = n_step_update + 1.
dataset = replay_buffer.as_dataset(
    num_parallel_calls=3, sample_batch_size=batch_size,
    num_steps=n_step_update + 1).prefetch(3)

iterator = iter(dataset)

# (Optional) Optimize by wrapping some of the code in a graph using TF function.
agent.train = common.function(agent.train)

# Reset the train step
agent.train_step_counter.assign(0)

# Evaluate the agent's policy once before training.
avg_return = compute_avg_return(eval_env, agent.policy, num_eval_episodes)
returns = [avg_return]

for _ in range(num_iterations):

    # Collect a few steps using collect_policy and save to the replay buffer.
    for _ in range(collect_steps_per_iteration):
        collect_step(train_env, agent.collect_policy)

    # Sample a batch of data from the buffer and update the agent's network.
    experience, unused_info = next(iterator)
    train_loss = agent.train(experience)

    step = agent.train_step_counter.numpy()

    if step % log_interval == 0:
        print('step = {0}: loss = {1}'.format(step, train_loss.loss))

    if step % eval_interval == 0:
        avg_return = compute_avg_return(eval_env, agent.policy, num_eval_episodes)
        print('step = {0}: Average Return = {1:.2f}'.format(step, avg_return))
        returns.append(avg_return)

steps = range(0, num_iterations + 1, eval_interval)
plt.plot(steps, returns)
plt.ylabel('Average Return')
plt.xlabel('Step')
plt.ylim(top=550)
plt.savefig("c51_returns.png")  # port: the notebook shows the figure inline

num_episodes = 3
video_filename = 'imageio.mp4'
with imageio.get_writer(video_filename, fps=60) as video:
    for _ in range(num_episodes):
        time_step = eval_env.reset()
        video.append_data(eval_py_env.render())
        while not time_step.is_last():
            action_step = agent.policy.action(time_step)
            time_step = eval_env.step(action_step.action)
            video.append_data(eval_py_env.render())
print(f"video: {video_filename}")  # port: embed_mp4(video_filename) shows it in the notebook
