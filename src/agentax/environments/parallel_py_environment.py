"""`ParallelPyEnvironment`: one subprocess per environment, stepped in parallel.

A worker that raises surfaces its traceback in the parent; a worker that dies
is noticed within `poll_interval` seconds. Neither hangs the parent, and
`close()` reaps every child.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from typing import Callable, Sequence

import cloudpickle

from agentax.environments.batched_py_environment import BatchedPyEnvironment
from agentax.environments.py_environment import PyEnvironment
from agentax.trajectories import time_step as ts


class WorkerError(RuntimeError):
    """An environment worker process raised or died."""


def _worker(conn, pickled_constructor: bytes) -> None:
    try:
        env = cloudpickle.loads(pickled_constructor)()
    except BaseException:  # noqa: BLE001 - reported to the parent
        conn.send(("error", traceback.format_exc()))
        conn.close()
        return
    conn.send(("ok", (env.observation_spec(), env.action_spec(), env.reward_spec())))
    try:
        while True:
            command, payload = conn.recv()
            if command == "close":
                env.close()
                conn.send(("ok", None))
                return
            try:
                if command == "step":
                    result = env.step(payload)
                else:  # a method call with positional arguments
                    result = getattr(env, command)(*payload)
                conn.send(("ok", result))
            except Exception:  # noqa: BLE001 - reported to the parent
                conn.send(("error", traceback.format_exc()))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        conn.close()


class ProcessPyEnvironment(PyEnvironment):
    """A `PyEnvironment` running in a child process (made by `env_constructor`)."""

    _handles_auto_reset = True  # the environment in the worker resets itself

    def __init__(self, env_constructor: Callable[[], PyEnvironment], index: int = 0,
                 poll_interval: float = 0.1, start_timeout: float = 120.0):
        super().__init__(validate_actions=False)
        self._index = index
        self._poll_interval = poll_interval
        context = mp.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(target=_worker, args=(child_conn, cloudpickle.dumps(env_constructor)),
                                        daemon=True, name=f"agentax-env-{index}")
        self._process.start()
        child_conn.close()
        self._closed = False
        self._specs = self._receive(timeout=start_timeout)

    def observation_spec(self):
        return self._specs[0]

    def action_spec(self):
        return self._specs[1]

    def reward_spec(self):
        return self._specs[2]

    # ---- messaging
    def send(self, command: str, payload=()) -> None:
        if self._closed:
            raise WorkerError(f"environment worker {self._index} is closed")
        try:
            self._conn.send((command, payload))
        except (BrokenPipeError, OSError):
            self._raise_dead()

    def _raise_dead(self):
        self._process.join(timeout=1.0)
        code = self._process.exitcode
        raise WorkerError(f"environment worker {self._index} (pid {self._process.pid}) died "
                          f"with exit code {code}")

    def _receive(self, timeout: float | None = None):
        waited = 0.0
        while not self._conn.poll(self._poll_interval):
            waited += self._poll_interval
            if not self._process.is_alive():
                if self._conn.poll(0):
                    break
                self._raise_dead()
            if timeout is not None and waited >= timeout:
                raise WorkerError(f"environment worker {self._index} gave no answer in {timeout:.0f} s")
        try:
            status, result = self._conn.recv()
        except (EOFError, OSError):
            self._raise_dead()
        if status == "error":
            raise WorkerError(f"environment worker {self._index} raised:\n{result}")
        return result

    def receive(self):
        return self._receive()

    def call(self, method: str, *args):
        self.send(method, args)
        return self._receive()

    # ---- PyEnvironment
    def _reset(self) -> ts.TimeStep:
        return self.call("reset")

    def _step(self, action) -> ts.TimeStep:
        self.send("step", action)
        return self._receive()

    def get_info(self):
        return self.call("get_info")

    def render(self, mode: str = "rgb_array"):
        return self.call("render", mode)

    def seed(self, seed: int) -> None:
        self.call("seed", seed)

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._process.is_alive():
            try:
                self._conn.send(("close", ()))
                self._conn.poll(2.0)
            except (BrokenPipeError, OSError):
                pass
        self._process.join(timeout=2.0)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=2.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class ParallelPyEnvironment(BatchedPyEnvironment):
    """A batch of environments, each in its own process, stepped in parallel.

    `env_constructors` are zero-argument callables (e.g. `lambda: suite_gym.load('CartPole-v0')`);
    they are sent to the workers with cloudpickle.
    """

    def __init__(self, env_constructors: Sequence[Callable[[], PyEnvironment]], validate_actions: bool = True):
        if not env_constructors:
            raise ValueError("ParallelPyEnvironment: `env_constructors` must hold at least one callable")
        workers: list[ProcessPyEnvironment] = []
        try:
            for i, constructor in enumerate(env_constructors):
                workers.append(ProcessPyEnvironment(constructor, index=i))
        except BaseException:
            for worker in workers:
                worker.close()
            raise
        super().__init__(workers, validate_actions)

    def _reset_all(self) -> list:
        for env in self._envs:
            env.send("reset")
        return self._receive_all()

    def _step_all(self, actions: list) -> list:
        for env, action in zip(self._envs, actions):
            env.send("step", action)
        return self._receive_all()

    def _receive_all(self) -> list:
        results, first_error = [], None
        for env in self._envs:  # drain every worker so none is left mid-message
            try:
                results.append(env.receive())
            except WorkerError as err:
                first_error = first_error or err
        if first_error is not None:
            raise first_error
        return results

    @property
    def pids(self) -> list[int]:
        return [env.pid for env in self._envs]
