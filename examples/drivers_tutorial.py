"""The drivers tutorial (TF-Agents' "Drivers" notebook) on agentax.

Python drivers: a random policy on CartPole-v0 driven by `PyDriver`, the
trajectories collected into a list and the average return computed.
Compiled drivers: `DynamicEpisodeDriver` runs two episodes as one compiled loop,
over the Gymnasium environment (`JaxPyEnvironment`, the reference's
`TFPyEnvironment`) and over the native JAX CartPole, then continues from the
returned state.
"""

from agentax.drivers import dynamic_episode_driver, py_driver
from agentax.environments import jax_py_environment, suite_gym, suite_jax
from agentax.metrics import jax_metrics, py_metrics
from agentax.policies import random_jax_policy, random_py_policy


def python_drivers() -> None:
    env = suite_gym.load("CartPole-v0")
    env.seed(0)
    policy = random_py_policy.RandomPyPolicy(time_step_spec=env.time_step_spec(),
                                             action_spec=env.action_spec(), seed=0)
    replay_buffer = []
    metric = py_metrics.AverageReturnMetric()
    observers = [replay_buffer.append, metric]
    driver = py_driver.PyDriver(env, policy, observers, max_steps=20, max_episodes=1)

    initial_time_step = env.reset()
    final_time_step, _ = driver.run(initial_time_step)

    print("Replay Buffer:")
    for traj in replay_buffer:
        print(traj)
    print("Average Return: ", metric.result())
    print("final_time_step", final_time_step)


def compiled_drivers(env, title: str) -> None:
    print(f"\n--- DynamicEpisodeDriver on {title}")
    policy = random_jax_policy.RandomJaxPolicy(time_step_spec=env.time_step_spec(), action_spec=env.action_spec())
    num_episodes = jax_metrics.NumberOfEpisodes()
    env_steps = jax_metrics.EnvironmentSteps()
    observers = [num_episodes, env_steps]
    driver = dynamic_episode_driver.DynamicEpisodeDriver(env, policy, observers, num_episodes=2)

    # Initial driver.run will reset the environment and initialize the policy.
    final_time_step, policy_state = driver.run()
    print("final_time_step", final_time_step)
    print("Number of Steps: ", int(env_steps.result()))
    print("Number of Episodes: ", int(num_episodes.result()))

    # Continue running from previous state
    final_time_step, _ = driver.run(final_time_step, policy_state)
    print("final_time_step", final_time_step)
    print("Number of Steps: ", int(env_steps.result()))
    print("Number of Episodes: ", int(num_episodes.result()))


if __name__ == "__main__":
    python_drivers()
    compiled_drivers(jax_py_environment.JaxPyEnvironment(suite_gym.load("CartPole-v0")),
                     "Gymnasium CartPole-v0 through JaxPyEnvironment")
    compiled_drivers(suite_jax.load("CartPole-v0"), "the JAX CartPole-v0")
