"""Child process: run one cloudrec recording for a given media duration and print its own CPU use."""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from typing import Any

from cloudrec.media.pipeline import run_recording
from cloudrec.recorder.spec import (
    AudioRef,
    Command,
    CropMode,
    FileType,
    Finish,
    Finished,
    Layout,
    MediaType,
    Progress,
    SegmentClosed,
    Started,
    StreamInfo,
    TaskSpec,
    VideoTile,
)


def build_spec(job: dict[str, Any]) -> TaskSpec:
    """A TaskSpec with a manual `grid` x `grid` layout of 1:1 tiles over `urls` (all audio mixed)."""
    urls: list[str] = job["urls"]
    grid: int = job["grid"]
    tw, th = job["tile"]
    streams = tuple(
        StreamInfo(f"u{i}", MediaType.CAMERA, "cam", url, join_seq=i) for i, url in enumerate(urls)
    )
    audio_only = job["file_type"] == "mp3"
    tiles = (
        ()
        if audio_only
        else tuple(
            VideoTile(
                f"u{i}", "cam", MediaType.CAMERA, (i % grid) * tw, (i // grid) * th, tw, th, CropMode.STRETCH
            )
            for i in range(len(urls))
        )
    )
    audio = tuple(AudioRef(f"u{i}", "cam", MediaType.CAMERA) for i in range(len(urls)))
    return TaskSpec(
        record_id="bench",
        app_id="bench",
        group_id="bench",
        file_name="bench",
        file_type=FileType.MP3 if audio_only else FileType.MP4,
        segment_seconds=3600.0,
        width=grid * tw,
        height=grid * th,
        frame_rate=job["fps"],
        timeout_seconds=120.0,
        work_dir=job["work_dir"],
        layout=Layout(video=tiles, audio=audio),
        streams=streams,
        x264_preset=job["preset"],
        x264_crf=job["crf"],
        open_timeout_seconds=10.0,
        read_timeout_seconds=10.0,
    )


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    job = json.loads(sys.argv[1])
    seconds: float = job["seconds"]
    events: list[Progress] = []
    started: list[float] = []

    def emit(event: Progress) -> None:
        if isinstance(event, Started):
            started.append(time.monotonic())
        events.append(event)

    def commands(timeout: float) -> Command | None:
        if started and time.monotonic() - started[0] >= seconds:
            return Finish()
        time.sleep(timeout)
        return None

    spec = build_spec(job)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    w0 = time.monotonic()
    run_recording(spec, commands, emit)
    wall = time.monotonic() - w0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    finished = next((e for e in events if isinstance(e, Finished)), None)
    result = {
        "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
        "wall": wall,
        "startup": (started[0] - w0) if started else None,
        "media_seconds": finished.stats.media_duration if finished else 0.0,
        "segments": [e.segment.path for e in events if isinstance(e, SegmentClosed)],
        "ok": finished is not None,
        "events": [type(e).__name__ for e in events if type(e).__name__ != "Stats"],
    }
    print(json.dumps(result))
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
