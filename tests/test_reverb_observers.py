"""reverb_utils observers and the trajectory writer: which items are written when (TF-Agents' rules)."""

import itertools

import numpy as np
import pytest

from agentax import reverb
from agentax.replay_buffers import reverb_utils
from agentax.reverb import rate_limiters, selectors
from agentax.trajectories import StepType, Trajectory

F, M, L = StepType.FIRST, StepType.MID, StepType.LAST


def step(obs, step_type, next_step_type):
    return Trajectory(step_type=np.int32(step_type), observation=np.float32(obs), action=np.int64(obs),
                      policy_info=(), next_step_type=np.int32(next_step_type), reward=np.float32(obs),
                      discount=np.float32(1.0))


def episode(first_obs, n):
    """An episode of `n` environment steps and its boundary step: n + 1 trajectories, obs first_obs..."""
    kinds = [(F if i == 0 else M, L if i == n - 1 else M) for i in range(n)] + [(L, F)]
    return [step(first_obs + i, a, b) for i, (a, b) in enumerate(kinds)]


def stream(lengths):
    out, obs = [], 1
    for n in lengths:
        out += episode(obs, n)
        obs += n + 1
    return out


def new_client(max_size=1000, names=("t",)):
    tables = [reverb.Table(n, selectors.Fifo(), selectors.Fifo(), max_size, rate_limiters.MinSize(1))
              for n in names]
    server = reverb.Server(tables)
    return server, reverb.Client(f"localhost:{server.port}")


def items(client, table="t"):
    """Observations of every item in insertion order (0 marks a padding step)."""
    state = client.get_state()[table]
    if len(state["keys"]) == 0:
        return []
    obs_column = 1  # Trajectory leaves: step_type, observation, action, next_step_type, reward, discount
    obs = state[f"column_{obs_column}"][state["steps"]]
    bounds = np.concatenate([[0], np.cumsum(state["lengths"])])
    return [tuple(int(v) for v in obs[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def observe(observer, trajectories):
    for t in trajectories:
        observer(t)


# ---------------------------------------------------------------- hand-worked cases

def test_sequence_2_stride_1_cuts_at_boundaries():
    _, client = new_client()
    obs = reverb_utils.ReverbAddTrajectoryObserver(client, "t", sequence_length=2)
    observe(obs, stream([3, 1]))  # obs 1,2,3,(4 boundary) then 5,(6 boundary)
    assert items(client) == [(1, 2), (2, 3), (3, 4), (5, 6)]


def test_stride_2_writes_disjoint_windows_and_drops_the_rest():
    _, client = new_client()
    obs = reverb_utils.ReverbAddTrajectoryObserver(client, "t", sequence_length=2, stride_length=2)
    observe(obs, stream([4]))  # 1..4 and boundary 5: c=2 -> (1,2), c=4 -> (3,4), c=5 dropped
    assert items(client) == [(1, 2), (3, 4)]


def test_episode_shorter_than_the_sequence_is_dropped_without_padding():
    _, client = new_client()
    observe(reverb_utils.ReverbAddTrajectoryObserver(client, "t", sequence_length=4), stream([2]))
    assert items(client) == []


def test_padding_fills_to_one_item():
    _, client = new_client()
    obs = reverb_utils.ReverbAddTrajectoryObserver(client, "t", 4, pad_end_of_episodes=True)
    observe(obs, stream([1]))  # F->L (1), boundary (2): 2 pads
    assert items(client) == [(1, 2, 0, 0)]
    state = client.get_state()["t"]
    step_types = state["column_0"][state["steps"]]
    next_types = state["column_3"][state["steps"]]
    assert step_types.tolist() == [F, L, L, L] and next_types.tolist() == [L, F, F, F]


def test_tiling_writes_the_documented_items():
    # TF-Agents' docstring: F, M, L, P / M, L, P, P / L, P, P, P
    _, client = new_client()
    obs = reverb_utils.ReverbAddTrajectoryObserver(client, "t", 4, pad_end_of_episodes=True,
                                                   tile_end_of_episodes=True)
    observe(obs, stream([2]))  # 1 (F->M), 2 (M->L), 3 (boundary)
    assert items(client) == [(1, 2, 3, 0), (2, 3, 0, 0), (3, 0, 0, 0)]


def test_padding_a_long_episode_adds_no_pad_item_when_full():
    _, client = new_client()
    obs = reverb_utils.ReverbAddTrajectoryObserver(client, "t", 2, pad_end_of_episodes=True)
    observe(obs, stream([2]))  # c=3 at the boundary: 2 - 3 < 0 pads
    assert items(client) == [(1, 2), (2, 3)]


def test_tile_without_pad_is_an_error():
    _, client = new_client()
    with pytest.raises(ValueError, match="pad_end_of_episodes=True"):
        reverb_utils.ReverbAddTrajectoryObserver(client, "t", 2, tile_end_of_episodes=True)


def test_sequence_observer_runs_across_boundaries():
    _, client = new_client()
    obs = reverb_utils.ReverbTrajectorySequenceObserver(client, "t", 3)
    observe(obs, stream([2, 1]))  # 1,2,3(b),4,5(b)
    assert items(client) == [(1, 2, 3), (2, 3, 4), (3, 4, 5)]


def test_reset_mid_episode_rules():
    _, client = new_client()
    obs = reverb_utils.ReverbAddTrajectoryObserver(client, "t", 3)
    observe(obs, episode(1, 5)[:2])
    with pytest.raises(ValueError, match="not enough steps remain"):
        obs.reset()
    obs.reset(write_cached_steps=False)
    observe(obs, episode(10, 5)[:3])  # c=3 writes (10,11,12); reset() then writes it again (TF-Agents)
    obs.reset()
    assert items(client) == [(10, 11, 12), (10, 11, 12)]
    padded = reverb_utils.ReverbAddTrajectoryObserver(client, "t", 3, pad_end_of_episodes=True)
    observe(padded, episode(20, 5)[:1])
    padded.reset()
    assert items(client)[-1] == (20, 0, 0)


def test_several_tables_get_the_same_items_without_copying_steps():
    _, client = new_client(names=("a", "b"))
    obs = reverb_utils.ReverbAddTrajectoryObserver(client, ["a", "b"], 2)
    observe(obs, stream([3]))
    assert items(client, "a") == items(client, "b") == [(1, 2), (2, 3), (3, 4)]
    state = client.get_state()["a"]
    assert len(state["column_1"]) == 4  # 4 distinct steps stored for 3 overlapping items


def test_episode_observer_writes_whole_episodes_with_the_boundary():
    _, client = new_client()
    obs = reverb_utils.ReverbAddEpisodeObserver(client, "t", max_sequence_length=4)
    observe(obs, stream([3, 1]))
    assert items(client) == [(1, 2, 3, 4), (5, 6)]


def test_episode_observer_overflow_raises_or_bypasses_the_whole_episode():
    _, client = new_client()
    strict = reverb_utils.ReverbAddEpisodeObserver(client, "t", max_sequence_length=3)
    trajectories = stream([4])
    observe(strict, trajectories[:3])
    with pytest.raises(ValueError, match="exceeds `max_sequence_length`"):
        strict(trajectories[3])
    _, client = new_client()
    lenient = reverb_utils.ReverbAddEpisodeObserver(client, "t", 3, bypass_partial_episodes=True)
    observe(lenient, stream([4, 2]))  # the 5-trajectory episode is dropped, the 3-trajectory one kept
    assert items(client) == [(6, 7, 8)]


def test_episode_observer_reset_writes_the_partial_episode():
    _, client = new_client()
    obs = reverb_utils.ReverbAddEpisodeObserver(client, "t", 10)
    observe(obs, episode(1, 5)[:2])
    obs.reset(write_cached_steps=True)
    obs.reset(write_cached_steps=True)  # nothing cached: no item
    assert items(client) == [(1, 2)]


def test_batched_trajectories_get_one_writer_per_row():
    _, client = new_client(names=("batched", "single"))
    a, b = stream([2, 1]), stream([1, 2])
    batched = reverb_utils.ReverbAddTrajectoryObserver(client, "batched", 2)
    singles = [reverb_utils.ReverbAddTrajectoryObserver(client, "single", 2) for _ in range(2)]
    for ta, tb in zip(a, b):
        batched(Trajectory(*[np.stack([x, y]) if not isinstance(x, tuple) else () for x, y in zip(ta, tb)]))
        singles[0](ta)
        singles[1](tb)
    assert sorted(items(client, "batched")) == sorted(items(client, "single"))
    assert len(items(client, "batched")) == 6


# ---------------------------------------------------------------- every combination against the closed form

def expected_items(lengths, sequence_length, stride, pad, tile):
    """Per episode of `n` trajectories, padded with P zero steps (P = L-1 with tile, else max(0, L-n)),
    the windows ending at e = L, L+s, L+2s, ... <= n + P."""
    out, obs = [], 1
    for n_env in lengths:
        n = n_env + 1
        values = list(range(obs, obs + n))
        obs += n
        pads = (sequence_length - 1 if tile else max(0, sequence_length - n)) if pad else 0
        values += [0] * pads
        out += [tuple(values[e - sequence_length:e])
                for e in range(sequence_length, len(values) + 1, stride)]
    return out


@pytest.mark.parametrize("sequence_length,stride", list(itertools.product([1, 2, 3, 4], [1, 2, 3])))
def test_every_combination_matches_the_rules(sequence_length, stride):
    lengths = [1, 2, 3, 5, 4]
    for pad, tile in [(False, False), (True, False), (True, True)]:
        _, client = new_client()
        obs = reverb_utils.ReverbAddTrajectoryObserver(client, "t", sequence_length, stride, 1.0, pad, tile)
        observe(obs, stream(lengths))
        assert items(client) == expected_items(lengths, sequence_length, stride, pad, tile), (pad, tile)


# ---------------------------------------------------------------- the writer

def make_writer(keep=3, **kw):
    server, client = new_client(**kw)
    return server, client, client.trajectory_writer(num_keep_alive_refs=keep)


def test_writer_history_slices_and_squeezed_columns():
    _, client, w = make_writer()
    for i in range(3):
        w.append({"x": np.float32(i), "y": np.int32(10 * i)})
    assert w.episode_steps == 3
    assert w.history["x"][-2:].numpy().tolist() == [1.0, 2.0]
    assert w.history["y"][-1].numpy() == 20 and w.history["y"][-1].is_squeezed
    w.create_item("t", 1.0, {"x": w.history["x"][-1], "y": w.history["y"][-1]})
    (sample,) = next(client.sample("t", emit_timesteps=False, unpack_as_table_signature=True, timeout_ms=50)),
    assert sample.data["x"] == 2.0 and np.shape(sample.data["x"]) == ()


def test_writer_references_expire_after_num_keep_alive_refs():
    _, _, w = make_writer(keep=2)
    for i in range(3):
        w.append({"x": np.float32(i)})
    with pytest.raises(ValueError, match="expired"):
        w.create_item("t", 1.0, {"x": w.history["x"][-3:]})
    with pytest.raises(RuntimeError, match="expired"):
        w.history["x"][0].numpy()


def test_writer_errors():
    _, _, w = make_writer()
    with pytest.raises(RuntimeError, match="before `append`"):
        w.history
    w.append({"x": np.float32(0), "y": np.float32(1)})
    with pytest.raises(ValueError, match="structure"):
        w.append({"x": np.float32(0)})
    with pytest.raises(TypeError, match="TrajectoryColumn"):
        w.create_item("t", 1.0, {"x": np.float32(0)})
    with pytest.raises(ValueError, match="priority"):
        w.create_item("t", -1.0, {"x": w.history["x"][-1:]})
    with pytest.raises(ValueError, match="'nope'"):
        w.create_item("nope", 1.0, {"x": w.history["x"][-1:]})
    with pytest.raises(ValueError, match="block_until_num_items"):
        w.flush(-1)
    with pytest.raises(ValueError, match="num_keep_alive_refs"):
        reverb.Client(f"localhost:{w._server.port}").trajectory_writer(0)


def test_end_episode_clears_history():
    _, _, w = make_writer()
    w.append({"x": np.float32(0)})
    w.end_episode()
    assert w.episode_steps == 0 and len(w.history["x"]) == 0


def test_pending_items_flush_with_deadline_and_close_leaves_no_partial_item():
    table = reverb.Table.queue("q", 1)
    server = reverb.Server([table])
    client = reverb.Client(f"localhost:{server.port}")
    w = client.trajectory_writer(2)
    for i in range(2):
        w.append({"x": np.float32(i)})
        w.create_item("q", 1.0, {"x": w.history["x"][-1:]})
    assert w.num_pending_items == 2  # created items wait in the writer...
    assert client.server_info()["q"].current_size == 1  # ...until a reader pulls them in
    assert w.num_pending_items == 1  # the queue holds one item; the second waits
    with pytest.raises(reverb.errors.DeadlineExceededError):
        w.flush(timeout_ms=20)
    assert client.server_info()["q"].current_size == 1
    (s,) = next(client.sample("q", timeout_ms=50))
    assert float(s.data[0]) == 0.0
    w.flush(timeout_ms=100)  # room now: the pending item goes in
    assert w.num_pending_items == 0 and client.server_info()["q"].current_size == 1
    w.append({"x": np.float32(2)})
    w.create_item("q", 1.0, {"x": w.history["x"][-1:]})
    w.close()  # the queue is full: the pending item is dropped whole
    assert client.server_info()["q"].current_size == 1
    with pytest.raises(RuntimeError, match="closed"):
        w.append({"x": np.float32(3)})


def test_a_dropped_writer_still_delivers_its_items_and_never_deadlocks():
    import gc
    _, client = new_client()
    w = client.trajectory_writer(2)
    for i in range(3):
        w.append({"x": np.float32(i)})
        w.create_item("t", 1.0, {"x": w.history["x"][-1:]})
    del w
    gc.collect()
    assert client.server_info()["t"].current_size == 3


def test_append_keeps_each_leaf_shape_and_dtype():
    _, _, w = make_writer()
    w.append({"x": np.float32(0), "y": np.zeros(2, np.int32)})
    with pytest.raises(ValueError, match=r"\['x'\].*float64.*float32"):
        w.append({"x": 1.0, "y": np.zeros(2, np.int32)})
    with pytest.raises(ValueError, match=r"\['y'\].*\(3,\)"):
        w.append({"x": np.float32(0), "y": np.zeros(3, np.int32)})
    w.append({"x": np.array(2.0, np.float32), "y": np.ones(2, np.int32)})  # a 0-d array is fine
    assert w.episode_steps == 2
