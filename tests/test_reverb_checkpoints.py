"""Checkpoints: client.checkpoint() writes every table; Server(checkpointer=...) restores it exactly."""

import os

import numpy as np
import pytest

from agentax import reverb
from agentax.replay_buffers import reverb_utils
from agentax.reverb import checkpointers, rate_limiters, selectors
from agentax.trajectories import Trajectory


def tables():
    return [
        reverb.Table("prio", selectors.Prioritized(0.8, seed=0), selectors.Fifo(), 5,
                     rate_limiters.SampleToInsertRatio(2.0, 1, 100.0)),
        reverb.Table.queue("queue", 4),
        reverb.Table("heap", selectors.MinHeap(), selectors.MaxHeap(), 10, rate_limiters.MinSize(1)),
    ]


def traj(i):
    return Trajectory(np.int32(1), np.full(3, i, np.float32), np.int64(i), (), np.int32(1), np.float32(i),
                      np.float32(1))


def fill(client):
    obs = reverb_utils.ReverbAddTrajectoryObserver(client, "prio", 2)
    for i in range(8):  # 7 items, table keeps the last 5
        obs(traj(i))
    for i in range(3):
        client.insert(np.int64(i), {"queue": 1.0})
    for i, p in enumerate([3.0, 1.0, 2.0]):
        client.insert({"v": np.float64(i)}, {"heap": p})
    list(client.sample("prio", 3, timeout_ms=50))
    next(client.sample("queue", timeout_ms=50))
    keys = client.get_state()["prio"]["keys"]
    client.mutate_priorities("prio", updates={int(keys[0]): 7.0})


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for table in a:
        assert a[table].keys() == b[table].keys(), table
        for field in a[table]:
            np.testing.assert_array_equal(a[table][field], b[table][field], err_msg=f"{table}/{field}")


def test_checkpoint_and_restore_keep_items_priorities_times_sampled_and_limiters(tmp_path):
    server = reverb.Server(tables(), checkpointer=checkpointers.DefaultCheckpointer(str(tmp_path)))
    client = reverb.Client(f"localhost:{server.port}")
    fill(client)
    before = client.get_state()
    path = client.checkpoint()
    assert os.path.dirname(path) == str(tmp_path.resolve())
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []  # no temporary left behind
    server.stop()

    restored = reverb.Server(tables(), checkpointer=checkpointers.DefaultCheckpointer(str(tmp_path)))
    client2 = reverb.Client(f"localhost:{restored.port}")
    after = client2.get_state()
    assert_same_state(before, after)
    info = client2.server_info()
    assert info["prio"].current_size == 5 and info["queue"].current_size == 2
    assert info["prio"].rate_limiter_info["insert_count"] == 7
    assert info["prio"].rate_limiter_info["sample_count"] == 3
    assert info["prio"].rate_limiter_info["delete_count"] == 2
    # order-dependent selectors continue where they were
    assert [int(s[0].data[0]) for s in client2.sample("queue", 2, timeout_ms=50)] == [1, 2]
    assert float(next(client2.sample("heap", timeout_ms=50))[0].data[0]) == 1.0  # min priority 1.0
    # the restored table keeps working: times_sampled carries on
    s = next(client2.sample("prio", timeout_ms=50))[0]
    row = list(after["prio"]["keys"]).index(s.info.key)
    assert s.info.times_sampled == after["prio"]["times_sampled"][row] + 1


def test_get_state_set_state_round_trip_between_servers():
    a = reverb.Server(tables())
    ca = reverb.Client(f"localhost:{a.port}")
    fill(ca)
    state = ca.get_state()
    assert all(isinstance(v, np.ndarray) for t in state.values() for v in t.values())
    b = reverb.Server(tables())
    cb = reverb.Client(f"localhost:{b.port}")
    cb.set_state(state)
    assert_same_state(state, cb.get_state())
    (s,) = next(cb.sample("prio", emit_timesteps=False, unpack_as_table_signature=True, timeout_ms=50)),
    assert s.data.observation.shape == (2, 3)


def test_latest_checkpoint_wins_and_a_missing_one_starts_empty(tmp_path):
    ck = checkpointers.DefaultCheckpointer(str(tmp_path))
    server = reverb.Server(tables(), checkpointer=ck)
    client = reverb.Client(f"localhost:{server.port}")
    assert client.server_info()["heap"].current_size == 0
    client.insert({"v": np.float64(1)}, {"heap": 1.0})
    client.checkpoint()
    client.insert({"v": np.float64(2)}, {"heap": 1.0})
    client.checkpoint()
    server.stop()
    restored = reverb.Server(tables(), checkpointer=checkpointers.DefaultCheckpointer(str(tmp_path)))
    assert restored.server_info()["heap"].current_size == 2


def test_restoring_more_items_than_max_size_is_refused():
    big = reverb.Server([reverb.Table("t", selectors.Fifo(), selectors.Fifo(), 10, rate_limiters.MinSize(1))])
    for i in range(5):
        big.insert(np.int64(i), {"t": 1.0})
    small = reverb.Server([reverb.Table("t", selectors.Fifo(), selectors.Fifo(), 3, rate_limiters.MinSize(1))])
    with pytest.raises(ValueError, match="5 items, max_size is 3"):
        small.set_state(big.get_state())


def test_checkpoint_without_checkpointer_uses_a_temporary_folder():
    server = reverb.Server(tables())
    path = reverb.Client(f"localhost:{server.port}").checkpoint()
    assert os.path.isfile(os.path.join(path, "tables.npz"))


def test_restoring_into_a_table_of_another_size_gives_fresh_working_keys():
    small = reverb.Server([reverb.Table("t", selectors.Fifo(), selectors.Fifo(), 5, rate_limiters.MinSize(1))])
    for i in range(4):
        small.insert(np.int64(i), {"t": 1.0})
    big = reverb.Server([reverb.Table("t", selectors.MinHeap(), selectors.Fifo(), 50, rate_limiters.MinSize(1))])
    big.set_state(small.get_state())
    keys = big.get_state()["t"]["keys"]
    assert len(set(keys.tolist())) == 4
    client = reverb.Client(f"localhost:{big.port}")
    client.mutate_priorities("t", updates={int(keys[2]): 0.5}, deletes=[int(keys[0])])
    assert int(next(client.sample("t", timeout_ms=50))[0].data[0]) == 2  # lowest priority now
    client.insert(np.int64(9), {"t": 3.0})
    assert len(set(client.get_state()["t"]["keys"].tolist())) == 4  # 3 left + 1 new, keys distinct
