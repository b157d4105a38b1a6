"""Continuous control: SAC (and TD3/DDPG, listed in `AGENTS`) on Pendulum-v1 on both trainers, Stable-
Baselines3's SAC with the rl-baselines3-zoo settings, and SAC on HalfCheetah-v5, into
benchmarks/results/continuous.json.

Sections (`--sections`; each replaces its own rows in the results file, per agent and seed, so a
long benchmark can be run in pieces: `--sections compiled --seeds 0 1`, then `--seeds 2 3 4`):

- `compiled`: the agent's compiled preset (`AGENTS[agent]['compiled']`, 20k environment steps),
  one seed after another: the greedy return over 10 episodes after 20k steps (and every
  `eval_interval`), compile seconds, the first iteration's seconds (the Python trainer compiles
  there), train seconds of the other iterations and their environment steps per second
  (evaluation excluded); wall seconds include everything.
- `python`: the same preset on the Python trainer (`trainer='python'`, one environment, the same
  collect/train steps per iteration: the same replay ratio, one gradient step per environment step).
- `zoo`: the agent's zoo preset on the Python trainer (`AGENTS[agent]['zoo']`), when it has one.
- `sb3`: Stable-Baselines3's SAC with the zoo's Pendulum-v1 settings in `.venv-bench` (`--sb3-python`),
  the same 20k steps and evaluation.
- `profile`: where an iteration's time goes on each trainer (milliseconds per environment step of the
  whole iteration and of each part alone: collection, replay sampling, the train step).
- `halfcheetah`: SAC's `tf-agents` preset on HalfCheetah-v5 (needs `agentax.environments.suite_mujoco`
  and the mujoco extra) on the Python trainer, through `train_run` in `--halfcheetah-run-dir` (under the
  gitignored `runs/`): each invocation trains for at most `--halfcheetah-seconds`, checkpoints, and the
  next invocation resumes the run (up to `--halfcheetah-steps`); steps/s, the return curve (3 greedy
  episodes every 5000 env steps) and the budget spent are in the results.
- `halfcheetah-brax`: with the brax extra, the compiled trainer on Brax's `halfcheetah` at the same
  replay ratio (steps/s; another simulator, so its returns do not compare).

`--quick` (a GPU run in a couple of minutes): seed 0 only, 20k steps compiled, 4k steps on the
Python trainer (steps/s only), no SB3 or HalfCheetah. `--out PATH` writes elsewhere.
`--vmap` runs the compiled seeds as one vmapped program (fast on an accelerator; on 2 CPU cores
sequential seeds are faster).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from agentax.train.run import agent_config_module
from common import machine

AGENTS = {
    "sac": {"compiled": "default", "zoo": "zoo", "goal": -200.0},
    "td3": {"compiled": "default", "zoo": "zoo", "goal": -200.0},
    "ddpg": {"compiled": "default", "zoo": "zoo", "goal": -250.0},
}
"""Agent name -> its presets (`compiled`: the 20k-step Pendulum-v1 preset; `zoo`: the zoo's settings on the
Python trainer, optional) and the goal (average greedy return after 20k steps, 5 of 5 seeds). TD3 and DDPG
add a line each (`AGENTS['td3'] = {...}` or an entry here)."""

ENV_STEPS = 20_000

SB3_SCRIPT = r"""
import json, sys, time
import gymnasium as gym
from stable_baselines3 import SAC
from stable_baselines3.common.evaluation import evaluate_policy

seed, total, every = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
eval_env = gym.make("Pendulum-v1")
model = SAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, seed=seed, device="cpu")  # zoo: lr 1e-3, SB3 defaults
curve, train_seconds = [], 0.0
for done in range(every, total + 1, every):
    start = time.perf_counter()
    model.learn(total_timesteps=every, reset_num_timesteps=False)
    train_seconds += time.perf_counter() - start
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True)
    curve.append([done, float(mean)])
print(json.dumps({"seed": seed, "final_eval": curve[-1][1], "best_eval": max(v for _, v in curve),
                  "curve": curve, "train_seconds": round(train_seconds, 2), "env_steps": total,
                  "env_steps_per_second": round(total / train_seconds, 1)}))
"""


def preset(agent: str, name: str, **changes):
    return dataclasses.replace(agent_config_module(agent).PRESETS[name], **changes)


def run_config(config, max_env_steps: int | None = None) -> dict:
    """Train one seed of `config` (evaluating every `eval_interval` iterations); optionally stop after
    `max_env_steps` (speed only)."""
    from agentax.train.compiled_trainer import CompiledTrainer
    from agentax.train.python_trainer import PythonTrainer

    trainer = (CompiledTrainer if config.trainer == "compiled" else PythonTrainer)(config)
    start_wall = time.perf_counter()
    trainer.initialize()
    # The first iteration apart: the Python trainer compiles its policy and train step (and runs the
    # random initial collection) there; steps/s counts the iterations after it.
    start = time.perf_counter()
    trainer.run(1)
    first_seconds = time.perf_counter() - start
    start_steps = int(trainer.env_steps_now()[0])
    seconds, curve, done = 0.0, [], 1
    while done < config.iterations:
        count = min(config.eval_interval - done % config.eval_interval, config.iterations - done)
        start = time.perf_counter()
        trainer.run(count)
        seconds += time.perf_counter() - start
        done += count
        steps = int(trainer.env_steps_now()[0])
        if max_env_steps is not None and steps >= max_env_steps:
            curve.append([steps, None])
            break
        curve.append([steps, float(trainer.evaluate_now()[0])])
    steps = int(trainer.env_steps_now()[0])
    evals = [v for _, v in curve if v is not None]
    return {"seed": config.seed, "final_eval": evals[-1] if evals else None, "best_eval": max(evals, default=None),
            "curve": curve, "compile_seconds": round(trainer.compile_seconds, 2),
            "first_iteration_seconds": round(first_seconds, 2), "train_seconds": round(seconds, 2),
            "wall_seconds": round(time.perf_counter() - start_wall, 2), "env_steps": steps,
            "train_steps": int(trainer.train_steps_now()[0]),
            "env_steps_per_second": round((steps - start_steps) / seconds, 1)}


def run_vmapped(config, seeds) -> list[dict]:
    from agentax.train.compiled_trainer import CompiledTrainer

    trainer = CompiledTrainer(dataclasses.replace(config, seed=seeds[0]), num_seeds=len(seeds))
    trainer.initialize()
    start_steps = trainer.env_steps_now()
    seconds, curves, done = 0.0, [[] for _ in seeds], 0
    while done < config.iterations:
        count = min(config.eval_interval, config.iterations - done)
        start = time.perf_counter()
        trainer.run(count)
        seconds += time.perf_counter() - start
        done += count
        returns, steps = trainer.evaluate_now(), trainer.env_steps_now()
        for i in range(len(seeds)):
            curves[i].append([int(steps[i]), float(returns[i])])
    steps = trainer.env_steps_now()
    return [{"seed": seed, "final_eval": curves[i][-1][1], "best_eval": max(v for _, v in curves[i]),
             "curve": curves[i], "compile_seconds": round(trainer.compile_seconds, 2),
             "train_seconds": round(seconds, 2), "env_steps": int(steps[i]),
             "env_steps_per_second_all_seeds": round(float(np.sum(steps - start_steps)) / seconds, 1),
             "env_steps_per_second": round(float(steps[i] - start_steps[i]) / seconds, 1), "vmapped_seeds": len(seeds)}
            for i, seed in enumerate(seeds)]


def sb3_seed(seed: int, python: str, every: int) -> dict:
    out = subprocess.run([python, "-c", SB3_SCRIPT, str(seed), str(ENV_STEPS), str(every)], capture_output=True,
                         text=True, timeout=3600)
    if out.returncode != 0:
        return {"seed": seed, "error": out.stderr[-800:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(rows: list[dict], goal: float | None) -> dict:
    finals = [r["final_eval"] for r in rows if r.get("final_eval") is not None]
    out = {"seeds": [r["seed"] for r in rows], "final_eval_median": median(rows, "final_eval"),
           "final_eval_mean": round(float(np.mean(finals)), 1) if finals else None,
           "env_steps_per_second_median": median(rows, "env_steps_per_second"),
           "train_seconds_median": median(rows, "train_seconds"),
           "compile_seconds_median": median(rows, "compile_seconds")}
    if goal is not None:
        out["goal"] = goal
        out["seeds_above_goal"] = f"{sum(v > goal for v in finals)}/{len(finals)}"
    return out


def merge(section: dict, rows: list[dict], goal, **extra) -> dict:
    """`section` with `rows` replacing those of the same seeds, re-summarized."""
    kept = {r["seed"]: r for r in section.get("runs", [])}
    kept.update({r["seed"]: r for r in rows})
    runs = [kept[s] for s in sorted(kept)]
    return {**extra, "runs": runs, **summarize(runs, goal)}


def profile(agent: str, iterations: int = 100) -> dict:
    """Milliseconds per environment step of each part of an iteration of the agent's compiled preset
    (8 envs x 1 step, 8 gradient steps of batch 256), on both trainers: the whole iteration, then
    each part alone in its own compiled loop (compiled) or Python loop (Python trainer)."""
    import jax

    from agentax.train.compiled_trainer import CompiledTrainer
    from agentax.train.python_trainer import PythonTrainer

    config = preset(agent, AGENTS[agent]["compiled"])
    steps = iterations * config.collect_steps_per_iteration

    def ms(fn, *args):  # per env step, the second call (the first compiles)
        jax.block_until_ready(fn(*args))
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        return round((time.perf_counter() - start) / steps * 1e3, 3)

    trainer = CompiledTrainer(config)
    trainer.initialize()
    trainer.run(50)
    state = jax.tree.map(lambda x: x[0], trainer.state)
    sac, collection, length = trainer.agent, trainer.collection, trainer.agent.train_sequence_length

    @jax.jit
    def collect_and_add(s):
        def body(_, st):
            d = trainer.driver.run_pure(sac.collect_policy_params(st.agent), st.driver,
                                        maximum_iterations=trainer.capacity)
            return st._replace(driver=trainer._fresh_recorder(d), replay=trainer._add_recorded(st.replay, d))
        return jax.lax.fori_loop(0, iterations, body, s).replay.last_id

    @jax.jit
    def sample(replay, key):
        def body(i, acc):
            e, _ = trainer.replay.sample(replay, jax.random.fold_in(key, i), collection.sample_batch_size, length)
            return acc + e.observation.sum() + e.reward.sum()
        return jax.lax.fori_loop(0, steps, body, 0.0)

    batch, _ = trainer.replay.sample(state.replay, jax.random.PRNGKey(1), collection.sample_batch_size, length)

    @jax.jit
    def train(agent_state, batch, key):
        return jax.lax.scan(lambda c, k: (lambda out: (out[0], out[1].loss))(sac.train_step(c, batch, k)),
                            agent_state, jax.random.split(key, steps))[1]

    key = jax.random.PRNGKey(0)
    compiled = {"iteration": ms(lambda: trainer.run(iterations)),
                "collect_and_add_to_replay": ms(collect_and_add, state),
                "replay_sample": ms(sample, state.replay, key), "train_step": ms(train, state.agent, batch, key)}
    for size in (64, 16):  # how much of a train step does not scale with the batch
        batch, _ = trainer.replay.sample(state.replay, jax.random.PRNGKey(1), size, length)
        compiled[f"train_step_batch_{size}"] = ms(train, state.agent, batch, key)

    python = PythonTrainer(dataclasses.replace(config, trainer="python"))
    python.initialize()
    python.run(20)

    def timed(fn, count):
        start = time.perf_counter()
        for _ in range(count):
            out = fn()
        jax.block_until_ready(python.agent.state)
        return out, round((time.perf_counter() - start) / steps * 1e3, 3)

    _, whole = timed(lambda: python.run(1), iterations)
    _, actor = timed(python.actor.run, iterations)
    iterator = python.learner._experience_iterator
    batches, sampling = [], None
    _, sampling = timed(lambda: batches.append(next(iterator)), steps)
    batches = iter(batches)
    _, train_numpy = timed(lambda: python.agent.train(next(batches)[0]), steps)
    return {"config": f"{AGENTS[agent]['compiled']} preset: {config.num_envs} envs x 1 step and "
                      f"{config.train_steps_per_iteration} gradient steps (batch {config.sample_batch_size}) per "
                      f"iteration; milliseconds per environment step (= per gradient step), {steps} steps each",
            "compiled_ms": compiled,
            "python_ms": {"iteration": whole, "actor_run_collect_and_reverb_write": actor,
                          "reverb_sample": sampling, "agent_train_from_numpy_batch": train_numpy}}


def _interval_rates(rows: list[dict]) -> list[float]:
    """Env steps/s between consecutive metrics rows, leaving out intervals that hold an evaluation
    (a row's evaluation runs after its clock reading) or a restart (the clock jumps back)."""
    rates = []
    for a, b in zip(rows, rows[1:]):
        steps, seconds = b["env_steps"] - a["env_steps"], b["wall_seconds"] - a["wall_seconds"]
        if "eval_return" not in a and steps > 0 and seconds > 0 and a["iteration"] > 0:
            rates.append(steps / seconds)
    return rates


def halfcheetah(seed: int, env_steps: int, eval_every: int, seconds: float, run_dir: Path, previous: dict) -> dict:
    """SAC's `tf-agents` preset on HalfCheetah-v5 (MuJoCo, Python trainer) through `train_run` in
    `run_dir`, for at most `seconds` of this invocation: then it stops at the next log row with a
    checkpoint, and the next invocation resumes it (`--resume`), so a long run spreads over several
    short ones. `previous`: this section from the results file (its `invocations` list continues)."""
    import os
    import signal
    import threading

    try:
        import agentax.environments.suite_mujoco  # noqa: F401
    except ImportError as err:
        return {"skipped": f"suite_mujoco unavailable: {err}"}
    from agentax.train.run import RunInterrupted, train_run

    config = preset("sac", "tf-agents", seed=seed, iterations=max(env_steps - 10_000, 1), eval_interval=eval_every,
                    log_interval=1000, num_eval_episodes=3, video_episodes=0)
    resume = (run_dir / "checkpoints").exists()
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))  # the run's own Ctrl-C
    start = time.perf_counter()
    timer.start()
    try:
        summary, complete = train_run(config, run_dir, resume=resume, progress=False), True
    except RunInterrupted:
        summary, complete = None, False
    finally:
        timer.cancel()
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    curve = [[r["env_steps"], round(r["eval_return"], 1)] for r in rows if r.get("eval_return") is not None]
    rates = _interval_rates(rows)
    done = rows[-1]["env_steps"]
    invocations = [i for i in previous.get("invocations", []) if resume] + [
        {"resumed": resume, "wall_seconds": round(wall, 1), "env_steps_at_end": done}]
    out = {"preset": "tf-agents (HalfCheetah-v5 on MuJoCo, Python trainer): 10k random steps, then one env step "
                     "and one gradient step (batch 256, (256, 256) networks, Adam 3e-4, reward scale 0.1) per "
                     "iteration", "run_dir": str(run_dir), "target_env_steps": env_steps, "complete": complete,
           "env_steps": done, "train_steps": rows[-1]["train_step"], "wall_seconds": rows[-1]["wall_seconds"],
           "budget": f"{done} env steps (10k random first) in {rows[-1]['wall_seconds']:.0f} s wall on this "
                     f"machine, over {len(invocations)} invocation(s) of at most {seconds:.0f} s, each resuming "
                     f"the last one's checkpoint; 3 greedy episodes every {eval_every} env steps",
           "env_steps_per_second_median": round(statistics.median(rates), 1) if rates else None,
           "curve": curve, "invocations": invocations}
    if curve:
        out["first_eval"], out["last_eval"], out["best_eval"] = curve[0][1], curve[-1][1], max(v for _, v in curve)
    if summary is not None:
        out["final_eval_saved_policy"] = summary.get("final_eval_return")
    return out


def halfcheetah_brax(seed: int, iterations: int) -> dict:
    """The compiled trainer on Brax's `halfcheetah` (another simulator: its speed, not its returns,
    compares) at the `tf-agents` preset's replay ratio: 8 envs x 1 step and 8 gradient steps per iteration."""
    from agentax.environments import suite_brax
    if "halfcheetah" not in suite_brax.registered_ids():
        return {"skipped": "brax is not installed"}
    config = preset("sac", "tf-agents", seed=seed, env="halfcheetah", trainer="compiled", num_envs=8,
                    collect_steps_per_iteration=8, train_steps_per_iteration=8, iterations=iterations,
                    eval_interval=iterations // 2, num_eval_episodes=3, video_episodes=0)
    row = run_config(config)
    return {"preset": "tf-agents on Brax halfcheetah (generalized pipeline), compiled trainer, 8 envs x 1 step, "
                      "8 gradient steps per iteration (same replay ratio), 10k random steps first", **row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", nargs="+", default=["sac"], help=f"of {sorted(AGENTS)}")
    parser.add_argument("--sections", nargs="+", default=["compiled", "python", "sb3"],
                        help="compiled python zoo sb3 profile halfcheetah halfcheetah-brax")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--python-env-steps", type=int, default=None,
                        help="stop the python section after this many env steps (speed only; default: all 20k)")
    parser.add_argument("--vmap", action="store_true", help="compiled seeds in one vmapped program")
    parser.add_argument("--halfcheetah-steps", type=int, default=1_000_000,
                        help="env steps the HalfCheetah run aims at (it stops earlier at --halfcheetah-seconds)")
    parser.add_argument("--halfcheetah-seconds", type=float, default=270.0,
                        help="this invocation's time on the HalfCheetah run; the next one resumes it")
    parser.add_argument("--halfcheetah-run-dir", default=str(Path(__file__).resolve().parents[1] / "runs"
                                                             / "bench-halfcheetah-sac"))
    parser.add_argument("--brax-iterations", type=int, default=250,
                        help="halfcheetah-brax: iterations of 8 env steps after the 10k random ones (speed)")
    parser.add_argument("--quick", action="store_true", help="seed 0, compiled 20k steps, python 4k steps (speed)")
    parser.add_argument("--sb3-python", default=str(Path(__file__).resolve().parents[1] / ".venv-bench/bin/python"))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "continuous.json"),
                        help="results file (sections run replace their rows in it)")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.python_env_steps = [0], 4000
        args.sections = [s for s in args.sections if s in ("compiled", "python")]
    unknown = [a for a in args.agents if a not in AGENTS]
    if unknown:
        parser.error(f"--agents: unknown {unknown}; known: {sorted(AGENTS)}")
    path = Path(args.out)
    results = json.loads(path.read_text()) if path.exists() else {}
    results["machine"] = machine()
    results["env_steps"] = ENV_STEPS

    def save():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")

    agents = [] if set(args.sections) <= {"halfcheetah", "halfcheetah-brax"} else args.agents
    for agent in agents:
        spec = AGENTS[agent]
        out = results.setdefault(agent, {})
        compiled = preset(agent, spec["compiled"])
        if "compiled" in args.sections:
            configs = [dataclasses.replace(compiled, seed=s) for s in args.seeds]
            rows = (run_vmapped(compiled, args.seeds) if args.vmap
                    else [run_config(c) for c in configs])
            for row in rows:
                print(agent, "compiled", {k: v for k, v in row.items() if k != "curve"}, flush=True)
            out["compiled"] = merge(out.get("compiled", {}), rows, spec["goal"], preset=spec["compiled"],
                                    config=dataclasses.asdict(compiled), vmapped=args.vmap)
            save()
        if "python" in args.sections:
            rows = []
            for seed in args.seeds:
                config = dataclasses.replace(compiled, trainer="python", seed=seed)
                rows.append(run_config(config, args.python_env_steps))
                print(agent, "python", {k: v for k, v in rows[-1].items() if k != "curve"}, flush=True)
            out["python"] = merge(out.get("python", {}), rows, spec["goal"] if args.python_env_steps is None else None,
                                  preset=f"{spec['compiled']} with trainer='python' (same replay ratio)",
                                  stopped_at_env_steps=args.python_env_steps)
            save()
        if "zoo" in args.sections and spec.get("zoo"):
            rows = []
            for seed in args.seeds:
                rows.append(run_config(preset(agent, spec["zoo"], seed=seed)))
                print(agent, "zoo", {k: v for k, v in rows[-1].items() if k != "curve"}, flush=True)
            out["zoo"] = merge(out.get("zoo", {}), rows, spec["goal"], preset=spec["zoo"])
            save()
        if "sb3" in args.sections and agent == "sac":
            rows = []
            for seed in args.seeds:
                rows.append(sb3_seed(seed, args.sb3_python, every=compiled.eval_interval * compiled.num_envs))
                print("sb3 sac", {k: v for k, v in rows[-1].items() if k != "curve"}, flush=True)
            good = [r for r in rows if "error" not in r]
            out["sb3"] = merge(out.get("sb3", {}), good, spec["goal"],
                               settings="SB3 SAC, zoo Pendulum-v1: learning_rate 1e-3, SB3 defaults otherwise")
            if len(good) < len(rows):
                out["sb3"]["errors"] = [r for r in rows if "error" in r]
            save()
        if "profile" in args.sections:
            out["profile"] = profile(agent)
            print(agent, "profile", out["profile"], flush=True)
            save()
        # Ratios side by side, from whatever rows the sections hold now.
        ratios = {}
        c, p = out.get("compiled", {}), out.get("python", {})
        if c.get("env_steps_per_second_median") and p.get("env_steps_per_second_median"):
            ratios["compiled_over_python_env_steps_per_second"] = round(
                c["env_steps_per_second_median"] / p["env_steps_per_second_median"], 2)
        s = out.get("sb3", {})
        if c.get("env_steps_per_second_median") and s.get("env_steps_per_second_median"):
            ratios["compiled_over_sb3_env_steps_per_second"] = round(
                c["env_steps_per_second_median"] / s["env_steps_per_second_median"], 2)
        if p.get("env_steps_per_second_median") and s.get("env_steps_per_second_median"):
            ratios["python_over_sb3_env_steps_per_second"] = round(
                p["env_steps_per_second_median"] / s["env_steps_per_second_median"], 2)
        out["ratios"] = ratios
        print(agent, "ratios", ratios, flush=True)
        save()
    if "halfcheetah" in args.sections or "halfcheetah-brax" in args.sections:
        hc = results.setdefault("halfcheetah_sac", {})
        if "halfcheetah" in args.sections:
            hc["python"] = halfcheetah(args.seeds[0], args.halfcheetah_steps, 5000, args.halfcheetah_seconds,
                                       Path(args.halfcheetah_run_dir), hc.get("python", {}))
            print("halfcheetah", {k: v for k, v in hc["python"].items() if k != "curve"}, hc["python"].get("curve"),
                  flush=True)
            save()
        if "halfcheetah-brax" in args.sections:
            hc["compiled_brax"] = halfcheetah_brax(args.seeds[0], args.brax_iterations)
            print("halfcheetah brax", {k: v for k, v in hc["compiled_brax"].items() if k != "curve"}, flush=True)
        p, c = hc.get("python", {}), hc.get("compiled_brax", {})
        if p.get("env_steps_per_second_median") and c.get("env_steps_per_second"):
            hc["compiled_brax_over_python_mujoco_env_steps_per_second"] = round(
                c["env_steps_per_second"] / p["env_steps_per_second_median"], 2)
        save()
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
