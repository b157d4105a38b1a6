"""The REINFORCE tutorial (TF-Agents' "REINFORCE agent" notebook), ported by renames.

Each line follows the reference: `tf_agents` -> `agentax`, `import reverb` ->
`from agentax import reverb`, `tf_py_environment.TFPyEnvironment` ->
`jax_py_environment.JaxPyEnvironment`, `py_tf_eager_policy.PyTFEagerPolicy` ->
`py_jax_policy.PyJaxPolicy`. Where a TensorFlow idiom has no JAX twin, the README's
porting table says what to write and this file does exactly that (marked `# port:`).
The notebook's display code (virtual display, IPython embedding) is left out; the plot
and the video go to files. `--iterations N` shortens the run (the tests use it).
"""

import sys

import imageio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402  (port: the optimizer)

from agentax import reverb  # noqa: E402
from agentax.agents.reinforce import reinforce_agent  # noqa: E402
from agentax.drivers import py_driver  # noqa: E402
from agentax.environments import jax_py_environment, suite_gym  # noqa: E402
from agentax.networks import actor_distribution_network  # noqa: E402
from agentax.policies import py_jax_policy  # noqa: E402
from agentax.replay_buffers import reverb_replay_buffer, reverb_utils  # noqa: E402
from agentax.specs import tensor_spec  # noqa: E402
from agentax.utils import common  # noqa: E402

env_name = "CartPole-v0"  # @param {type:"string"}
num_iterations = 250  # @param {type:"integer"}
collect_episodes_per_iteration = 2  # @param {type:"integer"}
replay_buffer_capacity = 2000  # @param {type:"integer"}

fc_layer_params = (100,)

learning_rate = 1e-3  # @param {type:"number"}
log_interval = 25  # @param {type:"integer"}
num_eval_episodes = 10  # @param {type:"integer"}
eval_interval = 50  # @param {type:"integer"}

if "--iterations" in sys.argv:
    num_iterations = int(sys.argv[sys.argv.index("--iterations") + 1])

env = suite_gym.load(env_name)
env.reset()
print("Observation Spec:")
print(env.time_step_spec().observation)
print("Action Spec:")
print(env.action_spec())

time_step = env.reset()
print("Time step:")
print(time_step)
action = np.array(1, dtype=np.int32)
next_time_step = env.step(action)
print("Next time step:")
print(next_time_step)

train_py_env = suite_gym.load(env_name)
eval_py_env = suite_gym.load(env_name)

train_env = jax_py_environment.JaxPyEnvironment(train_py_env)
eval_env = jax_py_environment.JaxPyEnvironment(eval_py_env)

actor_net = actor_distribution_network.ActorDistributionNetwork(
    train_env.observation_spec(),
    train_env.action_spec(),
    fc_layer_params=fc_layer_params)

optimizer = optax.adam(learning_rate=learning_rate)  # port: tf.keras.optimizers.Adam

train_step_counter = common.Variable(0)  # port: tf.Variable(0)

tf_agent = reinforce_agent.ReinforceAgent(
    train_env.time_step_spec(),
    train_env.action_spec(),
    actor_network=actor_net,
    optimizer=optimizer,
    normalize_returns=True,
    train_step_counter=train_step_counter)
tf_agent.initialize()

eval_policy = tf_agent.policy
collect_policy = tf_agent.collect_policy


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


table_name = 'uniform_table'
replay_buffer_signature = tensor_spec.from_spec(
    tf_agent.collect_data_spec)
replay_buffer_signature = tensor_spec.add_outer_dim(
    replay_buffer_signature)
table = reverb.Table(
    table_name,
    max_size=replay_buffer_capacity,
    sampler=reverb.selectors.Uniform(),
    remover=reverb.selectors.Fifo(),
    rate_limiter=reverb.rate_limiters.MinSize(1),
    signature=replay_buffer_signature)

reverb_server = reverb.Server([table])

replay_buffer = reverb_replay_buffer.ReverbReplayBuffer(
    tf_agent.collect_data_spec,
    table_name=table_name,
    sequence_length=None,
    local_server=reverb_server)

rb_observer = reverb_utils.ReverbAddEpisodeObserver(
    replay_buffer.py_client,
    table_name,
    replay_buffer_capacity
)


def collect_episode(environment, policy, num_episodes):

    driver = py_driver.PyDriver(
        environment,
        py_jax_policy.PyJaxPolicy(
            policy, use_tf_function=True),
        [rb_observer],
        max_episodes=num_episodes)
    initial_time_step = environment.reset()
    driver.run(initial_time_step)


# (Optional) Optimize by wrapping some of the code in a graph using TF function.
tf_agent.train = common.function(tf_agent.train)

# Reset the train step
tf_agent.train_step_counter.assign(0)

# Evaluate the agent's policy once before training.
avg_return = compute_avg_return(eval_env, tf_agent.policy, num_eval_episodes)
returns = [avg_return]

for _ in range(num_iterations):

    # Collect a few episodes using collect_policy and save to the replay buffer.
    collect_episode(
        train_py_env, tf_agent.collect_policy, collect_episodes_per_iteration)

    # Use data from the buffer and update the agent's network.
    iterator = iter(replay_buffer.as_dataset(sample_batch_size=1))
    trajectories, _ = next(iterator)
    train_loss = tf_agent.train(experience=trajectories)

    replay_buffer.clear()

    step = tf_agent.train_step_counter.numpy()

    if step % log_interval == 0:
        print('step = {0}: loss = {1}'.format(step, train_loss.loss))

    if step % eval_interval == 0:
        avg_return = compute_avg_return(eval_env, tf_agent.policy, num_eval_episodes)
        print('step = {0}: Average Return = {1}'.format(step, avg_return))
        returns.append(avg_return)

steps = range(0, num_iterations + 1, eval_interval)
plt.plot(steps, returns)
plt.ylabel('Average Return')
plt.xlabel('Step')
plt.ylim(top=250)
plt.savefig("reinforce_returns.png")  # port: the notebook shows the figure inline

num_episodes = 3
video_filename = 'imageio.mp4'
with imageio.get_writer(video_filename, fps=60) as video:
    for _ in range(num_episodes):
        time_step = eval_env.reset()
        video.append_data(eval_py_env.render())
        while not time_step.is_last():
            action_step = tf_agent.policy.action(time_step)
            time_step = eval_env.step(action_step.action)
            video.append_data(eval_py_env.render())
print(f"video: {video_filename}")
