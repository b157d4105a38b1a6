"""The reference tutorials, ported by renames, run end to end (short)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(tmp_path, *args, timeout=600):
    env = {"AGENTAX_CACHE_DIR": os.environ["AGENTAX_CACHE_DIR"], "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_drivers_tutorial_example_runs(tmp_path):
    out = run(tmp_path, str(ROOT / "examples" / "drivers_tutorial.py"))
    assert "Average Return:" in out and out.count("Number of Episodes:  2") == 2
    assert out.count("Number of Episodes:  4") == 2


def test_reinforce_tutorial_port_runs(tmp_path):
    out = run(tmp_path, str(ROOT / "examples" / "reinforce_tutorial.py"), "--iterations", "50")
    lines = [line for line in out.splitlines() if line.startswith("step = ")]
    assert lines[0].startswith("step = 25: loss = ") and lines[-1].startswith("step = 50: Average Return = ")
    assert float(lines[-1].split("= ")[-1]) > 0
    assert (tmp_path / "reinforce_returns.png").stat().st_size > 1000
    assert (tmp_path / "imageio.mp4").stat().st_size > 1000


def test_dqn_tutorial_port_runs(tmp_path):
    out = run(tmp_path, str(ROOT / "examples" / "dqn_tutorial.py"), "--iterations", "1000")
    lines = [line for line in out.splitlines() if line.startswith("step = ")]
    assert [line.split(":")[0] for line in lines] == [f"step = {s}" for s in (200, 400, 600, 800, 1000, 1000)]
    assert lines[0].startswith("step = 200: loss = ") and lines[-1].startswith("step = 1000: Average Return = ")
    assert 0 < float(lines[-1].split("= ")[-1]) <= 200
    assert (tmp_path / "dqn_returns.png").stat().st_size > 1000
    for video in ("trained-agent.mp4", "random-agent.mp4"):
        assert (tmp_path / video).stat().st_size > 1000


def test_c51_tutorial_port_runs(tmp_path):
    out = run(tmp_path, str(ROOT / "examples" / "c51_tutorial.py"), "--iterations", "1000")
    lines = [line for line in out.splitlines() if line.startswith("step = ")]
    assert [line.split(":")[0] for line in lines] == [f"step = {s}" for s in (200, 400, 600, 800, 1000, 1000)]
    assert lines[-1].startswith("step = 1000: Average Return = ") and 0 < float(lines[-1].split("= ")[-1]) <= 500
    assert (tmp_path / "c51_returns.png").stat().st_size > 1000 and (tmp_path / "imageio.mp4").stat().st_size > 1000
