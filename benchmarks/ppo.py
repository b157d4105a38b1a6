"""PPO on CartPole-v1: agentax's compiled trainer against a hand-written single-file JAX PPO, same run.

1. Speed (the `purejaxrl` preset: 4 envs x 128 steps, 4 epochs x 4 minibatches, 64x64 tanh, Adam 2.5e-4
   annealed, clip 0.2, GAE 0.95, 500k env steps): agentax's `CompiledTrainer` and `handwritten_ppo` below
   (one `jit`, `lax.scan` over the same steps, same hyperparameters, network and CartPole dynamics, no
   agentax imports, PureJaxRL's structure) for 1 seed and 8 vmapped seeds, interleaved: compile
   seconds, env steps/s (env.step calls, boundary steps included, as the baseline has none), greedy
   returns at the end.
2. The `default` preset, 5 vmapped seeds: iterations, env steps and seconds until each seed's greedy
   evaluation first reaches 475.
3. The `pendulum` preset, 5 vmapped seeds: greedy return (10 episodes) at the end.
4. `hlo`: both compiled programs' op counts per loop trip (collect step, minibatch update, epoch,
   iteration) and per iteration, from XLA's optimized program (`hlo_loop_profile`): what each side
   launches per step on a GPU, visible on a CPU.

    python benchmarks/ppo.py [--quick] [--out PATH] [--skip speed,default,pendulum,hlo] [--rounds N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

# XLA's CPU runtime deadlocked here (2 cores, jax 0.10) on the second call of the 8-seed vmapped
# baseline program, all threads waiting in Eigen's pool; single-threaded Eigen ops avoid it. Both
# sides run under the same flags (they do not affect GPUs).
if "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent))


# ----------------------------------------------------------------------------------------------------
# The hand-written baseline: nothing from agentax below this line until the next banner.
# ----------------------------------------------------------------------------------------------------
class CartPoleState(NamedTuple):
    physics: jax.Array
    t: jax.Array


def cartpole_reset(key):
    return CartPoleState(jax.random.uniform(key, (4,), jnp.float32, -0.05, 0.05), jnp.int32(0))


def cartpole_step(key, state: CartPoleState, action, max_steps=500):
    """Gymnasium's CartPole dynamics; auto-resets on done (the reset observation is returned)."""
    x, x_dot, theta, theta_dot = state.physics
    force = jnp.where(action == 1, 10.0, -10.0)
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    temp = (force + 0.05 * theta_dot**2 * sin) / 1.1
    theta_acc = (9.8 * sin - cos * temp) / (0.5 * (4.0 / 3.0 - 0.1 * cos**2 / 1.1))
    x_acc = temp - 0.05 * theta_acc * cos / 1.1
    physics = jnp.stack([x + 0.02 * x_dot, x_dot + 0.02 * x_acc, theta + 0.02 * theta_dot,
                         theta_dot + 0.02 * theta_acc])
    t = state.t + 1
    terminated = (jnp.abs(physics[0]) > 2.4) | (jnp.abs(physics[2]) > 12 * 2 * math.pi / 360)
    done = terminated | (t >= max_steps)
    reset = cartpole_reset(key)
    next_state = jax.tree.map(lambda a, b: jnp.where(done, a, b), reset, CartPoleState(physics, t))
    return next_state, next_state.physics, jnp.float32(1.0), done


class Dense(NamedTuple):
    kernel: jax.Array
    bias: jax.Array


def orthogonal_dense(key, n_in, n_out, scale):
    return Dense(jax.nn.initializers.orthogonal(scale)(key, (n_in, n_out)), jnp.zeros(n_out))


def init_params(key, obs_size=4, num_actions=2, hidden=64):
    k = jax.random.split(key, 6)
    actor = [orthogonal_dense(k[0], obs_size, hidden, math.sqrt(2)), orthogonal_dense(k[1], hidden, hidden, math.sqrt(2)),
             orthogonal_dense(k[2], hidden, num_actions, 0.01)]
    critic = [orthogonal_dense(k[3], obs_size, hidden, math.sqrt(2)), orthogonal_dense(k[4], hidden, hidden, math.sqrt(2)),
              orthogonal_dense(k[5], hidden, 1, 1.0)]
    return {"actor": actor, "critic": critic}


def mlp(layers, x):
    for layer in layers[:-1]:
        x = jnp.tanh(x @ layer.kernel + layer.bias)
    return x @ layers[-1].kernel + layers[-1].bias


def network(params, obs):
    return mlp(params["actor"], obs), mlp(params["critic"], obs)[..., 0]


def handwritten_ppo(num_envs=4, num_steps=128, num_epochs=4, num_minibatches=4, lr=2.5e-4, iterations=976,
                    gamma=0.99, gae_lambda=0.95, clip_eps=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5):
    """PureJaxRL's PPO (one `train(key)` to jit and vmap), advantages normalized over the whole batch."""
    batch = num_envs * num_steps
    minibatch = batch // num_minibatches
    schedule = lambda count: lr * (1.0 - (count // (num_minibatches * num_epochs)) / iterations)  # noqa: E731
    tx = optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(schedule, eps=1e-5))

    def train(key, params=None):
        key, net_key, env_key = jax.random.split(key, 3)
        if params is None:  # the benchmark passes `initial_params(key)`, made before the timed calls
            params = init_params(net_key)
        opt_state = tx.init(params)
        env_state = jax.vmap(cartpole_reset)(jax.random.split(env_key, num_envs))
        obs = env_state.physics

        def env_step(carry, _):
            params, env_state, obs, key = carry
            key, act_key, step_key = jax.random.split(key, 3)
            logits, value = network(params, obs)
            action = jax.random.categorical(act_key, logits)
            log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], -1)[:, 0]
            env_state, next_obs, reward, done = jax.vmap(cartpole_step)(jax.random.split(step_key, num_envs),
                                                                        env_state, action)
            return (params, env_state, next_obs, key), (obs, action, log_prob, value, reward, done)

        def loss_fn(params, mb):
            obs, action, old_log_prob, old_value, advantage, target = mb
            logits, value = network(params, obs)
            log_probs = jax.nn.log_softmax(logits)
            log_prob = jnp.take_along_axis(log_probs, action[:, None], -1)[:, 0]
            value_clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
            value_loss = 0.5 * jnp.maximum((value - target) ** 2, (value_clipped - target) ** 2).mean()
            ratio = jnp.exp(log_prob - old_log_prob)
            actor_loss = -jnp.minimum(ratio * advantage, jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps) * advantage).mean()
            entropy = -jnp.sum(jnp.exp(log_probs) * log_probs, -1).mean()
            return actor_loss + vf_coef * value_loss - ent_coef * entropy

        def update(carry, _):
            params, opt_state, env_state, obs, key = carry
            (params, env_state, obs, key), traj = jax.lax.scan(env_step, (params, env_state, obs, key), None,
                                                               num_steps)
            t_obs, action, log_prob, value, reward, done = traj
            _, last_value = network(params, obs)

            def gae_step(carry, x):
                gae, next_value = carry
                done, value, reward = x
                delta = reward + gamma * next_value * (1 - done) - value
                gae = delta + gamma * gae_lambda * (1 - done) * gae
                return (gae, value), gae

            _, advantages = jax.lax.scan(gae_step, (jnp.zeros_like(last_value), last_value), (done, value, reward),
                                         reverse=True)
            targets = advantages + value
            advantages = (advantages - advantages.mean()) / jnp.sqrt(advantages.var() + 1e-8)
            data = jax.tree.map(lambda x: x.reshape((batch,) + x.shape[2:]),
                                (t_obs, action, log_prob, value, advantages, targets))

            def epoch(carry, epoch_key):
                order = jax.random.permutation(epoch_key, batch)
                mbs = jax.tree.map(lambda x: x[order].reshape((num_minibatches, minibatch) + x.shape[1:]), data)

                def minibatch_step(carry, mb):
                    params, opt_state = carry
                    grads = jax.grad(loss_fn)(params, mb)
                    updates, opt_state = tx.update(grads, opt_state, params)
                    return (optax.apply_updates(params, updates), opt_state), None

                return jax.lax.scan(minibatch_step, carry, mbs)[0], None

            key, epoch_key = jax.random.split(key)
            (params, opt_state), _ = jax.lax.scan(epoch, (params, opt_state), jax.random.split(epoch_key, num_epochs))
            return (params, opt_state, env_state, obs, key), None

        (params, *_), _ = jax.lax.scan(update, (params, opt_state, env_state, obs, key), None, iterations)
        return params

    return train


def initial_params(key):
    """The parameters `train(key)` starts from."""
    return init_params(jax.random.split(key, 3)[1])


def greedy_return(params, key, episodes=10, max_steps=500):
    """Average undiscounted return of the argmax policy over `episodes` CartPole-v1 episodes."""
    state = jax.vmap(cartpole_reset)(jax.random.split(key, episodes))

    def step(carry, _):
        state, alive, total = carry
        logits, _ = network(params, state.physics)
        state, _, reward, done = jax.vmap(cartpole_step)(jax.random.split(jax.random.fold_in(key, state.t[0]),
                                                                          episodes), state, jnp.argmax(logits, -1))
        total = total + reward * alive
        return (state, alive & ~done, total), None

    (_, _, total), _ = jax.lax.scan(step, (state, jnp.ones(episodes, bool), jnp.zeros(episodes)), None, max_steps)
    return total.mean()


# ----------------------------------------------------------------------------------------------------
# The compiled programs side by side: what each loop body costs in HLO ops (no GPU needed)
# ----------------------------------------------------------------------------------------------------
# On a GPU every non-trivial HLO instruction of a loop body (a fusion, a copy, a dot, a sort, a
# dynamic-update-slice...) is at least one kernel launch per trip, so at CartPole's sizes a body's op
# count, not its arithmetic, sets its time. XLA's CPU program is a proxy: its fusion choices differ
# from the GPU's (and it rolls threefry's rounds into small loops, which a GPU unrolls: here each
# such RNG loop counts as one op), but an op one side has and the other lacks shows in both.
_FREE_OPS = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast", "after-all", "partition-id",
             "replica-id"}


def _hlo_computations(text: str) -> dict:
    """`{computation name: [(opcode, called computations, known trip count, output type, line)]}`."""
    import re

    comps, current = {}, None
    for line in text.splitlines():
        if not line.startswith(" ") and line.rstrip().endswith("{") and "(" in line:
            current = re.match(r"(?:ENTRY )?%?([\w.\-]+)", line).group(1)
            comps[current] = []
        elif line.startswith("}"):
            current = None
        elif current is not None and " = " in line:
            rest = line.split(" = ", 1)[1]
            out_type = rest
            if rest.startswith("("):  # a tuple type: skip to its closing parenthesis
                depth = 0
                for i, ch in enumerate(rest):
                    depth += (ch == "(") - (ch == ")")
                    if depth == 0:
                        break
                out_type, rest = rest[:i + 1], rest[i + 1:]
            else:
                out_type, rest = rest.split(" ", 1)
            op = re.match(r"\s*([a-z][\w\-]*)\(", rest)
            calls = re.findall(r"(?:calls|body|condition|to_apply|true_computation|false_computation)=%?([\w.\-]+)",
                               rest)
            calls += [c for group in re.findall(r"branch_computations=\{([^}]*)\}", rest)
                      for c in re.findall(r"%?([\w.\-]+)", group)]
            trip = re.search(r'"known_trip_count":\{"n":"(\d+)"', rest)
            comps[current].append((op.group(1) if op else "?", calls, int(trip.group(1)) if trip else None,
                                   out_type, line))
    return comps


def _is_rng_loop(instr) -> bool:
    """A rolled threefry loop (CPU): few trips over integer words only."""
    op, calls, trip, out_type, _ = instr
    import re

    kinds = set(re.findall(r"\b([a-z]+\d*)\[", out_type))
    return op == "while" and trip is not None and trip <= 5 and kinds <= {"u32", "s32", "pred"}


def _loop_body_profile(comps: dict, body: str) -> dict:
    """Op counts of one trip of `body`, calls inlined; nested loops counted apart (RNG loops as one op)."""
    counts: dict = {}

    def visit(name):
        for instr in comps.get(name, []):
            op, calls, trip, _, line = instr
            if op in _FREE_OPS:
                continue
            if op == "call":
                for callee in calls:
                    visit(callee)
                continue
            if op == "while":
                key = "rng_loops" if _is_rng_loop(instr) else "loops"
            elif op == "copy" and "copy(%constant" in line.replace(" ", ""):
                continue  # loop-invariant constants re-materialized per trip (CPU scheduling)
            else:
                key = op
            counts[key] = counts.get(key, 0) + 1

    visit(body)
    counts["ops"] = sum(v for k, v in counts.items() if k != "loops")
    return dict(sorted(counts.items()))


def _contains(comps: dict, name: str, target: str, seen=None) -> bool:
    seen = set() if seen is None else seen
    if name in seen:
        return False
    seen.add(name)
    for _, calls, *_ in comps.get(name, []):
        for callee in calls:
            if callee == target or _contains(comps, callee, target, seen):
                return True
    return False


def _has_dot(comps: dict, name: str) -> bool:
    return any(op in ("dot", "convolution") or (op == "fusion" and any(_has_dot(comps, c) for c in calls))
               for op, calls, *_ in comps.get(name, []))


def hlo_loop_profile(text: str, num_steps: int = 128, num_minibatches: int = 4, num_epochs: int = 4) -> dict:
    """Op counts per trip of a compiled PPO program's loops: the collect loop (one env step), the
    minibatch update, the epoch (around its minibatch loop) and the iteration (around its loops), and
    the ops one iteration runs in all (trips multiplied out)."""
    comps = _hlo_computations(text)
    loops = [(name, instr) for name, instrs in comps.items() for instr in instrs
             if instr[0] == "while" and not _is_rng_loop(instr)]
    def body(instr):
        import re

        return re.search(r"body=%?([\w.\-]+)", instr[4]).group(1)

    collect = [i for _, i in loops if i[2] == num_steps and _has_dot(comps, body(i))]
    minibatch = [i for _, i in loops if i[2] == num_minibatches and _has_dot(comps, body(i))
                 and not any(op == "while" and not _is_rng_loop(x) for x in comps[body(i)] for op in [x[0]])]
    if len(collect) != 1 or len(minibatch) != 1:
        raise RuntimeError(f"found {len(collect)} collect and {len(minibatch)} minibatch loops, expected one each")
    collect, minibatch = body(collect[0]), body(minibatch[0])
    epoch = [body(i) for _, i in loops if i[2] == num_epochs and _contains(comps, body(i), minibatch)]
    iteration = [body(i) for _, i in loops if _contains(comps, body(i), collect) and body(i) != collect]
    iteration = [b for b in iteration if not any(_contains(comps, b, other) for other in iteration if other != b)]
    result = {"collect_step": _loop_body_profile(comps, collect),
              "minibatch_update": _loop_body_profile(comps, minibatch),
              "epoch_outside_minibatches": _loop_body_profile(comps, epoch[0]),
              "iteration_outside_loops": _loop_body_profile(comps, iteration[0])}
    small = [_loop_body_profile(comps, body(i)) for _, i in loops
             if _contains(comps, iteration[0], body(i)) and body(i) not in (collect, minibatch, epoch[0])]
    result["other_loops_in_iteration"] = [{"trips": t, **p} for (t, p) in
                                          zip([i[2] for _, i in loops if _contains(comps, iteration[0], body(i))
                                               and body(i) not in (collect, minibatch, epoch[0])], small)]
    result["ops_per_iteration"] = (result["iteration_outside_loops"]["ops"]
                                   + num_steps * result["collect_step"]["ops"]
                                   + num_epochs * (result["epoch_outside_minibatches"]["ops"]
                                                   + num_minibatches * result["minibatch_update"]["ops"])
                                   + sum((p["trips"] or 1) * p["ops"] for p in result["other_loops_in_iteration"]))
    return result


# ----------------------------------------------------------------------------------------------------
# agentax
# ----------------------------------------------------------------------------------------------------
def agentax_trainer(preset: str, num_seeds: int, **overrides):
    from agentax.agents.ppo.config import PRESETS
    from agentax.train.compiled_trainer import CompiledTrainer

    config = dataclasses.replace(PRESETS[preset], **overrides)
    return CompiledTrainer(config, num_seeds)


def init_one_by_one(trainer, keys):
    """`trainer`'s initial state, each seed's made apart and stacked (as `CompiledTrainer.initialize`
    does): the vmapped orthogonal initializers' batched QR deadlocked XLA's CPU runtime on 2 cores
    (LAPACK's batch map, every thread waiting), one seed at a time did not."""
    states = [jax.block_until_ready(trainer._init(key)) for key in keys]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *states)


def compile_agentax(trainer):
    """Create the state and compile the run program (timed; evaluation is compiled apart, untimed)."""
    keys = jnp.stack([jax.random.PRNGKey(trainer.config.seed + i) for i in range(trainer.num_seeds)])
    start = time.perf_counter()
    trainer.state = init_one_by_one(trainer, keys)
    trainer._run = trainer._run.lower(trainer.state, np.int32(0)).compile()
    seconds = time.perf_counter() - start
    trainer._eval = trainer._eval.lower(trainer.state).compile()
    return seconds


def hlo(seed_counts=(1, 8), dump_dir: str | None = None) -> dict:
    """`hlo_loop_profile` of both programs (the hand-written one as the speed part compiles it, vmapped;
    agentax's `run` program), for each seed count; with `dump_dir`, their optimized HLO texts too."""
    out = {"note": f"ops per loop trip in XLA's optimized {jax.default_backend().upper()} program, by opcode "
                   "(a rolled threefry loop counts as one op); on a GPU each op is at least one kernel launch"}
    for seeds in seed_counts:
        keys = jnp.stack([jax.random.PRNGKey(i) for i in range(seeds)])
        params = jax.tree.map(lambda *xs: jnp.stack(xs), *[jax.jit(initial_params)(key) for key in keys])
        base_text = jax.jit(jax.vmap(handwritten_ppo(iterations=2))).lower(keys, params).compile().as_text()
        base = hlo_loop_profile(base_text)
        trainer = agentax_trainer("purejaxrl", seeds, iterations=2)
        state = init_one_by_one(trainer, keys)
        ours_text = trainer._run.lower(state, np.int32(0)).compile().as_text()
        ours = hlo_loop_profile(ours_text)
        if dump_dir:
            Path(dump_dir).mkdir(parents=True, exist_ok=True)
            (Path(dump_dir) / f"handwritten_{seeds}_seeds.hlo").write_text(base_text)
            (Path(dump_dir) / f"agentax_{seeds}_seeds.hlo").write_text(ours_text)
        out[f"{seeds}_seeds"] = {"handwritten": base, "agentax": ours}
        for part in ("collect_step", "minibatch_update", "epoch_outside_minibatches", "iteration_outside_loops"):
            print(f"{seeds} seed(s) {part}: handwritten {base[part]['ops']} ops {base[part]}; agentax "
                  f"{ours[part]['ops']} ops {ours[part]}", flush=True)
        print(f"{seeds} seed(s) ops per iteration: handwritten {base['ops_per_iteration']}, agentax "
              f"{ours['ops_per_iteration']} ({ours['ops_per_iteration'] / base['ops_per_iteration']:.2f}x)",
              flush=True)
    return out


def speed(quick: bool, rounds: int, seed_counts=(1, 8), results: dict | None = None,
          iterations: int | None = None) -> dict:
    iterations = iterations or (100 if quick else 976)
    steps = 4 * 128 * iterations
    results = dict(results or {})
    for seeds in seed_counts:
        train = handwritten_ppo(iterations=iterations)
        keys = jnp.stack([jax.random.PRNGKey(i) for i in range(seeds)])
        # Both sides initialize their networks before the timed calls: the orthogonal initializer's QR
        # inside the timed program (LAPACK on a CPU) now and then deadlocked XLA's CPU runtime on
        # 2 cores (every thread waiting, the batch map of the LAPACK kernel among them).
        initial = jax.tree.map(lambda *xs: jnp.stack(xs), *[jax.jit(initial_params)(key) for key in keys])
        start = time.perf_counter()
        base_fn = jax.jit(jax.vmap(train)).lower(keys, initial).compile()
        base_compile = time.perf_counter() - start
        trainer = agentax_trainer("purejaxrl", seeds, iterations=iterations)
        ax_compile = compile_agentax(trainer)
        ax_initial = trainer.state
        base_times, ax_times = [], []
        for _ in range(rounds):  # interleaved rounds; the median is reported
            start = time.perf_counter()
            params = jax.block_until_ready(base_fn(keys, initial))
            base_times.append(time.perf_counter() - start)
            trainer.state = ax_initial
            start = time.perf_counter()
            trainer.run(iterations)
            jax.block_until_ready(trainer.state)
            ax_times.append(time.perf_counter() - start)
        base_returns = [float(jax.jit(greedy_return)(jax.tree.map(lambda x: x[i], params), jax.random.PRNGKey(99)))
                        for i in range(seeds)]
        ax_returns = trainer.evaluate_now().tolist()
        counted = trainer.env_steps_now().tolist()
        row = {
            "handwritten": {"compile_s": base_compile, "seconds": float(np.median(base_times)),
                            "all_seconds": base_times, "env_steps_per_s": steps * seeds / np.median(base_times),
                            "greedy_return": base_returns},
            "agentax": {"compile_s": ax_compile, "seconds": float(np.median(ax_times)), "all_seconds": ax_times,
                        "env_steps_per_s": steps * seeds / np.median(ax_times), "greedy_return": ax_returns,
                        "counted_env_steps": counted},
        }
        row["ratio_agentax_over_handwritten_steps_per_s"] = (row["agentax"]["env_steps_per_s"]
                                                             / row["handwritten"]["env_steps_per_s"])
        row["ratio_per_round"] = [b / a for b, a in zip(base_times, ax_times)]
        row.update({"iterations": iterations, "env_steps_per_seed": steps, "rounds": rounds,
                    "statistic": "median of interleaved rounds"})
        results[f"{seeds}_seeds"] = row
        print(f"{seeds} seed(s): handwritten {row['handwritten']['env_steps_per_s']:.0f} steps/s "
              f"(compile {base_compile:.1f} s, return {np.mean(base_returns):.1f}); agentax "
              f"{row['agentax']['env_steps_per_s']:.0f} steps/s (compile {ax_compile:.1f} s, return "
              f"{np.mean(ax_returns):.1f}); ratio {row['ratio_agentax_over_handwritten_steps_per_s']:.2f}", flush=True)
    return results


def time_to_475(quick: bool, seeds: int = 5) -> dict:
    trainer = agentax_trainer("default", seeds)
    start = time.perf_counter()
    compile_s = compile_agentax(trainer)
    chunk, limit = 5, (60 if quick else trainer.config.iterations)
    first = [None] * seeds
    evals = []
    while trainer.iteration_count < limit:
        trainer.run(min(chunk, limit - trainer.iteration_count))
        returns = trainer.evaluate_now()
        now = time.perf_counter() - start
        evals.append(returns.tolist())
        for i, r in enumerate(returns):
            if first[i] is None and r >= 475:
                first[i] = {"iteration": trainer.iteration_count, "env_steps": int(trainer.env_steps_now()[i]),
                            "seconds_with_compile": now}
    result = {"seeds": seeds, "compile_s": compile_s, "eval_every": chunk, "first_reached_475": first,
              "reached": sum(f is not None for f in first), "final_greedy_return": evals[-1],
              "finished_at_475_or_above": sum(r >= 475 for r in evals[-1]),
              "seconds_with_compile": time.perf_counter() - start, "evaluations": evals,
              "config": dataclasses.asdict(trainer.config)}
    print(f"default: {result['reached']}/{seeds} seeds reached 475: {first}; final {evals[-1]}", flush=True)
    return result


def pendulum(quick: bool, seeds: int = 5) -> dict:
    trainer = agentax_trainer("pendulum", seeds, **({"iterations": 30} if quick else {}))
    start = time.perf_counter()
    compile_s = compile_agentax(trainer)
    curve = []
    step = max(trainer.config.iterations // 5, 1)
    while trainer.iteration_count < trainer.config.iterations:
        trainer.run(min(step, trainer.config.iterations - trainer.iteration_count))
        curve.append((trainer.iteration_count, trainer.evaluate_now().tolist()))
    final = curve[-1][1]
    result = {"seeds": seeds, "compile_s": compile_s, "seconds_with_compile": time.perf_counter() - start,
              "env_steps_per_seed": int(trainer.env_steps_now()[0]), "greedy_return_10_episodes": final,
              "above_minus_250": sum(r > -250 for r in final), "curve": curve,
              "config": dataclasses.asdict(trainer.config)}
    print(f"pendulum: final greedy returns {np.round(final, 1)}", flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (a couple of minutes, e.g. on a GPU)")
    parser.add_argument("--out", default=None, help="results file (default benchmarks/results/ppo.json)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: speed,default,pendulum,hlo")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds per side (the median "
                        "is reported)")
    parser.add_argument("--speed-seeds", default="1,8", help="seed counts of the speed part (e.g. 1, or 8)")
    parser.add_argument("--hlo-seeds", default="1,8", help="seed counts of the hlo part")
    parser.add_argument("--dump-hlo", default=None, help="hlo part: also write both optimized programs here")
    parser.add_argument("--speed-iterations", type=int, default=0,
                        help="iterations of the speed part (0: the preset's 976, 100 with --quick)")
    args = parser.parse_args()
    from common import RESULTS_DIR, machine

    skip = set(filter(None, args.skip.split(",")))
    out = Path(args.out) if args.out else RESULTS_DIR / "ppo.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    results.update({"machine": machine(), "quick": args.quick})
    if "hlo" not in skip:
        results["hlo_ops_purejaxrl_preset"] = hlo([int(n) for n in args.hlo_seeds.split(",")], args.dump_hlo)
    if "speed" not in skip:
        counts = [int(n) for n in args.speed_seeds.split(",")]
        results["speed_purejaxrl_preset"] = speed(args.quick, args.rounds, counts,
                                                  results.get("speed_purejaxrl_preset"), args.speed_iterations)
    if "default" not in skip:
        results["default_time_to_475"] = time_to_475(args.quick)
    if "pendulum" not in skip:
        results["pendulum"] = pendulum(args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
