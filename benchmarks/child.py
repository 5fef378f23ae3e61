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


def _tiles(job: dict[str, Any], types: list[MediaType]) -> tuple[tuple[VideoTile, ...], int, int]:
    """The video tiles and the canvas size of a job: explicit `tiles` ([input, x, y, w, h, crop mode],
    drawn in order) on `canvas` ([w, h]), else a `grid` x `grid` of 1:1 `tile`s over all inputs."""
    if "tiles" in job:
        width, height = job["canvas"]
        tiles = tuple(
            VideoTile(f"u{i}", "cam", types[i], x, y, w, h, CropMode(crop))
            for i, x, y, w, h, crop in job["tiles"]
        )
        return tiles, width, height
    grid: int = job["grid"]
    tw, th = job["tile"]
    tiles = tuple(
        VideoTile(f"u{i}", "cam", types[i], (i % grid) * tw, (i // grid) * th, tw, th, CropMode.STRETCH)
        for i in range(len(job["urls"]))
    )
    return tiles, grid * tw, grid * th


def build_spec(job: dict[str, Any]) -> TaskSpec:
    """A TaskSpec with a manual layout over `urls`: explicit `tiles` on a `canvas`, or a `grid` x `grid`
    of 1:1 tiles; the audio of the inputs listed in `audio` (default all) mixed. `media_types` (default
    all camera) gives each input's `MediaType` value."""
    urls: list[str] = job["urls"]
    types = [MediaType(t) for t in job.get("media_types", [MediaType.CAMERA] * len(urls))]
    streams = tuple(StreamInfo(f"u{i}", types[i], "cam", url, join_seq=i) for i, url in enumerate(urls))
    audio_only = job["file_type"] == "mp3"
    tiles, width, height = _tiles(job, types)
    if job.get("record_mode", 0) == 1:  # per-stream: each input's camera and microphone, no layout
        mics = tuple(
            StreamInfo(f"u{i}", MediaType.AUDIO, "cam", url, join_seq=i) for i, url in enumerate(urls)
        )
        streams, tiles = streams + mics, ()
    mixed: list[int] = job.get("audio", list(range(len(urls))))
    audio = tuple(AudioRef(f"u{i}", "cam", types[i]) for i in mixed)
    return TaskSpec(
        record_id="bench",
        app_id="bench",
        group_id="bench",
        file_name="bench",
        file_type=FileType.MP3 if audio_only else FileType.MP4,
        segment_seconds=job.get("segment_seconds", 3600.0),
        width=width,
        height=height,
        frame_rate=job["fps"],
        timeout_seconds=120.0,
        work_dir=job["work_dir"],
        layout=None
        if job.get("record_mode", 0) == 1
        else Layout(video=() if audio_only else tiles, audio=audio),
        streams=streams,
        x264_preset=job["preset"],
        x264_crf=job["crf"],
        variable_frame_rate=job.get("vfr", False),
        open_timeout_seconds=10.0,
        read_timeout_seconds=10.0,
        record_mode=job.get("record_mode", 0),
    )


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    job = json.loads(sys.argv[1])
    seconds: float = job["seconds"]
    events: list[Progress] = []
    started: list[float] = []
    lags: list[float] = []
    media_end = 0.0
    stream_ends: dict[str, float] = {}  # per-stream: where each stream's last file ends on the timeline

    def emit(event: Progress) -> None:
        nonlocal media_end
        if isinstance(event, Started):
            started.append(time.monotonic())
        elif isinstance(event, SegmentClosed) and event.segment.user_id is not None:  # per-stream
            seg, user = event.segment, event.segment.user_id
            end = (seg.start_offset or 0.0) + seg.duration
            stream_ends[user] = max(end, stream_ends.get(user, end))
        elif isinstance(event, SegmentClosed) and started:
            media_end += event.segment.duration
            lags.append(time.monotonic() - (started[0] + media_end))
        events.append(event)

    finish_sent: list[bool] = []

    def commands(timeout: float) -> Command | None:
        # Finish once: a recorder takes each Finish as the end "now" (a repeated one moves the end on)
        if started and not finish_sent and time.monotonic() - started[0] >= seconds:
            finish_sent.append(True)
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
        # output ticks left without a picture because the recorder fell behind (None: not reported)
        "skipped": finished.stats.skipped_frames if finished else None,
        # per closed segment: seconds from the wall time its media ended to its SegmentClosed event
        "segment_lags": lags,
        "segments": [e.segment.path for e in events if isinstance(e, SegmentClosed)],
        "stream_ends": stream_ends,
        "ok": finished is not None,
        "maxrss_mib": r1.ru_maxrss / 1024,  # the recorder process's peak resident memory (Linux: KiB)
        "events": [type(e).__name__ for e in events if type(e).__name__ != "Stats"],
    }
    print(json.dumps(result))
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
