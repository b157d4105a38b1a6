"""What a training run leaves on disk: the returns plot, the video, metrics files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from agentax.environments.py_environment import PyEnvironment
from agentax.policies.py_policy import PyPolicy


def plot_returns(iterations: Sequence[int], returns: Sequence[float], path: str | Path,
                 title: str = "Average return") -> Path:
    """Save a PNG of average return against training iteration."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(list(iterations), list(returns), marker="o")
    ax.set_xlabel("Iterations")
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
    """Appends rows to `metrics.jsonl` and `metrics.csv` (and TensorBoard events when available)."""

    def __init__(self, run_dir: str | Path, columns: Sequence[str], tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.columns = list(columns)
        self._jsonl = open(self.run_dir / "metrics.jsonl", "w")
        self._csv_file = open(self.run_dir / "metrics.csv", "w", newline="")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=self.columns)
        self._csv.writeheader()
        self._tb = None
        if tensorboard:
            try:
                from tensorboardX import SummaryWriter
                self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))
            except ImportError:
                self._tb = None

    def write(self, row: dict) -> None:
        row = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v) for k, v in row.items()}
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()
        self._csv.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in self.columns})
        self._csv_file.flush()
        if self._tb is not None:
            for key, value in row.items():
                if key != "iteration" and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, row["iteration"])

    def close(self) -> None:
        self._jsonl.close()
        self._csv_file.close()
        if self._tb is not None:
            self._tb.close()
