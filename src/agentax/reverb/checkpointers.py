"""Checkpointers: where `Client.checkpoint()` writes a server's tables and `Server` restores them.

A checkpoint is a folder `<path>/<time>` holding `tables.npz` (every table's
`get_state()` arrays under `<table>/<field>`). It is written under a temporary
name and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np


class CheckpointerBase:
    def save(self, state: dict) -> str:
        raise NotImplementedError

    def load_latest(self) -> dict | None:
        raise NotImplementedError


class DefaultCheckpointer(CheckpointerBase):
    """Checkpoints under `path`; restores the newest one (or the one under `fallback_checkpoint_path`)."""

    def __init__(self, path: str, fallback_checkpoint_path: str | None = None):
        self.path = Path(path)
        self.fallback_checkpoint_path = fallback_checkpoint_path

    def save(self, state: dict) -> str:
        self.path.mkdir(parents=True, exist_ok=True)
        flat = {f"{table}/{field}": value for table, fields in state.items() for field, value in fields.items()}
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.path))
        with open(tmp / "tables.npz", "wb") as f:
            np.savez(f, **flat)
            f.flush()
            os.fsync(f.fileno())
        # seconds and nanoseconds of one clock reading (two readings across a second boundary named a later
        # checkpoint before an earlier one: latest_path then restored the older)
        seconds, nanos = divmod(time.time_ns(), 10**9)
        final = self.path / f"{time.strftime('%Y-%m-%dT%H-%M-%S', time.gmtime(seconds))}.{nanos:09d}"
        latest = self.latest_path()
        if latest is not None and latest.parent == self.path and final.name <= latest.name:
            final = self.path / f"{latest.name}+"  # the wall clock went back: still named after the latest
        os.rename(tmp, final)
        return str(final.resolve())

    def latest_path(self) -> Path | None:
        if self.path.is_dir():
            done = sorted(p for p in self.path.iterdir() if not p.name.startswith(".") and
                          (p / "tables.npz").is_file())
            if done:
                return done[-1]
        if self.fallback_checkpoint_path and (Path(self.fallback_checkpoint_path) / "tables.npz").is_file():
            return Path(self.fallback_checkpoint_path)
        return None

    def load_latest(self) -> dict | None:
        path = self.latest_path()
        if path is None:
            return None
        state: dict = {}
        with np.load(path / "tables.npz") as data:
            for key in data.files:
                table, field = key.rsplit("/", 1)
                state.setdefault(table, {})[field] = data[key]
        return state


def default_checkpointer() -> DefaultCheckpointer:
    return DefaultCheckpointer(tempfile.mkdtemp(prefix="agentax_reverb_checkpoints_"))
