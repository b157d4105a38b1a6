"""A killed distributed learner resumes from its checkpoint (issue 14): `agentax train dqn --distributed` in a
subprocess (its own local Ray cluster, one collector) is SIGKILLed after its first checkpoint past iteration 0;
the same command with `--resume` continues from that checkpoint's iteration, with that checkpoint's replay
contents, and finishes. Every wait has a timeout."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one Ray cluster at a time under pytest-xdist

TIMEOUT = 150
CHECKPOINT_EVERY = 50


def command(run_dir: Path, iterations: int, *extra: str) -> list:
    return [str(Path(sys.executable).parent / "agentax"), "train", "dqn", "--preset", "tutorial", "--distributed",
            "--num-collectors", "1", "--run-dir", str(run_dir), "--iterations", str(iterations),
            "--checkpoint-interval", str(CHECKPOINT_EVERY), "--eval-interval", "1000", "--log-interval", "1000",
            "--initial-collect-steps", "40", "--replay-capacity", "20000", "--sample-batch-size", "8",
            "--fc-layer-params", "8", "--num-eval-episodes", "1", "--video-episodes", "0", *extra]


def checkpoint_steps(run_dir: Path) -> list[int]:
    """Complete checkpoints (orbax renames a finished one to its step; partial ones carry a suffix)."""
    root = run_dir / "checkpoints"
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit()) if root.is_dir() else []


def replay_items(run_dir: Path, step: int) -> list:
    """The observations of every item of the 'episodes' table in checkpoint `step`, in insertion order."""
    import jax
    import orbax.checkpoint as ocp

    from agentax.utils.common import _unpack

    manager = ocp.CheckpointManager((run_dir / "checkpoints").absolute())
    try:
        restored = manager.restore(step, args=ocp.args.Composite(varying_replay=ocp.args.StandardRestore()))
    finally:
        manager.close()
    state = _unpack(restored["varying_replay"]["npz"])["episodes"]
    treedef = pickle.loads(np.asarray(state["structure"]).tobytes())
    columns = [state[f"column_{i}"] for i in range(treedef.num_leaves)]
    items, offset = [], 0
    for length in state["lengths"].tolist():
        steps = state["steps"][offset:offset + length]
        offset += length
        items.append(np.asarray(jax.tree.unflatten(treedef, [c[steps] for c in columns]).observation))
    return items


def kill_group(proc: subprocess.Popen) -> None:
    """The process (SIGKILL), then whatever of its Ray cluster is left in its session."""
    for kill in (lambda: os.kill(proc.pid, signal.SIGKILL), lambda: os.killpg(proc.pid, signal.SIGKILL)):
        try:
            kill()
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def test_killed_distributed_learner_resumes_from_its_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "RAY_DEDUP_LOGS": "0"}
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(command(run_dir, 100_000), stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not [s for s in checkpoint_steps(run_dir) if s > 0]:
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"no checkpoint after {TIMEOUT} s"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)  # the learner, mid-run, with no chance to clean up
        proc.wait(timeout=30)
    finally:
        kill_group(proc)
        log.close()
    assert proc.returncode == -signal.SIGKILL
    step = checkpoint_steps(run_dir)[-1]
    assert step >= CHECKPOINT_EVERY and step % CHECKPOINT_EVERY == 0
    before = replay_items(run_dir, step)
    assert len(before) >= (40 + step) // 2  # the initial collection and about an item per env step since

    # the same command with --resume (and a nearer end): continues from `step` with its replay, and finishes;
    # far enough that it must collect again (the killed run's collectors were up to a few hundred steps ahead)
    target = step + 400
    out = subprocess.run(command(run_dir, target, "--resume"), capture_output=True, text=True, env=env,
                         timeout=TIMEOUT, start_new_session=True, cwd=tmp_path)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert f"resuming {run_dir} from iteration {step}" in out.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["iterations"] == target and summary["train_steps"] == target
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [0, target]  # the first evaluation, then the resumed run's last
    after = replay_items(run_dir, target)
    assert len(after) > len(before)
    for a, b in zip(before, after[:len(before)]):  # the checkpoint's replay, then what the resumed run added
        np.testing.assert_array_equal(a, b)
