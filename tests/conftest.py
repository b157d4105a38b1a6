"""Test-session setup: compiled XLA programs are kept on disk between runs of the suite, here and in the
CLI subprocesses the tests start (they inherit `AGENTAX_CACHE_DIR`), so a second run skips most of its
compile time. The directory is AGENTAX_TEST_CACHE_DIR (default ~/.cache/agentax/xla-tests, apart from a
user's own runs' cache); set it empty to compile everything afresh."""

import os
from pathlib import Path

import jax

CACHE_DIR = os.environ.get("AGENTAX_TEST_CACHE_DIR", str(Path.home() / ".cache" / "agentax" / "xla-tests"))
os.environ["AGENTAX_CACHE_DIR"] = CACHE_DIR  # what cli.enable_compilation_cache and subprocesses read
if CACHE_DIR:
    jax.config.update("jax_compilation_cache_dir", CACHE_DIR)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
