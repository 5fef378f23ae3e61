"""Conversions between stored task rows / JSON layouts and the recorder's `TaskSpec` dataclasses."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cloudrec.config import Settings
from cloudrec.db.models import GroupStream, Task
from cloudrec.recorder.spec import (
    AudioRef,
    AutoSpec,
    Caption,
    CropMode,
    FileType,
    Layout,
    MediaType,
    SegmentInfo,
    StreamInfo,
    TaskSpec,
    VideoTile,
)


def layout_from_json(data: dict[str, Any]) -> Layout:
    return Layout(
        video=tuple(
            VideoTile(
                user_id=str(v["user_id"]),
                media_id=str(v["media_id"]),
                media_type=MediaType(int(v["media_type"])),
                x=int(v["x"]),
                y=int(v["y"]),
                w=int(v["w"]),
                h=int(v["h"]),
                crop_mode=CropMode(int(v["crop_mode"])),
            )
            for v in data.get("video", [])
        ),
        audio=tuple(
            AudioRef(user_id=str(a["user_id"]), media_id=str(a["media_id"]), media_type=MediaType.AUDIO)
            for a in data.get("audio", [])
        ),
    )


def auto_from_json(data: dict[str, Any]) -> AutoSpec:
    user_id = data.get("user_id")
    return AutoSpec(
        type=int(data.get("type", 1)),
        user_id=None if user_id in (None, "") else str(user_id),
        media_type=int(data.get("media_type", 2)),
        media_count=int(data.get("media_count", 9)),
        crop_mode=CropMode(int(data.get("crop_mode", 2))),
        caption=bool(data.get("caption", False)),
    )


def captions_from_json(data: list[dict[str, Any]]) -> tuple[Caption, ...]:
    return tuple(
        Caption(
            content=str(c["content"]),
            color=str(c["color"]),
            x=int(c["x"]),
            y=int(c["y"]),
            size=int(c.get("size", 24)),
        )
        for c in data
    )


def stream_infos(rows: Iterable[GroupStream], join_order: dict[str, int]) -> tuple[StreamInfo, ...]:
    """Streams of a group, ordered by the join order of their users, then by publish order."""
    infos = [
        StreamInfo(
            user_id=r.user_id,
            media_type=MediaType(r.media_type),
            media_id=r.media_id,
            url=r.url,
            join_seq=join_order.get(r.user_id, 1 << 30),
        )
        for r in sorted(rows, key=lambda r: r.id)
    ]
    infos.sort(key=lambda s: s.join_seq)
    return tuple(infos)


def build_spec(task: Task, streams: tuple[StreamInfo, ...], settings: Settings) -> TaskSpec:
    work_dir = Path(settings.work_dir) / task.record_id
    return TaskSpec(
        record_id=task.record_id,
        app_id=task.app_id,
        group_id=task.group_id,
        file_name=task.file_name,
        file_type=FileType(task.file_type),
        segment_seconds=task.file_duration * settings.time_unit_s,
        width=task.width,
        height=task.height,
        frame_rate=task.frame_rate,
        timeout_seconds=task.timeout * settings.timeout_scale,
        work_dir=str(work_dir.resolve()),
        auto=auto_from_json(task.auto) if task.auto is not None else None,
        layout=layout_from_json(task.layout) if task.layout is not None else None,
        streams=streams,
        captions=captions_from_json(task.captions) if task.captions else (),
        paused=task.paused,
        x264_preset=settings.x264_preset,
        x264_crf=settings.x264_crf,
        variable_frame_rate=settings.variable_frame_rate,
        audio_bitrate=settings.audio_bitrate,
        open_timeout_seconds=settings.source_open_timeout_s,
        read_timeout_seconds=settings.source_read_timeout_s,
        record_mode=task.record_mode,
    )


def stream_columns(seg: SegmentInfo) -> dict[str, Any]:
    """The `File` columns of a segment's stream (per-stream recordings; None for a composite's)."""
    return {
        "user_id": seg.user_id,
        "media_type": seg.media_type,
        "media_id": seg.media_id,
        "start_offset": seg.start_offset,
    }
