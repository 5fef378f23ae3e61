"""Fixtures for the media engine tests: generated clips served over HTTP from a thread."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from media_helpers import (  # noqa: E402 - the helpers live beside this file
    BLUE,
    GREEN,
    RED,
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

TONES = {"red": 440.0, "green": 660.0, "blue": 880.0, "yellow": 1100.0, "pattern": 550.0}


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    colours = {"red": RED, "green": GREEN, "blue": BLUE, "yellow": YELLOW}
    for name, rgb in colours.items():
        write_clip(Clip(name, 160, 120, solid(160, 120, rgb), tone(TONES[name])), root / f"{name}.flv")
    pattern = bands_pattern(320, 240)
    write_clip(Clip("pattern", 320, 240, lambda _i: pattern, tone(TONES["pattern"])), root / "pattern.flv")
    write_clip(Clip("flash", 160, 120, flash_picture(160, 120), beep), root / "flash.flv")
    return root


@pytest.fixture(scope="session")
def server(clips_dir: Path) -> Iterator[StreamServer]:
    srv = StreamServer(clips_dir)
    yield srv
    srv.stop()
