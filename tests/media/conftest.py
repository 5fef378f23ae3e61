"""Fixtures for the media engine tests: generated clips served over HTTP from a thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from media.media_helpers import (
    BLUE,
    GREEN,
    RED,
    TONES,
    YELLOW,
    Clip,
    StreamServer,
    bands_pattern,
    beep,
    flash_picture,
    solid,
    tone,
    write_clip,
)


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    colours = {"red": RED, "green": GREEN, "blue": BLUE, "yellow": YELLOW}
    for name, rgb in colours.items():
        write_clip(Clip(name, 160, 120, solid(160, 120, rgb), tone(TONES[name])), root / f"{name}.flv")
    pattern = bands_pattern(320, 240)
    write_clip(Clip("pattern", 320, 240, lambda _i: pattern, tone(TONES["pattern"])), root / "pattern.flv")
    write_clip(Clip("flash", 160, 120, flash_picture(160, 120), beep), root / "flash.flv")
    write_clip(
        Clip("short", 160, 120, solid(160, 120, RED), tone(TONES["red"])), root / "short.flv", seconds=1.0
    )
    return root


@pytest.fixture(scope="session")
def server(clips_dir: Path) -> Iterator[StreamServer]:
    srv = StreamServer(clips_dir)
    yield srv
    srv.stop()
