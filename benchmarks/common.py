"""Shared helpers for the benchmark scripts: timing, machine info, writing results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    import jax
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "jax": jax.__version__, "jax_backend": jax.default_backend(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def best_rate(fn, units: int, repeats: int = 5) -> float:
    """Units per second of `fn()` (which does `units` of work), best of `repeats`."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return units / best


def write_results(name: str, results: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return path
