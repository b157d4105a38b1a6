"""`Collector`: a Ray actor running `train.Actor` into the replay server (TF-Agents' `collect` job).

Each collector loads its own Gymnasium environment and builds the config's agent (for its
collect policy); `run(num_runs)` first takes the policy parameters of the one-slot variables
table (`VariableContainer`'s), assigning them when their version (the learner's train step)
changed, then runs the `Actor` `num_runs` times (`steps_per_run` steps each) writing through a
`ReverbAddTrajectoryObserver`, sends what its writer buffered without waiting for the server's
answer (`RemoteTrajectoryWriter.send`: one chunk in flight at most, its answer waited for, with
the timeout, before the next chunk goes; so a task's last items reach the table a moment after
the task returns, whole), reports the env steps taken, and asks for the parameters the next
task starts with (so a task pays no round trip for them; they are as fresh as the end of the
previous task; they are put on the device once, when their version changed). Episodes continue across calls. `random=True` runs a uniformly
random policy instead (the initial collection); switching policy starts a new episode and
drops the cached partial one (no item spans two policies' episodes).

Started by `start_collectors` with `max_restarts`: Ray restarts a collector whose process
died (its constructor logs the restart, closes the dead incarnation's server-side writers,
and collects on with fresh seeds); its unfinished episode never produced a half item.
"""

from __future__ import annotations

import logging
import os
import time
import warnings

import jax
import numpy as np

from agentax.trajectories import StepType

_LAST = StepType.LAST
_log = logging.getLogger("agentax.distributed")


class Collector:
    """The actor body (use `start_collectors`)."""

    def __init__(self, config, index: int, server_handle, address: str, table: str, steps_per_run: int,
                 variables_table: str = "variables", client_options: dict | None = None, env_factory=None):
        import ray

        from agentax.distributed.remote import connect
        from agentax.distributed.variable_container import VariableContainer
        from agentax.environments import suite_gym
        from agentax.policies.py_jax_policy import PyJaxPolicy
        from agentax.policies.random_py_policy import RandomPyPolicy
        from agentax.replay_buffers import reverb_utils
        from agentax.train.actor import Actor

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        self.index, self.pid = int(index), os.getpid()
        owner = f"collector-{index}"
        client = connect(server_handle, address, owner=owner, **(client_options or {}))
        if self.restarted:
            dropped = client._server.drop_writers(owner)
            _log.warning("collector %d restarted (pid %d); closed %d writer(s) of its previous process",
                         index, self.pid, dropped)
        # a restarted collector must not replay its predecessor's random streams
        seed = config.seed + 1000 * (index + 1) + (self.pid if self.restarted else 0)
        self.env = env_factory(index) if env_factory is not None else suite_gym.load(config.env)
        self.env.seed(seed % 2**31)
        self.agent = config.make_agent(self.env.time_step_spec(), self.env.action_spec())
        self.agent.initialize()
        self.variables = VariableContainer(address, (variables_table,))  # checks the table
        self._server = client._server
        self._pull_ref = None
        self._variables_table = variables_table
        self._version = None
        self.observer = reverb_utils.ReverbAddTrajectoryObserver(client, table,
                                                                 sequence_length=self.agent.train_sequence_length,
                                                                 stride_length=1)
        counter = [self._count]
        train_step = self.agent.train_step_counter
        self.actor = Actor(self.env, PyJaxPolicy(self.agent.collect_policy, seed=seed % 2**31), train_step, steps_per_run=steps_per_run,
                           observers=[self.observer] + counter, summary_interval=0, name=f"collector_{index}")
        self.random_actor = Actor(self.env, RandomPyPolicy(self.env.time_step_spec(), self.env.action_spec(),
                                                           seed=seed % 2**31),
                                  train_step, steps_per_run=steps_per_run, observers=[self.observer] + counter,
                                  summary_interval=0, name=f"collector_{index}_random")
        self._mode = "random"  # both actors reset the env; the random one did it last
        self._steps = self._episodes = 0
        self.pulls = 0

    def _count(self, trajectory) -> None:
        step_type = trajectory.step_type
        if np.ndim(step_type) == 0:  # one environment: no array work per step
            if step_type == _LAST:
                self._episodes += 1
            else:
                self._steps += 1
            return
        boundary = np.asarray(trajectory.is_boundary())
        self._steps += int(np.sum(~boundary))
        self._episodes += int(np.sum(boundary))

    def _ask_parameters(self) -> None:
        """Ask for the variables table's item now, to be read at the next task's start (no round trip then)."""
        self._pull_ref = self._server.handle.sample.remote(self._variables_table, 1, 0)

    def _pull_if_newer(self) -> None:
        """Take the parameters asked for at the end of the last task (or now); assign them when their
        version (the learner's train step) changed. Nothing pushed yet, or the server restarting: keep ours."""
        import ray

        from agentax.distributed.remote import call
        from agentax.distributed.variable_container import POLICY_KEY, TRAIN_STEP_KEY
        from agentax.reverb.errors import DeadlineExceededError

        if self._pull_ref is None:
            self._ask_parameters()
        ref, self._pull_ref = self._pull_ref, None
        try:
            _, flat = call(ref, self._server.call_timeout_s, "pull of policy parameters")
        except (DeadlineExceededError, ray.exceptions.RayActorError):
            return
        values = self._server.table(self._variables_table).unflatten([column[0][0] for column in flat])
        version = int(values[TRAIN_STEP_KEY])
        if version != self._version:  # on the device once, not converted at every policy call
            self.agent.collect_policy.params = jax.device_put(values[POLICY_KEY])
            self.agent.train_step_counter.assign(version)
            self._version = version
            self.pulls += 1

    def _send(self) -> None:
        """Send the buffered steps and items without waiting for the server's answer (`RemoteTrajectoryWriter.send`;
        it is waited for, with its timeout, before the writer's next chunk goes)."""
        for row in self.observer._rows:
            writer = row.writer
            if writer is None:
                continue
            send = getattr(writer, "send", None)
            if send is not None:
                send()
            else:  # an in-process writer (a collector on the server's address in this process)
                writer.flush()

    def run(self, num_runs: int = 1, random: bool = False) -> dict:
        """`num_runs` actor runs (random policy with `random`); returns what they collected."""
        mode = "random" if random else "policy"
        if not random:
            self._pull_if_newer()
        actor = self.random_actor if random else self.actor
        if mode != self._mode:  # a new episode for the other policy, the cached partial one dropped
            self.observer.reset(write_cached_steps=False)
            actor.reset()
            self._mode = mode
        steps, episodes = self._steps, self._episodes
        start = time.perf_counter()
        for _ in range(int(num_runs)):
            actor.run()
        collect_seconds = time.perf_counter() - start
        self._send()
        if not random:
            self._ask_parameters()
        return {"index": self.index, "env_steps": self._steps - steps, "episodes": self._episodes - episodes,
                "collect_seconds": collect_seconds, "seconds": time.perf_counter() - start,
                "send_wait_seconds": sum(getattr(r.writer, "wait_seconds", 0.0) for r in self.observer._rows
                                         if r.writer is not None),
                "train_step": int(self.agent.train_step_counter), "pid": self.pid, "restarted": self.restarted}

    def ping(self) -> dict:
        return {"index": self.index, "pid": self.pid, "restarted": self.restarted, "pulls": self.pulls,
                "env_steps": self._steps}


def start_collectors(config, num_collectors: int, server_handle, address: str, table: str, steps_per_run: int, *,
                     max_restarts: int = 100, num_cpus: float = 1.0, variables_table: str = "variables",
                     client_options: dict | None = None, env_factory=None) -> list:
    """`num_collectors` `Collector` actors (Ray restarts each up to `max_restarts` times)."""
    import ray

    cls = ray.remote(Collector)
    return [cls.options(max_restarts=max_restarts, max_task_retries=0, num_cpus=num_cpus,
                        runtime_env={"env_vars": {"JAX_PLATFORMS": "cpu"}})
            .remote(config, i, server_handle, address, table, steps_per_run, variables_table, client_options,
                    env_factory) for i in range(num_collectors)]
