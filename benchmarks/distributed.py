"""Distributed collection on Ray against the in-process Python path (writes benchmarks/results/distributed.json).

- `collection`: env steps/s of DQN's collect policy on CartPole-v0 written through
  `ReverbAddTrajectoryObserver`: the in-process `train.Actor` into an in-process `reverb.Server`,
  against 1, 2 and 4 `Collector` actors into a `ReplayServer` actor (steady state: actors
  started and warmed up first; each collector runs tasks of `--task-steps` steps, one parameter
  version check per task). Median of `--repeats`, ratio to in-process in the same run.
- `pull`: the cost of a parameter pull (`VariableContainer.version()`, `pull()`) for the DQN
  network and a larger one, and what it adds per collected step at one pull per task.
- `dqn`: the 'tutorial' DQN preset (CartPole-v0), in-process `PythonTrainer` against
  `DistributedTrainer` with 2 collectors: greedy return every `--eval-every` iterations, with env
  steps, at the same number of iterations (the same env steps, up to the collectors' lookahead).

The learner runs on the default JAX device; collectors and the server on CPU. Parts run
separately (`--parts collection pull`), each merged into the results file.
Run under the exclusive lock: `flock -x /tmp/agentax-heavy.lock .venv/bin/python benchmarks/distributed.py`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import time
from pathlib import Path

import numpy as np

from common import RESULTS_DIR, machine


def tutorial_config(**kw):
    from agentax.agents.dqn.config import PRESETS
    return dataclasses.replace(PRESETS["tutorial"], **kw)


# ---------------------------------------------------------------------------------------------- collection
def in_process_rate(config, steps: int, repeats: int) -> list[float]:
    from agentax import reverb
    from agentax.environments import suite_gym
    from agentax.policies.py_jax_policy import PyJaxPolicy
    from agentax.replay_buffers import reverb_utils
    from agentax.train.actor import Actor

    env = suite_gym.load(config.env)
    env.seed(0)
    agent = config.make_agent(env.time_step_spec(), env.action_spec())
    agent.initialize()
    table = reverb.Table("episodes", max_size=config.replay_capacity, sampler=reverb.selectors.Uniform(seed=0),
                         remover=reverb.selectors.Fifo(), rate_limiter=reverb.rate_limiters.MinSize(1))
    server = reverb.Server([table])
    observer = reverb_utils.ReverbAddTrajectoryObserver(server.in_process_client(), "episodes",
                                                        sequence_length=agent.train_sequence_length)
    actor = Actor(env, PyJaxPolicy(agent.collect_policy, seed=1), agent.train_step_counter, steps_per_run=steps,
                  observers=[observer], summary_interval=0)
    actor.run()  # compile
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        actor.run()
        observer.flush()
        rates.append(steps / (time.perf_counter() - start))
    server.stop()
    return rates


def distributed_rate(config, num_collectors: int, steps: int, task_steps: int, repeats: int) -> list[float]:
    import ray

    from agentax.distributed import POLICY_KEY, TRAIN_STEP_KEY, VariableContainer, connect, start_collectors
    from agentax.distributed.replay_server import start_replay_server
    from agentax.distributed.trainer import _make_tables
    from agentax.environments import suite_gym

    env = suite_gym.load(config.env)
    agent = config.make_agent(env.time_step_spec(), env.action_spec())
    agent.initialize()
    server = start_replay_server(_make_tables("episodes", config.replay_capacity, 0))
    client = connect(server)
    VariableContainer(client.server_address).push(
        {POLICY_KEY: agent.collect_policy_params(agent.state), TRAIN_STEP_KEY: np.int64(0)})
    collectors = start_collectors(config, num_collectors, server, client.server_address, "episodes", task_steps,
                                  num_cpus=1.0)
    ray.get([c.run.remote(1) for c in collectors], timeout=600)  # start-up, compile
    runs = max(1, steps // (task_steps * num_collectors))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        refs = [c.run.remote(1) for c in collectors for _ in range(runs)]  # queued: each collector busy throughout
        done = sum(r["env_steps"] for r in ray.get(refs, timeout=600))
        rates.append(done / (time.perf_counter() - start))
    for actor in [*collectors, server]:
        ray.kill(actor, no_restart=True)
    return rates


def part_collection(args) -> dict:
    config = tutorial_config()
    base = in_process_rate(config, args.steps, args.repeats)
    out = {"env": config.env, "network": list(config.fc_layer_params), "steps_per_measure": args.steps,
           "task_steps": args.task_steps, "in_process_steps_per_s": round(statistics.median(base), 1),
           "in_process_all": [round(r, 1) for r in base], "distributed": {}}
    for n in args.collectors:
        rates = distributed_rate(config, n, args.steps, args.task_steps, args.repeats)
        median = statistics.median(rates)
        out["distributed"][str(n)] = {"steps_per_s": round(median, 1), "all": [round(r, 1) for r in rates],
                                      "ratio_to_in_process": round(median / out["in_process_steps_per_s"], 3)}
        print(f"collection: {n} collector(s) {median:.0f} steps/s ({median / out['in_process_steps_per_s']:.2f}x "
              f"in-process {out['in_process_steps_per_s']:.0f})", flush=True)
    return out


# ---------------------------------------------------------------------------------------------- pull
def part_pull(args) -> dict:
    import jax
    import ray

    from agentax.distributed import POLICY_KEY, TRAIN_STEP_KEY, VariableContainer, connect
    from agentax.distributed.replay_server import start_replay_server
    from agentax.distributed.trainer import _make_tables
    from agentax.environments import suite_gym

    env = suite_gym.load("CartPole-v0")
    out = {}
    for layers in [(100, 50), (512, 512)]:
        server = start_replay_server(_make_tables("episodes", 1000, 0))  # a table keeps its first item's shapes
        container = VariableContainer(connect(server).server_address)
        agent = tutorial_config(fc_layer_params=layers).make_agent(env.time_step_spec(), env.action_spec())
        agent.initialize()
        params = jax.device_get(agent.collect_policy_params(agent.state))
        nbytes = sum(np.asarray(x).nbytes for x in jax.tree.leaves(params))
        container.push({POLICY_KEY: params, TRAIN_STEP_KEY: np.int64(0)})
        times = {"version": [], "pull": [], "push": []}
        for i in range(args.pull_repeats):
            start = time.perf_counter()
            container.version()
            times["version"].append(time.perf_counter() - start)
            start = time.perf_counter()
            container.pull()
            times["pull"].append(time.perf_counter() - start)
            start = time.perf_counter()
            container.push({POLICY_KEY: params, TRAIN_STEP_KEY: np.int64(i)})
            times["push"].append(time.perf_counter() - start)
        row = {f"{k}_ms": round(1000 * statistics.median(v), 3) for k, v in times.items()}
        row["param_bytes"] = int(nbytes)
        out["x".join(map(str, layers))] = row
        print(f"pull: network {layers} ({nbytes} B): {row}", flush=True)
        ray.kill(server, no_restart=True)
    out["note"] = ("driver-side round trips; a Collector asks for the parameters at the end of each task and "
                   "reads them at the next task's start, so it does not wait for this")
    return out


# ---------------------------------------------------------------------------------------------- dqn
def learning_curve(config, iterations: int, eval_every: int, distributed: bool) -> dict:
    if distributed:
        from agentax.distributed import DistributedTrainer
        trainer = DistributedTrainer(config)
    else:
        from agentax.train.python_trainer import PythonTrainer
        trainer = PythonTrainer(config)
    trainer.initialize()
    curve = [[0, int(trainer.env_steps_now()[0]), float(trainer.evaluate_now()[0])]]
    start = time.perf_counter()
    train_seconds = 0.0
    while trainer.iteration_count < iterations:
        t = time.perf_counter()
        trainer.run(eval_every)
        train_seconds += time.perf_counter() - t
        curve.append([trainer.iteration_count, int(trainer.env_steps_now()[0]), float(trainer.evaluate_now()[0])])
        print(f"  {'distributed' if distributed else 'in-process'}: {curve[-1]}", flush=True)
    wall = time.perf_counter() - start
    if distributed:
        trainer.close()
    return {"curve_iteration_envsteps_return": curve, "train_seconds": round(train_seconds, 2),
            "wall_seconds": round(wall, 2), "final_return": curve[-1][2],
            "mean_return_last_3": round(float(np.mean([c[2] for c in curve[-3:]])), 2)}


def part_dqn(args) -> dict:
    out = {"preset": "tutorial", "iterations": args.iterations, "eval_every": args.eval_every, "runs": {}}
    for seed in args.seeds:
        config = tutorial_config(iterations=args.iterations, seed=seed, num_eval_episodes=10)
        out["runs"][f"seed{seed}"] = {
            "in_process": learning_curve(config, args.iterations, args.eval_every, False),
            "distributed_2_collectors": learning_curve(dataclasses.replace(config, distributed=True, num_collectors=2),
                                                       args.iterations, args.eval_every, True)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", default=["collection", "pull", "dqn"],
                        choices=["collection", "pull", "dqn"])
    parser.add_argument("--quick", action="store_true", help="small sizes (a couple of minutes in all)")
    parser.add_argument("--out", default=str(RESULTS_DIR / "distributed.json"))
    parser.add_argument("--steps", type=int, default=None, help="env steps per collection measure")
    parser.add_argument("--task-steps", type=int, default=100, help="env steps per collector task (one call)")
    parser.add_argument("--collectors", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pull-repeats", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    args.steps = args.steps or (1000 if args.quick else 4000)
    args.iterations = args.iterations or (1000 if args.quick else 10_000)
    args.eval_every = args.eval_every or (500 if args.quick else 1000)
    if args.quick:
        args.repeats, args.pull_repeats = min(args.repeats, 2), min(args.pull_repeats, 20)

    import ray
    logging.basicConfig(level=logging.WARNING)
    ray.init(num_cpus=max(os.cpu_count() or 1, max(args.collectors) + 1), include_dashboard=False,
             logging_level=logging.WARNING)
    path = Path(args.out)
    results = json.loads(path.read_text()) if path.is_file() else {}
    results["machine"] = machine()
    results["note"] = ("CPU count shared by collectors, the replay server and the learner; on a machine with fewer "
                       "cores than collectors + 2, more collectors cannot add throughput.")
    for part in args.parts:
        start = time.perf_counter()
        results[part] = {**{"collection": part_collection, "pull": part_pull, "dqn": part_dqn}[part](args),
                         "quick": args.quick, "seconds": round(time.perf_counter() - start, 1),
                         "machine": machine()}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {path} ({part})", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
