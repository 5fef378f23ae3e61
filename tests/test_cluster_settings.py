"""Cluster mode without a cluster: the cost table, the refusal of settings it cannot run on, the node
commands' `ray start` line, and the embedded default importing no Ray."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudrec.cli import app
from cloudrec.cluster import cost
from cloudrec.cluster.node import HEALTH_CHECK_CONFIG, start_command
from cloudrec.cluster.settings import ClusterSettingsError
from cloudrec.config import Settings
from cloudrec.recorder.spec import FileType, RecordMode, TaskSpec
from cloudrec.server import check_cluster_settings

SPEC = TaskSpec(
    record_id="r",
    app_id="a",
    group_id="g",
    file_name="f",
    file_type=FileType.MP4,
    segment_seconds=60,
    width=1280,
    height=720,
    frame_rate=30,
    timeout_seconds=60,
    work_dir="/tmp",
)


@pytest.mark.parametrize(
    ("changes", "units"),
    [
        ({"width": 160, "height": 90, "frame_rate": 15}, 2),
        ({"width": 640, "height": 360, "frame_rate": 30}, 3),
        ({}, 6),  # 720p30: measured 0.43-0.51 CPU
        ({"width": 1920, "height": 1080}, 10),  # measured 0.97 CPU
        ({"width": 3840, "height": 2160}, 35),  # beyond the table: the fit
        ({"file_type": FileType.MP3}, 1),
        ({"record_mode": RecordMode.PER_STREAM}, 1),
    ],
)
def test_a_recording_costs_what_the_benchmark_measured(changes: dict[str, object], units: int) -> None:
    assert cost.units(replace(SPEC, **changes)) == units  # type: ignore[arg-type]


def test_a_node_offers_six_units_per_core() -> None:
    assert cost.default_capacity(2) == 12  # two 720p30 recordings, as the density scenario carried
    assert cost.default_capacity(16) == 96


def test_cluster_mode_refuses_sqlite_and_local_files(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, recorder_host="ray")
    with pytest.raises(ClusterSettingsError) as err:
        check_cluster_settings(settings)
    assert "CLOUDREC_STORAGE must be s3" in str(err.value)
    assert "CLOUDREC_DATABASE_URL must be a PostgreSQL URL" in str(err.value)
    check_cluster_settings(Settings(data_dir=tmp_path))  # the embedded default: nothing to refuse


def test_serve_in_cluster_mode_on_sqlite_says_why_it_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDREC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLOUDREC_RECORDER_HOST", "ray")
    monkeypatch.setenv("CLOUDREC_STORAGE", "s3")
    result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2, result.output
    assert "CLOUDREC_DATABASE_URL must be a PostgreSQL URL" in result.output
    assert "STORAGE" not in result.output  # s3 is right


def test_node_start_runs_ray_with_the_slot_resource_and_health_checks() -> None:
    head = start_command(head=True, port=6380)
    assert head[:2] == ["ray", "start"] and "--head" in head and "--block" in head
    assert json.loads(head[head.index("--system-config") + 1]) == HEALTH_CHECK_CONFIG
    assert "--resources" not in head  # the head runs no recordings unless given a capacity
    node = start_command(head=False, address="10.0.0.1:6380", capacity=20)
    assert node[node.index("--address") + 1] == "10.0.0.1:6380"
    assert json.loads(node[node.index("--resources") + 1]) == {cost.SLOT_RESOURCE: 20}
    result = CliRunner().invoke(app, ["node", "start", "--address", "10.0.0.1:6380", "--dry-run"])
    assert result.exit_code == 0 and '"cloudrec_slot"' in result.output, result.output
    assert CliRunner().invoke(app, ["node", "start", "--dry-run"]).exit_code == 2  # --head or --address


def test_the_embedded_default_imports_no_ray() -> None:
    code = (
        "import sys, cloudrec.cli, cloudrec.server, cloudrec.api.app, cloudrec.recorder.local; "
        "print('ray' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_cluster_mode_says_when_the_ray_head_cannot_be_reached() -> None:
    pytest.importorskip("ray", reason="cluster mode needs Ray: pip install 'cloudrec[cluster]'")
    from cloudrec.cluster.host import _check_reachable

    with pytest.raises(ClusterSettingsError, match=r"cannot reach the Ray head at 127\.0\.0\.1:1 "):
        _check_reachable("127.0.0.1:1")
    _check_reachable("auto")  # Ray finds it itself
