"""What a training run leaves on disk: the returns plot, the video, metrics files."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Sequence


from agentax.environments.py_environment import PyEnvironment
from agentax.policies.py_policy import PyPolicy


def plot_returns(env_steps: Sequence[int], returns: Sequence[float], path: str | Path,
                 title: str = "Average return", xlabel: str = "Environment steps") -> Path:
    """Save a PNG of average return against environment steps."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(list(env_steps), list(returns), marker="o")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Average Return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def record_video(environment: PyEnvironment, policy: PyPolicy, path: str | Path, num_episodes: int = 3,
                 fps: int = 30, max_steps_per_episode: int = 10_000) -> int:
    """Write an MP4 of `num_episodes` episodes of `policy`; frames from `environment.render()`.

    Returns the number of frames written.
    """
    import warnings

    import imageio.v2 as imageio

    path = Path(path)
    tmp = path.with_suffix(".partial.mp4")
    frames = 0
    with warnings.catch_warnings():
        # ffmpeg runs as a subprocess (fork + exec): JAX's fork warning does not apply.
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        video = imageio.get_writer(tmp, fps=fps, macro_block_size=8)
        try:
            for _ in range(num_episodes):
                time_step = environment.reset()
                policy_state = policy.get_initial_state(environment.batch_size)
                video.append_data(environment.render())
                frames += 1
                for _ in range(max_steps_per_episode):
                    if time_step.is_last():
                        break
                    action_step = policy.action(time_step, policy_state)
                    policy_state = action_step.state
                    time_step = environment.step(action_step.action)
                    video.append_data(environment.render())
                    frames += 1
        except BaseException:
            video.close()
            tmp.unlink(missing_ok=True)
            raise
        video.close()
    tmp.replace(path)  # never leave a half-written video under the final name
    return frames


class MetricsWriter:
    """Appends rows to `metrics.jsonl` (each row one `write` of one line, so a run killed at
    any moment leaves a parseable file) and to TensorBoard events under `tensorboard/`."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = True):
        self.path = Path(run_dir) / "metrics.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter
            self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))

    def write(self, row: dict) -> None:
        row = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        os.write(self._fd, (json.dumps(row) + "\n").encode())
        if self._tb is not None:
            for key, value in row.items():
                if key not in ("iteration", "train_step") and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, row.get("env_steps", row.get("iteration", 0)))

    def close(self) -> None:
        os.close(self._fd)
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: str | Path, up_to_iteration: int | None = None) -> list[dict]:
    """The rows of a `metrics.jsonl` (a torn last line is dropped), up to an iteration."""
    rows = []
    path = Path(path)
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if up_to_iteration is None or row.get("iteration", 0) <= up_to_iteration:
            rows.append(row)
    return rows


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename (never half-written)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
