"""The DQN tutorial (TF-Agents' "Train a Deep Q Network with TF-Agents" notebook), ported by renames.

Each line follows the reference: `tf_agents` -> `agentax`, `import reverb` -> `from agentax import
reverb`, `tf_py_environment.TFPyEnvironment` -> `jax_py_environment.JaxPyEnvironment`,
`py_tf_eager_policy.PyTFEagerPolicy` -> `py_jax_policy.PyJaxPolicy`, `random_tf_policy.RandomTFPolicy`
-> `random_jax_policy.RandomJaxPolicy`. Where a TensorFlow idiom has no JAX twin, the README's porting
table says what to write and this file does exactly that (marked `# port:`). The notebook's display code
(virtual display, IPython embedding) is left out; the plot and the videos go to files.
`--iterations N` shortens the run (the tests use it).
"""

import sys

import flax.linen as nn  # port: the layers
import imageio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402  (port: the optimizer)

from agentax import reverb  # noqa: E402
from agentax.agents.dqn import dqn_agent  # noqa: E402
from agentax.drivers import py_driver  # noqa: E402
from agentax.environments import jax_py_environment, suite_gym  # noqa: E402
from agentax.networks import sequential  # noqa: E402
from agentax.networks.q_network import uniform_init  # noqa: E402  (port: RandomUniform)
from agentax.policies import py_jax_policy, random_jax_policy  # noqa: E402
from agentax.replay_buffers import reverb_replay_buffer, reverb_utils  # noqa: E402
from agentax.specs import tensor_spec  # noqa: E402
from agentax.utils import common  # noqa: E402

num_iterations = 20000  # @param {type:"integer"}

initial_collect_steps = 100  # @param {type:"integer"}
collect_steps_per_iteration = 1  # @param {type:"integer"}
replay_buffer_max_length = 100000  # @param {type:"integer"}

batch_size = 64  # @param {type:"integer"}
learning_rate = 1e-3  # @param {type:"number"}
log_interval = 200  # @param {type:"integer"}

num_eval_episodes = 10  # @param {type:"integer"}
eval_interval = 1000  # @param {type:"integer"}

if "--iterations" in sys.argv:
    num_iterations = int(sys.argv[sys.argv.index("--iterations") + 1])

env_name = 'CartPole-v0'
env = suite_gym.load(env_name)

env.reset()

print('Observation Spec:')
print(env.time_step_spec().observation)

print('Reward Spec:')
print(env.time_step_spec().reward)

print('Action Spec:')
print(env.action_spec())

time_step = env.reset()
print('Time step:')
print(time_step)

action = np.array(1, dtype=np.int32)

next_time_step = env.step(action)
print('Next time step:')
print(next_time_step)

train_py_env = suite_gym.load(env_name)
eval_py_env = suite_gym.load(env_name)

train_env = jax_py_environment.JaxPyEnvironment(train_py_env)
eval_env = jax_py_environment.JaxPyEnvironment(eval_py_env)

fc_layer_params = (100, 50)
action_tensor_spec = tensor_spec.from_spec(env.action_spec())
num_actions = action_tensor_spec.maximum - action_tensor_spec.minimum + 1


# Define a helper function to create Dense layers configured with the right
# activation and kernel initializer.
def dense_layer(num_units):
    # port: tf.keras.layers.Dense(num_units, activation=relu, kernel_initializer=VarianceScaling(...))
    return nn.Sequential([
        nn.Dense(
            num_units,
            kernel_init=nn.initializers.variance_scaling(
                scale=2.0, mode='fan_in', distribution='truncated_normal')),
        nn.relu])


# QNetwork consists of a sequence of Dense layers followed by a dense layer
# with `num_actions` units to generate one q_value per available action as
# its output.
dense_layers = [dense_layer(num_units) for num_units in fc_layer_params]
q_values_layer = nn.Dense(  # port: tf.keras.layers.Dense(num_actions, activation=None, ...)
    int(num_actions),
    kernel_init=uniform_init(minval=-0.03, maxval=0.03),  # port: RandomUniform(minval=-0.03, maxval=0.03)
    bias_init=nn.initializers.constant(-0.2))  # port: tf.keras.initializers.Constant(-0.2)
q_net = sequential.Sequential(dense_layers + [q_values_layer])

optimizer = optax.adam(learning_rate=learning_rate)  # port: tf.keras.optimizers.Adam

train_step_counter = common.Variable(0)  # port: tf.Variable(0)

agent = dqn_agent.DqnAgent(
    train_env.time_step_spec(),
    train_env.action_spec(),
    q_network=q_net,
    optimizer=optimizer,
    td_errors_loss_fn=common.element_wise_squared_loss,
    train_step_counter=train_step_counter)

agent.initialize()

eval_policy = agent.policy
collect_policy = agent.collect_policy

random_policy = random_jax_policy.RandomJaxPolicy(train_env.time_step_spec(),
                                                  train_env.action_spec())

example_environment = jax_py_environment.JaxPyEnvironment(
    suite_gym.load('CartPole-v0'))

time_step = example_environment.reset()

print(random_policy.action(time_step))


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


print(compute_avg_return(eval_env, random_policy, num_eval_episodes))

table_name = 'uniform_table'
replay_buffer_signature = tensor_spec.from_spec(
    agent.collect_data_spec)
replay_buffer_signature = tensor_spec.add_outer_dim(
    replay_buffer_signature)

table = reverb.Table(
    table_name,
    max_size=replay_buffer_max_length,
    sampler=reverb.selectors.Uniform(),
    remover=reverb.selectors.Fifo(),
    rate_limiter=reverb.rate_limiters.MinSize(1),
    signature=replay_buffer_signature)

reverb_server = reverb.Server([table])

replay_buffer = reverb_replay_buffer.ReverbReplayBuffer(
    agent.collect_data_spec,
    table_name=table_name,
    sequence_length=2,
    local_server=reverb_server)

rb_observer = reverb_utils.ReverbAddTrajectoryObserver(
    replay_buffer.py_client,
    table_name,
    sequence_length=2)

print(agent.collect_data_spec)
print(agent.collect_data_spec._fields)

py_driver.PyDriver(
    env,
    py_jax_policy.PyJaxPolicy(
        random_policy, use_tf_function=True),
    [rb_observer],
    max_steps=initial_collect_steps).run(train_py_env.reset())

# Dataset generates trajectories with shape [Bx2x...]
dataset = replay_buffer.as_dataset(
    num_parallel_calls=3,
    sample_batch_size=batch_size,
    num_steps=2).prefetch(3)

iterator = iter(dataset)
print(iterator)

# (Optional) Optimize by wrapping some of the code in a graph using TF function.
agent.train = common.function(agent.train)

# Reset the train step.
agent.train_step_counter.assign(0)

# Evaluate the agent's policy once before training.
avg_return = compute_avg_return(eval_env, agent.policy, num_eval_episodes)
returns = [avg_return]

# Reset the environment.
time_step = train_py_env.reset()

# Create a driver to collect experience.
collect_driver = py_driver.PyDriver(
    env,
    py_jax_policy.PyJaxPolicy(
        agent.collect_policy, use_tf_function=True),
    [rb_observer],
    max_steps=collect_steps_per_iteration)

for _ in range(num_iterations):

    # Collect a few steps and save to the replay buffer.
    time_step, _ = collect_driver.run(time_step)

    # Sample a batch of data from the buffer and update the agent's network.
    experience, unused_info = next(iterator)
    train_loss = agent.train(experience).loss

    step = agent.train_step_counter.numpy()

    if step % log_interval == 0:
        print('step = {0}: loss = {1}'.format(step, train_loss))

    if step % eval_interval == 0:
        avg_return = compute_avg_return(eval_env, agent.policy, num_eval_episodes)
        print('step = {0}: Average Return = {1}'.format(step, avg_return))
        returns.append(avg_return)

iterations = range(0, num_iterations + 1, eval_interval)
plt.plot(iterations, returns)
plt.ylabel('Average Return')
plt.xlabel('Iterations')
plt.ylim(top=250)
plt.savefig("dqn_returns.png")  # port: the notebook shows the figure inline


def create_policy_eval_video(policy, filename, num_episodes=5, fps=30):
    filename = filename + ".mp4"
    with imageio.get_writer(filename, fps=fps) as video:
        for _ in range(num_episodes):
            time_step = eval_env.reset()
            video.append_data(eval_py_env.render())
            while not time_step.is_last():
                action_step = policy.action(time_step)
                time_step = eval_env.step(action_step.action)
                video.append_data(eval_py_env.render())
    print(f"video: {filename}")  # port: embed_mp4(filename) shows it in the notebook


create_policy_eval_video(agent.policy, "trained-agent")
create_policy_eval_video(random_policy, "random-agent")
