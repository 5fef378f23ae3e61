"""The note beside a per-stream file (its stream, task-wide index and start), for a successor recorder."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass

# `<file>.stream.json`: no segment name matches it (see `media.probe.SEGMENT_RE`).
NOTE_SUFFIX = ".stream.json"


@dataclass(frozen=True)
class StreamNote:
    """What a per-stream file's name cannot say exactly (its ids are sanitised, its NNNN counts only
    that stream's files): written before the file is created, and kept (the file itself moves to
    storage once reported), so that a successor recorder numbers each stream's files on after it;
    removed with a file that holds no media (its number is free again)."""

    index: int  # task-wide
    user_id: str
    media_type: int
    media_id: str
    start_time: float  # Unix time of its first packet, as estimated when it opened
    start_offset: float  # seconds on the task's timeline


def note_path(media_path: str) -> str:
    return media_path + NOTE_SUFFIX


def write_note(media_path: str, note: StreamNote) -> None:
    """Atomically: a salvage finds either the whole note or none."""
    tmp = note_path(media_path) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(asdict(note), f)
    os.replace(tmp, note_path(media_path))


def read_note(media_path: str) -> StreamNote | None:
    try:
        with open(note_path(media_path), encoding="utf-8") as f:
            data = json.load(f)
        return StreamNote(
            index=int(data["index"]),
            user_id=str(data["user_id"]),
            media_type=int(data["media_type"]),
            media_id=str(data["media_id"]),
            start_time=float(data["start_time"]),
            start_offset=float(data["start_offset"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def drop_note(media_path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(note_path(media_path))
