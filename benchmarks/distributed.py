"""Distributed collection on Ray against the in-process Python path (writes benchmarks/results/distributed.json).

- `collection`: env steps/s of DQN's collect policy on CartPole-v0 written through
  `ReverbAddTrajectoryObserver`: the in-process `train.Actor` into an in-process `reverb.Server`,
  against 1, 2 and 4 `Collector` actors into a `ReplayServer` actor (steady state: actors
  started and warmed up first; each collector runs tasks of `--task-steps` steps, one parameter
  version check per task; the in-process actor runs and flushes in runs of as many steps).
  `--repeats` interleaved rounds (in-process, 1, 2, 4 collectors in each), medians, and the
  ratio to in-process both of the medians and as the median of the per-round ratios.
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
class InProcess:
    """The in-process `train.Actor` into an in-process `reverb.Server`, in runs of `task_steps` steps (as a
    collector's tasks), with the same agent (initial parameters of `config.seed`) and environment."""

    def __init__(self, config, task_steps: int):
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
        self.server = reverb.Server([table])
        self.observer = reverb_utils.ReverbAddTrajectoryObserver(self.server.in_process_client(), "episodes",
                                                                 sequence_length=agent.train_sequence_length)
        self.actor = Actor(env, PyJaxPolicy(agent.collect_policy, seed=1), agent.train_step_counter,
                           steps_per_run=task_steps, observers=[self.observer], summary_interval=0)
        self.task_steps = task_steps
        self.actor.run()  # compile
        self.observer.flush()

    def rate(self, steps: int) -> float:
        runs = max(1, steps // self.task_steps)
        start = time.perf_counter()
        for _ in range(runs):
            self.actor.run()
            self.observer.flush()
        return runs * self.task_steps / (time.perf_counter() - start)

    def close(self) -> None:
        self.server.stop()


class Distributed:
    """`num_collectors` `Collector` actors into a `ReplayServer` actor, started and warmed up (steady state)."""

    def __init__(self, config, num_collectors: int, task_steps: int):
        import ray

        from agentax.distributed import POLICY_KEY, TRAIN_STEP_KEY, VariableContainer, connect, start_collectors
        from agentax.distributed.replay_server import start_replay_server
        from agentax.distributed.trainer import _make_tables
        from agentax.environments import suite_gym

        env = suite_gym.load(config.env)
        agent = config.make_agent(env.time_step_spec(), env.action_spec())
        agent.initialize()  # the in-process agent's initial parameters (same config.seed): the same policy
        self.server = start_replay_server(_make_tables("episodes", config.replay_capacity, 0))
        client = connect(self.server)
        VariableContainer(client.server_address).push(
            {POLICY_KEY: agent.collect_policy_params(agent.state), TRAIN_STEP_KEY: np.int64(0)})
        self.collectors = start_collectors(config, num_collectors, self.server, client.server_address, "episodes",
                                           task_steps, num_cpus=1.0)
        ray.get([c.run.remote(1) for c in self.collectors for _ in range(2)], timeout=600)  # start-up, compile
        self.task_steps = task_steps

    def rate(self, steps: int) -> float:
        import ray

        runs = max(1, steps // (self.task_steps * len(self.collectors)))
        start = time.perf_counter()
        refs = [c.run.remote(1) for c in self.collectors for _ in range(runs)]  # queued: each collector busy throughout
        done = sum(r["env_steps"] for r in ray.get(refs, timeout=600))
        return done / (time.perf_counter() - start)

    def close(self) -> None:
        import ray

        for actor in [*self.collectors, self.server]:
            ray.kill(actor, no_restart=True)


def part_collection(args) -> dict:
    """Interleaved rounds: in each, the in-process actor, then each collector count (all started and warmed up
    before the first round), `--steps` env steps each; medians over rounds and the median of the per-round ratios."""
    config = tutorial_config()
    base = InProcess(config, args.task_steps)
    sets = {n: Distributed(config, n, args.task_steps) for n in args.collectors}
    rates: dict = {"in_process": [], **{n: [] for n in args.collectors}}
    for r in range(args.repeats):
        rates["in_process"].append(base.rate(args.steps))
        for n in args.collectors:
            rates[n].append(sets[n].rate(args.steps))
        print(f"collection round {r}: " + ", ".join(f"{k}: {v[-1]:.0f}" for k, v in rates.items()), flush=True)
    base.close()
    for s in sets.values():
        s.close()
    median = statistics.median(rates["in_process"])
    out = {"env": config.env, "network": list(config.fc_layer_params), "steps_per_measure": args.steps,
           "task_steps": args.task_steps, "rounds": args.repeats,
           "method": ("interleaved rounds (in-process, then 1, 2, 4 collectors, each started and warmed up before "
                      "the first round); same agent and initial parameters, CartPole-v0, tasks of task_steps env "
                      "steps (the in-process actor flushes after each run of task_steps); medians over rounds"),
           "in_process_steps_per_s": round(median, 1), "in_process_all": [round(x, 1) for x in rates["in_process"]],
           "distributed": {}}
    for n in args.collectors:
        m = statistics.median(rates[n])
        per_round = [a / b for a, b in zip(rates[n], rates["in_process"])]
        out["distributed"][str(n)] = {"steps_per_s": round(m, 1), "all": [round(x, 1) for x in rates[n]],
                                      "ratio_to_in_process": round(m / median, 3),
                                      "median_round_ratio": round(statistics.median(per_round), 3),
                                      "round_ratios": [round(x, 3) for x in per_round]}
        print(f"collection: {n} collector(s) {m:.0f} steps/s ({m / median:.2f}x in-process {median:.0f}; "
              f"median round ratio {statistics.median(per_round):.2f})", flush=True)
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
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds of the collection part")
    parser.add_argument("--pull-repeats", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    args.steps = args.steps or (1000 if args.quick else 4000)
    args.iterations = args.iterations or (1000 if args.quick else 10_000)
    args.eval_every = args.eval_every or (500 if args.quick else 1000)
    if args.quick:
        args.repeats, args.pull_repeats = min(args.repeats, 3), min(args.pull_repeats, 20)

    import ray
    logging.basicConfig(level=logging.WARNING)
    ray.init(num_cpus=max(os.cpu_count() or 1, sum(args.collectors) + 1), include_dashboard=False,
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
