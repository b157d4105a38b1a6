"""The observer's fused writer call (`TrajectoryWriter.append_create_last`) writes exactly what
`append` + `create_item_last` write (the path a writer without the fused call, e.g. a remote one, takes)."""

import numpy as np
import pytest

from agentax import reverb
from agentax.replay_buffers import reverb_utils
from agentax.reverb import rate_limiters, selectors
from agentax.trajectories import StepType, Trajectory

F, M, L = StepType.FIRST, StepType.MID, StepType.LAST


class UnfusedWriter:
    """A writer with only the calls a remote writer has (no `append_create_last`)."""

    def __init__(self, writer):
        self._w = writer

    def append(self, data):
        self._w.append(data)

    def create_item_last(self, table, priority, num_steps):
        self._w.create_item_last(table, priority, num_steps)

    def flush(self, *a, **kw):
        self._w.flush(*a, **kw)

    def end_episode(self, *a, **kw):
        self._w.end_episode(*a, **kw)

    def close(self):
        self._w.close()

    @property
    def episode_steps(self):
        return self._w.episode_steps


class UnfusedClient:
    def __init__(self, client):
        self._c = client

    def trajectory_writer(self, num_keep_alive_refs, **kw):
        return UnfusedWriter(self._c.trajectory_writer(num_keep_alive_refs, **kw))


def stream(seed, n_episodes):
    rng = np.random.default_rng(seed)
    out, obs = [], 1
    for _ in range(n_episodes):
        n = int(rng.integers(1, 9))
        kinds = [(F if i == 0 else M, L if i == n - 1 else M) for i in range(n)] + [(L, F)]
        for a, b in kinds:
            out.append(Trajectory(np.int32(a), rng.standard_normal(3).astype(np.float32), np.int64(obs), (),
                                  np.int32(b), np.float32(obs), np.float32(1.0)))
            obs += 1
    return out


def run(fused, observer_cls, kwargs, trajectories, max_size, names=("a", "b")):
    tables = [reverb.Table(n, selectors.Uniform(seed=0), selectors.Fifo(), max_size, rate_limiters.MinSize(1))
              for n in names]
    server = reverb.Server(tables)
    client = reverb.Client(f"localhost:{server.port}")
    obs = observer_cls(client if fused else UnfusedClient(client), list(names), **kwargs)
    assert hasattr(obs._row0.writer, "append_create_last") == fused
    for i, t in enumerate(trajectories):
        obs(t)
        if i == len(trajectories) // 2:
            obs.flush()
        if i == 2 * len(trajectories) // 3:
            obs.reset(write_cached_steps=False)
    obs.close()
    return client.get_state()


@pytest.mark.parametrize("observer_cls,kwargs", [
    (reverb_utils.ReverbAddTrajectoryObserver, dict(sequence_length=2)),
    (reverb_utils.ReverbAddTrajectoryObserver, dict(sequence_length=3, stride_length=2)),
    (reverb_utils.ReverbAddTrajectoryObserver, dict(sequence_length=3, pad_end_of_episodes=True)),
    (reverb_utils.ReverbAddTrajectoryObserver,
     dict(sequence_length=4, stride_length=2, pad_end_of_episodes=True, tile_end_of_episodes=True)),
    (reverb_utils.ReverbTrajectorySequenceObserver, dict(sequence_length=2, priority=0.5)),
])
@pytest.mark.parametrize("max_size", [100_000, 300])  # 300: evictions while inserting
def test_fused_writes_the_same_tables_as_append_and_create_item_last(observer_cls, kwargs, max_size):
    trajectories = stream(0, 400)
    fused = run(True, observer_cls, kwargs, trajectories, max_size)
    unfused = run(False, observer_cls, kwargs, trajectories, max_size)
    assert fused.keys() == unfused.keys()
    for table in fused:
        assert fused[table].keys() == unfused[table].keys()
        assert len(fused[table]["keys"]) > 200
        for k in fused[table]:
            np.testing.assert_array_equal(fused[table][k], unfused[table][k], err_msg=f"{table} {k}")


def test_fused_counts_the_appended_step_when_item_creation_fails():
    server = reverb.Server([reverb.Table("t", selectors.Fifo(), selectors.Fifo(), 100, rate_limiters.MinSize(1))])
    client = reverb.Client(f"localhost:{server.port}")
    states = []
    for c in (client, UnfusedClient(client)):
        obs = reverb_utils.ReverbAddTrajectoryObserver(c, "missing", 1)
        with pytest.raises(Exception) as info:
            obs(stream(1, 1)[0])
        states.append((type(info.value), obs._row0.cached_steps, obs._row0.writer.episode_steps))
    assert states[0] == states[1]


def test_writer_keeps_only_num_keep_alive_refs_steps_alive_over_a_long_stream():
    server = reverb.Server([reverb.Table("t", selectors.Fifo(), selectors.Fifo(), 10_000, rate_limiters.MinSize(1))])
    writer = reverb.Client(f"localhost:{server.port}").trajectory_writer(3)
    for i in range(500):
        writer.append_create_last({"x": np.float32(i)}, ["t"], 1.0, 2 if i else 1)
        assert len(writer._alive) == min(i + 1, 3)
        assert len(writer._order) <= 4 * 3 + 61
    writer.flush()
    state = client_state = server.table("t").get_state()
    x = state["column_0"][state["steps"]]
    assert x[:3].tolist() == [0, 0, 1] and x[-2:].tolist() == [498, 499] and len(client_state["keys"]) == 500
