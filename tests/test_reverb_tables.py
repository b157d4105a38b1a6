"""agentax.reverb: Reverb's table, selector, rate-limiter and client rules, with hand-worked values."""

import threading
import time

import numpy as np
import pytest

from agentax import reverb
from agentax.reverb import rate_limiters, selectors


def make(sampler, remover=None, max_size=10, limiter=None, max_times_sampled=0, name="t", **kw):
    table = reverb.Table(name, sampler, remover or selectors.Fifo(), max_size,
                         limiter or rate_limiters.MinSize(1), max_times_sampled=max_times_sampled, **kw)
    server = reverb.Server([table])
    return server, reverb.Client(f"localhost:{server.port}")


def insert_all(client, values, table="t", priorities=None):
    for i, v in enumerate(values):
        client.insert(np.int64(v), {table: 1.0 if priorities is None else priorities[i]}, timeout_ms=100)


def sample_values(client, n, table="t", timeout_ms=50):
    return [int(s[0].data[0]) for s in client.sample(table, n, timeout_ms=timeout_ms)]


def table_values(client, table="t"):
    state = client.get_state()[table]
    return [int(v) for v in state["column_0"][state["steps"]]]


# ---------------------------------------------------------------- removers

def test_fifo_remover_keeps_the_newest():
    _, client = make(selectors.Uniform(seed=0), selectors.Fifo(), max_size=3)
    insert_all(client, range(5))
    assert table_values(client) == [2, 3, 4]


def test_lifo_remover_on_a_full_table_evicts_the_item_just_inserted():
    _, client = make(selectors.Uniform(seed=0), selectors.Lifo(), max_size=3)
    insert_all(client, range(5))
    assert table_values(client) == [0, 1, 2]
    info = client.server_info()["t"].rate_limiter_info
    assert (info["insert_count"], info["delete_count"]) == (5, 2)


def test_min_heap_remover_evicts_lowest_priority_ties_to_least_recently_updated():
    _, client = make(selectors.Uniform(seed=0), selectors.MinHeap(), max_size=3)
    insert_all(client, range(3), priorities=[2.0, 1.0, 1.0])
    insert_all(client, [3], priorities=[5.0])  # evicts 1 (priority 1, inserted before 2)
    assert table_values(client) == [0, 2, 3]
    key_of_2 = client.get_state()["t"]["keys"][1]
    client.mutate_priorities("t", updates={int(key_of_2): 1.0})  # still the minimum
    insert_all(client, [4], priorities=[1.0])  # ties: 2 was updated before 4 was inserted -> 2 goes
    assert table_values(client) == [0, 3, 4]


# ---------------------------------------------------------------- samplers

def test_fifo_sampler_without_max_times_sampled_returns_the_oldest_forever():
    _, client = make(selectors.Fifo())
    insert_all(client, [7, 8, 9])
    assert sample_values(client, 4) == [7, 7, 7, 7]


def test_lifo_and_heaps_sample_deterministically_with_probability_one():
    for sampler, want in ((selectors.Lifo(), 9), (selectors.MinHeap(), 8), (selectors.MaxHeap(), 7)):
        _, client = make(sampler)
        insert_all(client, [7, 8, 9], priorities=[3.0, 1.0, 2.0])
        (step,) = next(client.sample("t", timeout_ms=50))
        assert int(step.data[0]) == want and step.info.probability == 1.0


def test_max_times_sampled_deletes_on_the_nth_sample_and_reports_the_count():
    _, client = make(selectors.Fifo(), max_times_sampled=2)
    insert_all(client, [5, 6])
    samples = [s[0] for s in client.sample("t", 4, timeout_ms=50)]
    assert [int(s.data[0]) for s in samples] == [5, 5, 6, 6]
    assert [s.info.times_sampled for s in samples] == [1, 2, 1, 2]
    assert [s.info.table_size for s in samples] == [2, 2, 1, 1]  # size before the deletion
    assert client.server_info()["t"].current_size == 0


def test_prioritized_probabilities_use_the_exponent_and_zero_is_never_sampled():
    _, client = make(selectors.Prioritized(priority_exponent=0.5, seed=1))
    insert_all(client, [0, 1, 2], priorities=[1.0, 4.0, 0.0])
    seen = {}
    for (s,) in client.sample("t", 200, timeout_ms=50):
        seen[int(s.data[0])] = s.info.probability
    # weights 1, 2, 0 -> probabilities 1/3, 2/3, never 2
    assert set(seen) == {0, 1}
    assert seen[0] == pytest.approx(1 / 3) and seen[1] == pytest.approx(2 / 3)


def test_prioritized_exponent_zero_keeps_zero_priority_at_zero():
    _, client = make(selectors.Prioritized(priority_exponent=0.0, seed=1))
    insert_all(client, [0, 1, 2], priorities=[5.0, 0.5, 0.0])
    probs = {int(s.data[0]): s.info.probability for (s,) in client.sample("t", 100, timeout_ms=50)}
    assert probs == {0: pytest.approx(0.5), 1: pytest.approx(0.5)}


def test_prioritized_all_zero_priorities_sample_uniformly():
    _, client = make(selectors.Prioritized(priority_exponent=1.0, seed=2))
    insert_all(client, [0, 1, 2, 3], priorities=[0.0] * 4)
    probs = {int(s.data[0]): s.info.probability for (s,) in client.sample("t", 200, timeout_ms=50)}
    assert probs == {k: 0.25 for k in range(4)}


def test_prioritized_frequencies_follow_priorities_after_updates_and_deletes():
    _, client = make(selectors.Prioritized(priority_exponent=1.0, seed=3), max_size=100)
    insert_all(client, range(4), priorities=[1.0, 1.0, 1.0, 1.0])
    keys = client.get_state()["t"]["keys"]
    client.mutate_priorities("t", updates={int(keys[0]): 3.0, 999: 5.0}, deletes=[int(keys[3]), 12345])
    info, data = client.sample_batch("t", 4000, timeout_ms=50)
    values = data[0][:, 0]
    freq = np.bincount(values, minlength=4) / len(values)
    assert freq[3] == 0
    np.testing.assert_allclose(freq[:3], [0.6, 0.2, 0.2], atol=0.03)
    np.testing.assert_allclose(info.probability[values == 0], 0.6)


def test_uniform_reports_one_over_size():
    _, client = make(selectors.Uniform(seed=0))
    insert_all(client, range(4))
    assert {s.info.probability for (s,) in client.sample("t", 10, timeout_ms=50)} == {0.25}


# ---------------------------------------------------------------- rate limiters

def test_rate_limiter_formulas():
    r = rate_limiters.SampleToInsertRatio(samples_per_insert=2.0, min_size_to_sample=2, error_buffer=3.0)
    assert (r.min_diff, r.max_diff) == (1.0, 7.0)  # offset 4 -/+ 3
    r.inserts = 2
    assert r.can_sample(1) and r.can_sample(3) and not r.can_sample(4)  # 4 - 0 - n >= 1
    assert r.can_insert(1)  # (2+1)*2 - 0 = 6 <= 7
    r.inserts = 3
    assert not r.can_insert(1)  # 8 > 7
    r.samples = 1
    assert r.can_insert(1)  # 7 <= 7
    q = rate_limiters.Queue(3)
    assert (q.samples_per_insert, q.min_size_to_sample, q.min_diff, q.max_diff) == (1.0, 1, 0.0, 3.0)


def test_rate_limiter_constructor_errors():
    with pytest.raises(ValueError, match="min_size_to_sample"):
        rate_limiters.MinSize(0)
    with pytest.raises(ValueError, match="error_buffer"):
        rate_limiters.SampleToInsertRatio(2.0, 1, 1.9)  # range 3.8 < 2 * 2
    with pytest.raises(ValueError, match="above"):
        rate_limiters.SampleToInsertRatio(1.0, 1, (2.0, 10.0))  # min_diff 2 > 1
    with pytest.raises(ValueError, match="min_size_to_sample"):
        rate_limiters.SampleToInsertRatio(1.0, 0, 5.0)
    with pytest.warns(UserWarning, match="below"):
        rate_limiters.SampleToInsertRatio(1.0, 10, (-5.0, 5.0))


def test_min_size_blocks_sampling_with_a_deadline_and_leaves_the_table_unchanged():
    _, client = make(selectors.Uniform(seed=0), limiter=rate_limiters.MinSize(2))
    insert_all(client, [1])
    start = time.monotonic()
    with pytest.raises(reverb.errors.DeadlineExceededError):
        next(client.sample("t", timeout_ms=30))
    assert time.monotonic() - start >= 0.025
    info = client.server_info()["t"]
    assert info.current_size == 1 and info.rate_limiter_info["sample_count"] == 0
    insert_all(client, [2])
    assert len(sample_values(client, 1)) == 1


def test_sample_from_an_empty_table_times_out():
    _, client = make(selectors.Uniform(seed=0))
    with pytest.raises(reverb.errors.DeadlineExceededError):
        next(client.sample("t", timeout_ms=10))


def test_queue_blocks_inserts_when_full_and_samples_when_empty():
    table = reverb.Table.queue("q", 2)
    server = reverb.Server([table])
    client = reverb.Client(f"localhost:{server.port}")
    insert_all(client, [1, 2], table="q")
    with pytest.raises(reverb.errors.DeadlineExceededError):
        client.insert(np.int64(3), {"q": 1.0}, timeout_ms=20)
    assert table_values(client, "q") == [1, 2]
    assert sample_values(client, 2, table="q") == [1, 2]  # fifo, each once
    assert client.server_info()["q"].current_size == 0
    with pytest.raises(reverb.errors.DeadlineExceededError):
        next(client.sample("q", timeout_ms=10))


def test_stack_samples_newest_first_once():
    table = reverb.Table.stack("s", 3)
    server = reverb.Server([table])
    client = reverb.Client(f"localhost:{server.port}")
    insert_all(client, [1, 2, 3], table="s")
    assert sample_values(client, 3, table="s") == [3, 2, 1]


def test_batch_comes_back_short_when_the_limiter_allows_fewer():
    _, client = make(selectors.Uniform(seed=0),
                     limiter=rate_limiters.SampleToInsertRatio(1.0, 1, (0.0, 10.0)))
    insert_all(client, [1, 2, 3])
    info, _ = client.sample_batch("t", 10, timeout_ms=20)
    assert len(info.key) == 3  # 3 inserts * 1 - samples >= 0


def test_blocked_insert_proceeds_when_another_thread_samples():
    table = reverb.Table.queue("q", 1)
    server = reverb.Server([table])
    client = reverb.Client(f"localhost:{server.port}")
    insert_all(client, [1], table="q")
    done = []
    thread = threading.Thread(target=lambda: done.append(client.insert(np.int64(2), {"q": 1.0}, timeout_ms=2000)))
    thread.start()
    time.sleep(0.02)
    assert sample_values(client, 1, table="q") == [1]
    thread.join(2)
    assert done == [None] and sample_values(client, 1, table="q") == [2]


def test_concurrent_writers_and_a_sampler_keep_counts_consistent():
    _, client = make(selectors.Uniform(seed=0), max_size=1000,
                     limiter=rate_limiters.SampleToInsertRatio(1.0, 1, 10.0))
    def write(base):
        for i in range(200):
            client.insert(np.int64(base + i), {"t": 1.0}, timeout_ms=2000)
    writers = [threading.Thread(target=write, args=(k * 1000,)) for k in range(3)]
    for w in writers:
        w.start()
    sampled = 0
    while sampled < 590:
        info, _ = client.sample_batch("t", 10, timeout_ms=2000)
        sampled += len(info.key)
    for w in writers:
        w.join(5)
    info = client.server_info()["t"]
    assert info.current_size == 600 and info.rate_limiter_info["insert_count"] == 600


# ---------------------------------------------------------------- bad input

def test_table_constructor_errors():
    fifo, lim = selectors.Fifo(), rate_limiters.MinSize(1)
    with pytest.raises(ValueError, match="name"):
        reverb.Table("", fifo, fifo, 10, lim)
    with pytest.raises(ValueError, match="max_size"):
        reverb.Table("t", fifo, fifo, 0, lim)
    with pytest.raises(ValueError, match="max_times_sampled"):
        reverb.Table("t", fifo, fifo, 10, lim, max_times_sampled=-1)
    with pytest.raises(ValueError, match=r"min_size_to_sample \(5\) is above max_size \(4\)"):
        reverb.Table("t", fifo, fifo, 4, rate_limiters.MinSize(5))
    with pytest.raises(ValueError, match="priority_exponent"):
        selectors.Prioritized(-1.0)
    with pytest.raises(ValueError, match="At least one table"):
        reverb.Server([])
    with pytest.raises(ValueError, match="same name: t"):
        reverb.Server([reverb.Table("t", fifo, fifo, 10, lim), reverb.Table("t", fifo, fifo, 10, lim)])


def test_bad_priorities_and_missing_tables_are_clear_errors():
    _, client = make(selectors.Uniform(seed=0), name="known")
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="priority"):
            client.insert(np.int64(1), {"known": bad})
        with pytest.raises(ValueError, match="priority"):
            client.mutate_priorities("known", updates={1: bad})
    with pytest.raises(ValueError, match="'missing'.*'known'"):
        client.insert(np.int64(1), {"missing": 1.0})
    with pytest.raises(ValueError, match="localhost:1"):
        reverb.Client("localhost:1")
    assert client.server_info()["known"].current_size == 0


def test_signature_mismatch_names_the_leaf_expected_and_actual():
    from agentax.specs.array_spec import ArraySpec
    sig = {"obs": ArraySpec((1, 4), np.float32), "act": ArraySpec((1,), np.int64)}
    table = reverb.Table("t", selectors.Uniform(), selectors.Fifo(), 10, rate_limiters.MinSize(1), signature=sig)
    server = reverb.Server([table])
    client = reverb.Client(f"localhost:{server.port}")
    client.insert({"obs": np.zeros(4, np.float32), "act": np.int64(1)}, {"t": 1.0})
    with pytest.raises(ValueError, match=r"\[.obs.\] does not match the signature: expected shape \(1, 4\) dtype float32, got shape \(1, 3\)"):
        client.insert({"obs": np.zeros(3, np.float32), "act": np.int64(1)}, {"t": 1.0})
    with pytest.raises(ValueError, match=r"\['obs'\].*float64"):
        client.insert({"obs": np.zeros(4), "act": np.int64(1)}, {"t": 1.0})
    assert client.server_info()["t"].current_size == 1


def test_reset_clears_items_and_limiter_counters():
    _, client = make(selectors.Uniform(seed=0))
    insert_all(client, [1, 2])
    sample_values(client, 1)
    client.reset("t")
    info = client.server_info()["t"]
    assert info.current_size == 0
    assert (info.rate_limiter_info["insert_count"], info.rate_limiter_info["sample_count"]) == (0, 0)


def test_emit_timesteps_false_gives_flat_columns_or_the_structure():
    _, client = make(selectors.Fifo())
    client.insert({"b": np.int32(2), "a": np.float32(1.0)}, {"t": 1.0})
    flat = next(client.sample("t", emit_timesteps=False, timeout_ms=50))
    assert [c.tolist() for c in flat.data] == [[1.0], [2]]  # sorted keys, time dim of 1
    nested = next(client.sample("t", emit_timesteps=False, unpack_as_table_signature=True, timeout_ms=50))
    assert nested.data["b"].tolist() == [2]


def test_fifo_order_survives_middle_deletes_and_many_inserts():
    # a long-lived oldest item while thousands of newer ones come and go (the order ring compacts)
    _, client = make(selectors.Fifo(), selectors.Fifo(), max_size=4)
    insert_all(client, [0])
    for i in range(1, 400):
        insert_all(client, [i])
        keys = client.get_state()["t"]["keys"]
        if len(keys) > 2:
            client.mutate_priorities("t", deletes=[int(keys[1])])  # delete the second oldest
    assert table_values(client)[0] == 0  # never evicted: the table never filled
    assert sample_values(client, 1) == [0]
    _, lifo = make(selectors.Lifo(), selectors.Lifo(), max_size=2)
    insert_all(lifo, range(300))
    assert table_values(lifo) == [0, 1] and sample_values(lifo, 1) == [1]


def test_writer_items_of_mixed_lengths_and_writers_keep_their_order_and_steps():
    """Items pulled in as one group (a flush commits them; two writers; lengths 1-3 mixed) land as
    if inserted one by one: writer by writer (in the order they first created an item, as a wait
    pulls them), each writer's in creation order, each item referencing its own steps."""
    server, client = make(selectors.Fifo(), max_size=1000)
    writers = [client.trajectory_writer(3), client.trajectory_writer(3)]
    appended, expected = ([], []), ([], [])
    for i in range(40):
        k = int(i % 3 == 0)
        w = writers[k]
        w.append({"x": np.float32(1000 * k + i)})
        appended[k].append(1000.0 * k + i)
        n = min(1 + i % 3, w.episode_steps)
        w.create_item("t", 1.0, {"x": w.history["x"][-n:]})
        expected[k].append(tuple(appended[k][-n:]))
    writers[0].flush()  # commits both writers' pending items, in creation order
    writers[1].flush()
    state = client.get_state()["t"]
    bounds = np.concatenate([[0], np.cumsum(state["lengths"])])
    got = [tuple(state["column_0"][state["steps"][s:e]].tolist()) for s, e in zip(bounds[:-1], bounds[1:])]
    assert got == expected[1] + expected[0]  # writers[1] created the first item


@pytest.mark.parametrize("num_leaves", [1, 7, 33, 5000, 40000])
def test_sum_tree_finds_the_leaf_of_each_target_like_a_full_running_sum(num_leaves):
    from agentax.reverb.sum_tree import SumTree

    rng = np.random.default_rng(num_leaves)
    weights = rng.random(num_leaves)
    weights[rng.random(num_leaves) < 0.3] = 0.0
    weights[0] = 1.0
    tree = SumTree(num_leaves)
    tree.set_many(np.arange(num_leaves), weights)
    for i in range(40):  # single updates (running sums adjusted) and groups (rows recomputed)
        leaf, w = int(rng.integers(num_leaves)), float(rng.random()) if i % 3 else 0.0
        tree.set(leaf, w)
        weights[leaf] = w
    rows = rng.integers(0, num_leaves, 64)
    new = np.where(rng.random(64) < 0.5, 0.0, rng.random(64))
    tree.set_many(rows, new)
    weights[rows] = new  # (a repeated row keeps its last weight in both)
    weights[0] = 2.0
    tree.set(0, 2.0)
    for check in range(2):
        cum = np.cumsum(weights)
        assert tree.total == pytest.approx(cum[-1], rel=1e-12)
        np.testing.assert_array_equal(tree.get(np.arange(num_leaves)), weights)
        # targets strictly inside the leaves' intervals (away from rounding at the edges)
        lo = np.concatenate([[0.0], cum[:-1]])
        live = np.nonzero(weights > 0)[0]
        pick = rng.choice(live, 500)
        targets = lo[pick] + weights[pick] * rng.uniform(0.01, 0.99, 500)
        np.testing.assert_array_equal(tree.find(targets), pick)
        assert (weights[tree.find(rng.random(2000) * tree.total)] > 0).all()
        tree.rebuild()
    tree.clear()
    assert tree.total == 0.0
