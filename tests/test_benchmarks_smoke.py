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


def test_quick_run_of_every_scenario(tmp_path: Path) -> None:
    """`--quick` runs each scenario briefly against real recordings and a real server (no FFmpeg CLI)."""
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--scenarios",
            "1,3,4,4b,5,6,7",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())
    rows = {(r["scenario"].split(":")[0], r["engine"], r["unit"]): r["value"] for r in report["rows"]}
    assert 0 < rows[("1", "cloudrec", "CPU-s / output s")] < 20
    assert rows[("3", "cloudrec", "recordings in real time")] >= 0
    assert 0 < rows[("4b", "cloudrec", "CPU-s / output s")] < 20
    assert 0 < rows[("5", "cloudrec serve", "s (finish -> status 6)")] < 30
    assert any(key[0] == "6" and value > 0 for key, value in rows.items())
    starts = [r["value"] for r in report["rows"] if r["scenario"].startswith("7:")]
    assert len(starts) == 3 and all(0 <= v < 1.5 for v in starts), starts
    assert not [n for n in report["notes"] if "FAILED" in n]
