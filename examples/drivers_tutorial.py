"""The drivers tutorial (TF-Agents' "Drivers" notebook) on agentax.

Python drivers: a random policy on CartPole-v0 driven by `PyDriver`, the
trajectories collected into a list and the average return computed.
"""

from agentax.drivers import py_driver
from agentax.environments import suite_gym
from agentax.metrics import py_metrics
from agentax.policies import random_py_policy


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


if __name__ == "__main__":
    python_drivers()
