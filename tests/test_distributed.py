"""agentax.distributed on a local Ray cluster of 2 CPUs (one cluster for the module): the remote Reverb client
against the in-process semantics, the variable container, and a distributed DQN run whose collector and replay
server are killed with SIGKILL, checked item by item with a counting environment. Every wait has a timeout."""

import dataclasses
import gc
import os
import pickle
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one Ray cluster at a time under pytest-xdist

from agentax import reverb  # noqa: E402
from agentax.agents.dqn.config import PRESETS, DqnConfig  # noqa: E402
from agentax.environments.py_environment import PyEnvironment  # noqa: E402
from agentax.replay_buffers import ReverbReplayBuffer, reverb_utils  # noqa: E402
from agentax.specs import array_spec  # noqa: E402
from agentax.trajectories import StepType  # noqa: E402
from agentax.trajectories import time_step as ts  # noqa: E402
from agentax.trajectories.trajectory import trajectory_spec  # noqa: E402

TIMEOUT = 120


class CountingEnv(PyEnvironment):
    """Observation [collector, process id, episode, step]: every step says where it came from.
    Episodes last 3 + episode % 4 steps; CartPole's observation shape and actions (so a CartPole agent runs it)."""

    def __init__(self, collector: int = 0):
        super().__init__()
        self.collector, self.pid, self.episode, self.t = collector, os.getpid() % 100_000, -1, 0

    def observation_spec(self):
        return array_spec.ArraySpec((4,), np.float32, name="observation")

    def action_spec(self):
        return array_spec.BoundedArraySpec((), np.int64, 0, 1, name="action")

    def seed(self, seed):
        pass

    def _obs(self):
        return np.asarray([self.collector, self.pid, self.episode, self.t], np.float32)

    def _reset(self):
        self.episode, self.t = self.episode + 1, 0
        return ts.restart(self._obs())

    def _step(self, action):
        self.t += 1
        if self.t == 3 + self.episode % 4:
            return ts.termination(self._obs(), 1.0)
        return ts.transition(self._obs(), 1.0)


def counting_env(index):
    return CountingEnv(index)


def table_items(state):
    """Every item of a table's `get_state()` as a Trajectory [T, ...], in insertion order."""
    treedef = pickle.loads(np.asarray(state["structure"]).tobytes())
    columns = [state[f"column_{i}"] for i in range(treedef.num_leaves)]
    items, offset = [], 0
    for length in state["lengths"].tolist():
        steps = state["steps"][offset:offset + length]
        offset += length
        items.append(jax.tree.unflatten(treedef, [c[steps] for c in columns]))
    return items


def check_items(items, length):
    """Whole items of `length` consecutive steps of one episode, none twice."""
    seen = set()
    for item in items:
        obs = np.asarray(item.observation)
        assert obs.shape == (length, 4)
        assert np.all(obs[:, :3] == obs[0, :3]), obs           # one collector process, one episode
        assert np.all(np.diff(obs[:, 3]) == 1), obs            # consecutive steps
        key = tuple(obs[0].tolist())
        assert key not in seen, f"item {key} twice"
        seen.add(key)
        first = obs[:, 3] == 0
        assert np.all((np.asarray(item.step_type) == StepType.FIRST) == first)
    return seen


def ping(actor, timeout=TIMEOUT):
    """The actor's ping, waiting while Ray restarts it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ray.get(actor.ping.remote(), timeout=timeout)
        except ray.exceptions.RayActorError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


def small_config(**kw):
    base = dict(env="CartPole-v0", iterations=60, initial_collect_steps=40, replay_capacity=5000, sample_batch_size=8,
                fc_layer_params=(8,), eval_interval=20, log_interval=20, num_eval_episodes=1, video_episodes=0,
                distributed=True, num_collectors=2)
    base.update(kw)
    return dataclasses.replace(PRESETS["tutorial"], **base)


# ---------------------------------------------------------------------------------------------- without Ray
def test_nothing_imports_ray_without_distributed():
    code = ("import sys, agentax.cli, agentax.train.run as run\n"
            "from agentax.agents.dqn.config import PRESETS\n"
            "run.make_trainer(PRESETS['zoo'])\n"
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_config_flags():
    config = DqnConfig(distributed=True)
    assert config.trainer == "python" and config.num_collectors == 2 and config.ray_address is None
    with pytest.raises(ValueError, match="num_collectors.*--num-collectors.*>= 1"):
        DqnConfig(num_collectors=0)
    with pytest.raises(ValueError, match="ray_address"):
        DqnConfig(ray_address="")
    from agentax.agents.reinforce.config import ReinforceConfig
    from agentax.distributed import DistributedTrainer
    with pytest.raises(ValueError, match="--distributed.*off-policy"):
        DistributedTrainer(ReinforceConfig(distributed=True))


# ---------------------------------------------------------------------------------------------- writer faults
class _Ref:
    def __init__(self, value=None, error=None):
        self.value, self.error = value, error


class _Handle:
    """Calls a ReplayServer object in this process as an actor handle would; `fail` makes the next writes fail."""

    def __init__(self, server):
        self.server, self.fail = server, 0

    def __getattr__(self, method):
        handle = self

        class Method:
            @staticmethod
            def remote(*args):
                if method == "write" and handle.fail:
                    handle.fail -= 1
                    return _Ref(error=ray.exceptions.ActorUnavailableError("killed", None))
                return _Ref(getattr(handle.server, method)(*args))
        return Method


def test_remote_writer_survives_lost_chunks_and_server_restarts(monkeypatch):
    """A chunk lost with the server is dropped (never re-sent); a restarted server that does not know the writer
    gets the chunk again with the episode's last steps as context: items stay whole, none twice."""
    from agentax.distributed import remote
    from agentax.distributed.replay_server import ReplayServer

    def call(ref, timeout_s, what):
        if ref.error is not None:
            raise ref.error
        return ref.value
    monkeypatch.setattr(remote, "call", call)

    def tables():
        return [reverb.Table("t", sampler=reverb.selectors.Fifo(), remover=reverb.selectors.Fifo(), max_size=10_000,
                             rate_limiter=reverb.rate_limiters.MinSize(1))]

    handle = _Handle(ReplayServer(tables))
    client = remote.connect(handle, chunk_steps=5)
    env = CountingEnv(1)
    observer = reverb_utils.ReverbAddTrajectoryObserver(client, "t", sequence_length=3, stride_length=1)
    from agentax.drivers.py_driver import PyDriver
    from agentax.policies.random_py_policy import RandomPyPolicy
    driver = PyDriver(env, RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0), [observer], max_steps=23)
    time_step = driver.run(env.reset())[0]
    handle.fail = 1                                # the next chunk is lost with the "dying" server
    time_step = driver.run(time_step)[0]
    writer = observer._rows[0].writer
    assert writer.lost_items > 0
    state = handle.server.get_state()
    handle.server = ReplayServer(tables)           # "restarted" empty: the writer is unknown there
    handle.server.set_state(state)
    driver.run(time_step)
    observer.flush()
    items = check_items(table_items(handle.server.get_state()["t"]), 3)
    # the same collection into an in-process server: every item but the lost chunk's, nothing else
    local = reverb.Server(tables())
    env = CountingEnv(1)
    observer = reverb_utils.ReverbAddTrajectoryObserver(local.in_process_client(), "t", sequence_length=3)
    PyDriver(env, RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0), [observer],
             max_steps=69).run(env.reset())
    observer.flush()
    expected = check_items(table_items(local.get_state()["t"]), 3)
    assert items <= expected and len(expected) - len(items) == writer.lost_items == 3
    remote.disconnect(client.server_address)


# ---------------------------------------------------------------------------------------------- client
def test_remote_client_matches_in_process(cluster):
    from agentax.distributed import VariableContainer, connect, start_replay_server, variables_table

    def tables():
        return [reverb.Table("t", sampler=reverb.selectors.Fifo(), remover=reverb.selectors.Fifo(), max_size=100,
                             rate_limiter=reverb.rate_limiters.MinSize(1)),
                variables_table(), reverb.Table.queue("q", 10)]

    handle = start_replay_server(tables)
    client = connect(handle, chunk_steps=4)
    # one-step inserts, samples, priorities
    client.insert({"x": np.arange(3, dtype=np.float32)}, {"q": 1.0})
    [sample] = list(client.sample("q", 1, emit_timesteps=False, unpack_as_table_signature=True, timeout_ms=5000))
    np.testing.assert_array_equal(sample.data["x"], [[0, 1, 2]])
    with pytest.raises(reverb.errors.DeadlineExceededError):
        client.sample_batch("q", 1, timeout_ms=50)
    with pytest.raises(ValueError, match="Could not find table 'nope'"):
        client.insert({"x": np.zeros(3, np.float32)}, {"nope": 1.0})
    # the observer writes through chunks: items whole, as in-process
    env = CountingEnv(7)
    observer = reverb_utils.ReverbAddTrajectoryObserver(client, "t", sequence_length=3, stride_length=1)
    from agentax.drivers.py_driver import PyDriver
    from agentax.policies.random_py_policy import RandomPyPolicy
    policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    PyDriver(env, policy, [observer], max_steps=20).run(env.reset())
    observer.flush()
    state = client.get_state()["t"]
    items = check_items(table_items(state), 3)
    # episodes of 3, 4, 5, 6 steps (+1 boundary step each): items start at steps 0..len-2 of each whole episode
    expected = [(7, env.pid, e, s) for e, n in enumerate([3, 4, 5, 6]) for s in range(n - 1)]
    assert sorted(items) == expected
    # the buffer's dataset over the remote client
    spec = trajectory_spec(env.time_step_spec(), env.action_spec(), ())
    buffer = ReverbReplayBuffer(spec, "t", sequence_length=3, server_address=client.server_address)
    dataset = buffer.as_dataset(4, num_steps=3)
    traj, info = next(dataset)
    dataset.close()
    assert traj.observation.shape == (4, 3, 4) and info.key.shape == (4, 3)
    buffer.clear()
    assert buffer.num_frames() == 0
    # variable container: push / pull / update / version
    container = VariableContainer(client.server_address)
    assert container.version() == 0
    container.push({"w": np.ones(2, np.float32), "train_step": np.int64(3)})
    container.push({"w": np.full(2, 2, np.float32), "train_step": np.int64(4)})
    assert container.version() == 2
    pulled = container.pull()
    np.testing.assert_array_equal(pulled["w"], [2, 2])
    assert int(pulled["train_step"]) == 4
    from agentax.utils import common
    target = {"w": common.Variable(np.zeros(2, np.float32)), "train_step": common.Variable(0)}
    container.update(target)
    assert int(target["train_step"]) == 4
    with pytest.raises(ValueError, match="max_size of the table t is 100"):
        VariableContainer(client.server_address, ("t",))
    with pytest.raises(KeyError, match="Could not find the table nope"):
        container.push({}, "nope")
    ray.kill(handle, no_restart=True)


# ---------------------------------------------------------------------------------------------- faults
def test_a_failed_constructor_stops_what_it_started(cluster, monkeypatch):
    from agentax.distributed import trainer as trainer_module

    started = {}

    def record_server(*args, **kwargs):
        started["server"] = handle = start_replay_server(*args, **kwargs)
        started["dir"] = args[1]
        return handle

    def fail(*args, **kwargs):
        raise RuntimeError("no collectors today")

    start_replay_server = trainer_module.start_replay_server
    monkeypatch.setattr(trainer_module, "start_replay_server", record_server)
    monkeypatch.setattr(trainer_module, "start_collectors", fail)
    with pytest.raises(RuntimeError, match="no collectors today"):
        trainer_module.DistributedTrainer(small_config())
    assert not os.path.exists(started["dir"])
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(started["server"].ping.remote(), timeout=TIMEOUT)
    assert ray.is_initialized()  # a cluster it joined (not started) stays up


def test_collector_and_server_killed_run_finishes_with_whole_items(cluster, caplog):
    from agentax.distributed import DistributedTrainer

    trainer = DistributedTrainer(small_config(), steps_per_run=20, task_runs=1, checkpoint_every=20,
                                 collector_cpus=0.5, env_factory=counting_env, task_timeout_s=TIMEOUT)
    try:
        trainer.initialize()
        trainer.run(30)
        assert trainer.train_steps_now()[0] == 30 and trainer.env_steps_now()[0] >= 40 + 30
        pids = [ping(c)["pid"] for c in trainer.collectors]
        size = trainer.replay.num_frames()
        # SIGKILL a collector (its tasks in flight): the run goes on, Ray restarts it, the table keeps growing
        os.kill(pids[0], signal.SIGKILL)
        start = time.monotonic()
        back = ping(trainer.collectors[0])
        assert back["restarted"] and back["pid"] != pids[0] and time.monotonic() - start < 30
        trainer.run(60)
        assert trainer.iteration_count == 90 and trainer.replay.num_frames() > size
        # SIGKILL the replay server: it restores its last checkpoint and training continues
        server = ping(trainer.server)
        os.kill(server["pid"], signal.SIGKILL)
        trainer.run(60)
        after = ping(trainer.server)
        assert after["restarted"] and after["pid"] != server["pid"] and after["restored_from"]
        assert trainer.iteration_count == 150 and trainer.train_steps_now()[0] == 150
        assert trainer.replay.num_frames() > after["restored_size"]
        # every item whole, from one collector process and episode, none twice
        items = check_items(table_items(trainer.client.get_state()["episodes"]), 2)
        assert {c for c, _, _, _ in items} == {0, 1}
        assert ping(trainer.collectors[0])["env_steps"] > 0  # the restarted collector collects
    finally:
        trainer.close()


def test_cli_distributed_run_and_resume(cluster, tmp_path):
    from agentax.train import run

    run_dir = tmp_path / "run"
    summary = run.train_run(small_config(iterations=40), run_dir, progress=False, echo=lambda *a: None)
    gc.collect()
    assert summary["iterations"] == 40 and summary["train_steps"] == 40 and summary["env_steps"] >= 80
    assert (run_dir / "checkpoints").is_dir() and (run_dir / "policies" / "greedy_policy").is_dir()
    # the learner "killed" after its checkpoint: the same command with more iterations continues it
    summary = run.train_run(small_config(iterations=60, num_collectors=1), run_dir, resume=True, progress=False,
                            echo=lambda *a: None)
    gc.collect()
    assert summary["iterations"] == 60 and summary["train_steps"] == 60 and summary["env_steps"] >= 100
