"""Replay speed and memory, side by side in one run (writes benchmarks/results/replay.json).

Python path: single CartPole steps inserted through `ReverbAddTrajectoryObserver`
(sequence 2, stride 1) into a 1M-item table; batches of 256 sampled (sequence 2)
from 100k and 1M items, uniform and prioritized; 256 priorities updated; against
Stable-Baselines3's `ReplayBuffer` (`add`, `sample(256)`). Compiled path:
`JaxUniformReplayBuffer` and `JaxPrioritizedReplayBuffer` sampling 256 (x200 in
one `jit`) against flashbax's trajectory and prioritised buffers. Memory: bytes
per stored transition against the raw bytes of one transition.

Rates are medians over rounds in which every contender runs in turn (so a slow
minute of a shared machine hits all alike); `best_of_rounds` keeps each best.

Needs the peers: `pip install -e '.[bench]'` (a separate venv, e.g. `.venv-bench`).
Run alone (exclusive lock): `flock -x /tmp/agentax-heavy.lock python benchmarks/replay.py`.
`--quick` (100k items, fewer rounds: a minute or two, e.g. on a GPU machine), `--out PATH`.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agentax import reverb
from agentax.replay_buffers import reverb_utils
from agentax.replay_buffers.jax_prioritized_replay_buffer import JaxPrioritizedReplayBuffer
from agentax.replay_buffers.jax_uniform_replay_buffer import JaxUniformReplayBuffer
from agentax.replay_buffers.reverb_replay_buffer import ReverbReplayBuffer
from agentax.specs.array_spec import ArraySpec
from agentax.trajectories import StepType, Trajectory
from common import RESULTS_DIR, machine

BATCH = 256
ROUNDS = {"insert": 5, "sample": 7, "compiled": 7}
BEST: dict = {}  # name: best rate over the rounds (the headline figures are medians)


def cartpole_stream(n: int, seed: int = 0):
    """`n` CartPole-v1 transitions with random actions: Trajectory steps (as PyDriver gives them)
    and the SB3 arguments (obs, next_obs, action, reward, done)."""
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    trajs, sb3 = [], []
    step_type = StepType.FIRST
    for _ in range(n):
        if step_type == StepType.LAST:  # the boundary step LAST -> FIRST
            new_obs, _ = env.reset()
            trajs.append(Trajectory(np.int32(StepType.LAST), obs, np.int64(0), (), np.int32(StepType.FIRST),
                                    np.float32(0), np.float32(1)))
            obs, step_type = new_obs.astype(np.float32), StepType.FIRST
            continue
        action = int(rng.integers(2))
        new_obs, reward, terminated, truncated, _ = env.step(action)
        next_type = StepType.LAST if terminated or truncated else StepType.MID
        trajs.append(Trajectory(np.int32(step_type), obs.astype(np.float32), np.int64(action), (),
                                np.int32(next_type), np.float32(reward), np.float32(0 if terminated else 1)))
        sb3.append((obs[None].astype(np.float32), new_obs[None].astype(np.float32), np.array([[action]]),
                    np.array([reward], np.float32), np.array([terminated or truncated])))
        obs, step_type = new_obs.astype(np.float32), next_type
    return trajs, sb3


def interleaved(runs: dict, rounds: int = 3) -> dict:
    """Median rate of each `name: (fn, units)`, running them in turn `rounds` times, so a slow
    minute of the shared machine hits every contender alike (the best goes to `BEST`)."""
    rates = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (fn, units) in runs.items():
            start = time.perf_counter()
            fn()
            rates[name].append(units / (time.perf_counter() - start))
    BEST.update({name: max(r) for name, r in rates.items()})
    return {name: statistics.median(r) for name, r in rates.items()}


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------- Python path

def make_server(max_size: int):
    tables = [reverb.Table("uniform", reverb.selectors.Uniform(seed=0), reverb.selectors.Fifo(), max_size,
                           reverb.rate_limiters.MinSize(1)),
              reverb.Table("prioritized", reverb.selectors.Prioritized(0.6, seed=0), reverb.selectors.Fifo(),
                           max_size, reverb.rate_limiters.MinSize(1))]
    return reverb.Server(tables)


def agentax_insert(trajs, max_size: int):
    def run():
        server = make_server(max_size)
        obs = reverb_utils.ReverbAddTrajectoryObserver(reverb.Client(f"localhost:{server.port}"), "uniform", 2)
        for t in trajs:
            obs(t)
        obs.flush()
        server.stop()
    return run, len(trajs)


def sb3_insert(sb3_steps, max_size: int):
    from stable_baselines3.common.buffers import ReplayBuffer
    env = gym.make("CartPole-v1")

    def run():
        rb = ReplayBuffer(max_size, env.observation_space, env.action_space, device="cpu")
        for o, n, a, r, d in sb3_steps:
            rb.add(o, n, a, r, d, [{}])
    return run, len(sb3_steps)


def sampling(client, table: str, batches: int = 200):
    """Batches of 256 items (sequence 2) from `table`."""
    def run():
        for _ in range(batches):
            client.sample_batch(table, BATCH)
    return run, batches * BATCH


def update_rate(client, table: str, rounds: int = 200) -> float:
    info, _ = client.sample_batch(table, BATCH)
    keys = info.key.tolist()
    rng = np.random.default_rng(0)
    prios = [dict(zip(keys, rng.random(BATCH).tolist())) for _ in range(rounds)]

    def run():
        for p in prios:
            client.mutate_priorities(table, updates=p)
    return interleaved({"update": (run, rounds * BATCH)}, ROUNDS["sample"])["update"]


def dataset_rate(server, table: str, batches: int = 200) -> float:
    spec = Trajectory(ArraySpec((), np.int32), ArraySpec((4,), np.float32), ArraySpec((), np.int64), (),
                      ArraySpec((), np.int32), ArraySpec((), np.float32), ArraySpec((), np.float32))
    rb = ReverbReplayBuffer(spec, table, 2, local_server=server)
    it = iter(rb.as_dataset(sample_batch_size=BATCH, num_steps=2))
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    rate = batches * BATCH / (time.perf_counter() - start)
    it.close()
    return rate


def python_path(trajs, sb3_steps, sizes, peers: bool) -> dict:
    out: dict = {"insert_steps": min(len(trajs), 100_000)}
    runs = {"agentax_insert_steps_per_s": agentax_insert(trajs[:100_000], max(sizes))}
    if peers:
        runs["sb3_insert_steps_per_s"] = sb3_insert(sb3_steps[:100_000], max(sizes))
    out.update(interleaved(runs, ROUNDS["insert"]))
    # fill 1M items once, measuring at each size on the way
    gc.collect()
    rss0 = rss_bytes()
    server = make_server(max(sizes))
    client = reverb.Client(f"localhost:{server.port}")
    obs = reverb_utils.ReverbAddTrajectoryObserver(client, "uniform", 2)
    obs_p = reverb_utils.ReverbAddTrajectoryObserver(client, "prioritized", 2)
    if peers:
        from stable_baselines3.common.buffers import ReplayBuffer
        env = gym.make("CartPole-v1")
        sb3 = ReplayBuffer(max(sizes), env.observation_space, env.action_space, device="cpu")
    done = 0
    sb3_done = 0
    for size in sizes:
        while client.server_info()["uniform"].current_size < size:
            for t in trajs[done % len(trajs):done % len(trajs) + 10_000]:
                obs(t)
                obs_p(t)
            done += 10_000
        obs.flush()
        obs_p.flush()
        if size == max(sizes):
            gc.collect()
            out["agentax_rss_bytes_per_item_per_table"] = (rss_bytes() - rss0) / (2 * size)  # two tables
            table = server.table("uniform")
            store = table._store
            arrays = store.nbytes() + sum(a.nbytes for a in (table._keys, table._priority, table._times,
                                                             table._length, table._order, table._squeeze,
                                                             table._steps))
            out["agentax_array_bytes_per_item"] = arrays / size
        key = f"{size // 1000}k"
        runs = {f"agentax_uniform_sample_items_per_s_{key}": sampling(client, "uniform"),
                f"agentax_prioritized_sample_items_per_s_{key}": sampling(client, "prioritized")}
        if peers:
            while sb3_done < size:
                for o, n, a, r, d in sb3_steps[sb3_done % len(sb3_steps):sb3_done % len(sb3_steps) + 10_000]:
                    sb3.add(o, n, a, r, d, [{}])
                sb3_done += 10_000
            runs[f"sb3_sample_items_per_s_{key}"] = (lambda: [sb3.sample(BATCH) for _ in range(200)], 200 * BATCH)
        out.update(interleaved(runs, ROUNDS["sample"]))
        out[f"agentax_update_priorities_per_s_{key}"] = update_rate(client, "prioritized")
        out[f"agentax_dataset_items_per_s_{key}"] = dataset_rate(server, "uniform")
        if peers:
            if size == max(sizes):
                nbytes = sum(getattr(sb3, a).nbytes for a in ("observations", "next_observations", "actions",
                                                               "rewards", "dones", "timeouts"))
                out["sb3_array_bytes_per_item"] = nbytes / size
    server.stop()
    return out


# ---------------------------------------------------------------- compiled path

def compiled_run(fn, *args):
    """A no-argument call of the compiled `fn(*args)` that waits for the result (compiled here)."""
    jax.block_until_ready(fn(*args))
    return lambda: jax.block_until_ready(fn(*args))


def compiled_path(size: int, peers: bool, draws: int = 200) -> dict:
    spec = {"obs": ArraySpec((4,), np.float32), "action": ArraySpec((), np.int32),
            "reward": ArraySpec((), np.float32)}
    rng = np.random.default_rng(0)
    data = {"obs": rng.standard_normal((1, size, 4)).astype(np.float32),
            "action": rng.integers(0, 2, (1, size)).astype(np.int32),
            "reward": rng.random((1, size)).astype(np.float32)}
    out: dict = {"compiled_items": size, "compiled_draws_per_jit": draws}
    keys = jax.random.split(jax.random.key(0), draws)

    def scan_sample(sample_one):
        def f(state, keys):
            def body(acc, key):
                items = sample_one(state, key)
                return acc + jax.tree.reduce(lambda a, x: a + x.sum().astype(jnp.float32), items, 0.0), None
            return jax.lax.scan(body, 0.0, keys)[0]
        return jax.jit(f)

    buf = JaxUniformReplayBuffer(spec, batch_size=1, max_length=size)
    state = buf.init()._replace(data=jax.tree.map(jnp.asarray, data), ids=jnp.arange(size, dtype=jnp.int32)[None],
                                last_id=jnp.array(size - 1, jnp.int32))
    units = draws * BATCH
    runs = {"agentax_compiled_uniform_items_per_s":
            (compiled_run(scan_sample(lambda s, k: buf.sample(s, k, BATCH, 2)[0]), state, keys), units)}

    pbuf = JaxPrioritizedReplayBuffer(spec, capacity=size, priority_exponent=0.6)
    flat = jax.tree.map(lambda x: jnp.asarray(x[0]), data)
    pstate = jax.jit(pbuf.add_batch)(pbuf.init(), flat, jnp.asarray(rng.random(size).astype(np.float32)))
    runs["agentax_compiled_prioritized_items_per_s"] = (
        compiled_run(scan_sample(lambda s, k: pbuf.sample(s, k, BATCH)[0]), pstate, keys), units)
    if peers:
        import flashbax as fbx
        fb = fbx.make_trajectory_buffer(add_batch_size=1, sample_batch_size=BATCH, sample_sequence_length=2,
                                        period=1, min_length_time_axis=2, max_length_time_axis=size)
        fstate = fb.init(jax.tree.map(lambda x: jnp.asarray(x[0, 0]), data))
        fstate = jax.jit(fb.add)(fstate, jax.tree.map(jnp.asarray, data))
        runs["flashbax_uniform_items_per_s"] = (
            compiled_run(scan_sample(lambda s, k: fb.sample(s, k).experience), fstate, keys), units)
        fp = fbx.make_prioritised_flat_buffer(max_length=size, min_length=1, sample_batch_size=BATCH,
                                              add_sequences=True, add_batch_size=1, priority_exponent=0.6)
        fpstate = fp.init(jax.tree.map(lambda x: x[0], flat))
        fpstate = jax.jit(fp.add)(fpstate, jax.tree.map(jnp.asarray, data))
        runs["flashbax_prioritized_items_per_s"] = (
            compiled_run(scan_sample(lambda s, k: fp.sample(s, k).experience), fpstate, keys), units)
        item_bytes = sum(x.nbytes for x in jax.tree.leaves(data)) / size
        out["raw_compiled_bytes_per_item"] = item_bytes
        out["agentax_compiled_bytes_per_item"] = sum(x.nbytes for x in jax.tree.leaves(state)) / size
        out["flashbax_bytes_per_item"] = sum(x.nbytes for x in jax.tree.leaves(fstate)) / size
    out.update(interleaved(runs, ROUNDS["compiled"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--no-peers", action="store_true", help="skip SB3 and flashbax")
    parser.add_argument("--quick", action="store_true", help="100k items, 3 rounds (a minute or two)")
    parser.add_argument("--out", default=str(RESULTS_DIR / "replay.json"), help="results file")
    parser.add_argument("--parts", choices=["all", "insert"], default="all",
                        help="insert: only the Python-path insert rates (vs SB3), merged into the existing "
                             "results file and marked as such")
    args = parser.parse_args()
    peers = not args.no_peers
    if args.parts == "insert":
        insert_only(args.out, peers)
        return
    if args.quick:
        args.sizes = [100_000]
        ROUNDS.update(insert=3, sample=3, compiled=3)
    trajs, sb3_steps = cartpole_stream(max(args.sizes) // 4 + 10, seed=0)
    raw = sum(np.asarray(x).nbytes for x in jax.tree.leaves(trajs[0]))
    results = {"machine": machine(), "batch_size": BATCH, "sequence_length": 2,
               "raw_bytes_per_transition": raw}
    results.update(python_path(trajs, sb3_steps, args.sizes, peers))
    results.update(compiled_path(max(args.sizes), peers, draws=50 if args.quick else 200))
    big = f"{max(args.sizes) // 1000}k"
    if peers:
        results["python_insert_vs_sb3"] = results["agentax_insert_steps_per_s"] / results["sb3_insert_steps_per_s"]
        results["python_sample_vs_sb3"] = (results[f"agentax_uniform_sample_items_per_s_{big}"]
                                           / results[f"sb3_sample_items_per_s_{big}"])
        results["prioritized_sample_vs_sb3_uniform"] = (results[f"agentax_prioritized_sample_items_per_s_{big}"]
                                                        / results[f"sb3_sample_items_per_s_{big}"])
        results["compiled_sample_vs_flashbax"] = (results["agentax_compiled_uniform_items_per_s"]
                                                  / results["flashbax_uniform_items_per_s"])
        results["compiled_prioritized_vs_flashbax"] = (results["agentax_compiled_prioritized_items_per_s"]
                                                       / results["flashbax_prioritized_items_per_s"])
    results["statistic"] = f"median of interleaved rounds {ROUNDS}"
    results["best_of_rounds"] = {k: round(v, 3) for k, v in BEST.items()}
    results["reverb_published_local_client_rates"] = None
    results["note"] = REVERB_NOTE
    results = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in results.items()}
    for k, v in results.items():
        if k not in ("machine", "best_of_rounds"):
            print(f"{k:>48}: {v}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


def insert_only(path: str, peers: bool) -> None:
    """The insert rates alone (same stream, rounds and interleaving as the full run), merged into `path`."""
    trajs, sb3_steps = cartpole_stream(100_010, seed=0)
    runs = {"agentax_insert_steps_per_s": agentax_insert(trajs[:100_000], 1_000_000)}
    if peers:
        runs["sb3_insert_steps_per_s"] = sb3_insert(sb3_steps[:100_000], 1_000_000)
    new = interleaved(runs, ROUNDS["insert"])
    if peers:
        new["python_insert_vs_sb3"] = new["agentax_insert_steps_per_s"] / new["sb3_insert_steps_per_s"]
    new = {k: round(v, 3) for k, v in new.items()}
    for k, v in new.items():
        print(f"{k:>48}: {v}")
    out = Path(path)
    results = json.loads(out.read_text()) if out.exists() else {}
    before = {k: results.get(k) for k in new}
    results.update(new)
    results.setdefault("best_of_rounds", {}).update({k: round(BEST[k], 3) for k in runs})
    results["insert_only_run"] = {
        "keys": sorted(new), "machine": machine(), "statistic": f"median of {ROUNDS['insert']} interleaved rounds",
        "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "previous": before,
        "note": "these insert keys come from a later `--parts insert` run; the other keys from the last full run"}
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"updated {out} (insert keys)")


REVERB_NOTE = (
    "Rates are items (transitions, or sequence-2 items) per second. Reverb itself cannot be installed here "
    "(no wheel for this Python without TensorFlow), and no published figure for its local client was found, so "
    "the 10x-Reverb goal is not measured. Searched: the Reverb paper (arXiv 2102.04736: its arXiv, ar5iv and "
    "index pages as stored, which give the abstract and front matter but no throughput number), the "
    "google-deepmind/reverb repository (docs/ holds only diagrams; no benchmark results), and code and issue "
    "text for Reverb insert/sample rates.")


if __name__ == "__main__":
    main()
