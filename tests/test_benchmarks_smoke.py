"""Smoke test of the benchmarks: `python -m benchmarks --quick --scenarios 2` runs and writes its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_x264_floor(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no ffmpeg CLI needed
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--scenarios", "2", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "x264 floor" in done.stdout
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["machine"]["cores"] >= 1
    assert report["machine"]["ffmpeg_cli"] == "not installed"
    (row,) = report["rows"]
    assert row["engine"] == "libx264 (PyAV)"
    assert 0 < row["value"] < 20
    assert (tmp_path / "results.md").read_text().startswith("- **date**")
