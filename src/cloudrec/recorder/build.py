"""Conversions between stored task rows / JSON layouts and the recorder's `TaskSpec` dataclasses."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from cloudrec.config import Settings
from cloudrec.db.models import GroupStream, Task
from cloudrec.egress import stream_policy
from cloudrec.recorder.spec import (
    AutoSpec,
    Caption,
    Command,
    FileType,
    Finish,
    Layout,
    MediaType,
    Resume,
    SegmentInfo,
    SetCaptions,
    SetLayout,
    StreamInfo,
    Suspend,
    TaskSpec,
    TaskStatus,
)
from cloudrec.storage.spec import storage_spec

# The stored (JSON) forms of the shapes a recorder takes: the dataclasses of `recorder.spec` are their
# one definition (a new tile field is one edit there, and one in the request schema); enums are stored
# as their numbers, missing fields take the dataclass's defaults.
_LAYOUT: TypeAdapter[Layout] = TypeAdapter(Layout)
_AUTO: TypeAdapter[AutoSpec] = TypeAdapter(AutoSpec)


def layout_to_json(layout: Layout) -> dict[str, Any]:
    """The stored form of a layout (read back by `layout_from_json`)."""
    data: dict[str, Any] = _LAYOUT.dump_python(layout, mode="json")
    return data


def layout_from_json(data: dict[str, Any]) -> Layout:
    """A layout from its stored form, or from a request's `video_list`/`audio_list` items (same names)."""
    return _LAYOUT.validate_python(data)


def auto_to_json(auto: AutoSpec) -> dict[str, Any]:
    """The stored form of `auto` (read back by `auto_from_json`)."""
    data: dict[str, Any] = _AUTO.dump_python(auto, mode="json")
    return data


def auto_from_json(data: dict[str, Any]) -> AutoSpec:
    return _AUTO.validate_python(data)


def captions_to_json(captions: tuple[Caption, ...]) -> list[dict[str, Any]]:
    """The stored form of captions (read back by `captions_from_json`)."""
    out = []
    for c in captions:
        item: dict[str, Any] = {"content": c.content, "color": c.color, "x": c.x, "y": c.y, "size": c.size}
        if c.opacity != 100 or c.clock:  # set-output-overlay's extras (set/subtitle has none)
            item.update(opacity=c.opacity, clock=c.clock, time_zone=c.time_zone)
        out.append(item)
    return out


def captions_from_json(data: list[dict[str, Any]]) -> tuple[Caption, ...]:
    return tuple(
        Caption(
            content=str(c["content"]),
            color=str(c["color"]),
            x=int(c["x"]),
            y=int(c["y"]),
            size=int(c.get("size", 24)),
            opacity=int(c.get("opacity", 100)),
            clock=bool(c.get("clock", False)),
            time_zone=str(c.get("time_zone", "UTC")),
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


def control_address(settings: Settings, record_id: str) -> str:
    """The Unix socket (abstract namespace) on which an orphaned recorder of the task waits: the same
    for every server of one data directory."""
    digest = hashlib.sha256(f"{settings.data_dir.resolve()}\0{record_id}".encode()).hexdigest()[:32]
    return f"\0cloudrec-{digest}"


def control_key(settings: Settings, record_id: str) -> bytes:
    """The key a server must know to adopt the task's recorder (from the signing key: never stored)."""
    secret = settings.signing_key.get_secret_value().encode()
    return hmac.new(secret, b"recorder-control\0" + record_id.encode(), hashlib.sha256).digest()


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
        egress=stream_policy(settings),
        orphan_wait_seconds=settings.recorder_orphan_wait_s,
        control_address=control_address(settings, task.record_id),
        control_key=control_key(settings, task.record_id),
        record_mode=task.record_mode,
        storage=storage_spec(settings),
    )


def desired_commands(task: Task) -> list[Command]:
    """The commands that bring a recorder to the task's stored desired state (each is idempotent: a
    recorder in that state already ignores it or changes nothing)."""
    at = task.desired_at
    if task.status == TaskStatus.QUEUED:
        return [Finish(at=at)]
    cmds: list[Command] = []
    if task.auto is None and task.layout is not None and not task.paused:
        cmds.append(SetLayout(layout_from_json(task.layout), at=at))
    if not task.paused:
        cmds.append(SetCaptions(captions_from_json(task.captions or []), at=at))
    cmds.append(Suspend(at=at) if task.paused else Resume(at=at))
    return cmds


def stream_columns(seg: SegmentInfo) -> dict[str, Any]:
    """The `File` columns of a segment's stream (per-stream recordings; None for a composite's)."""
    return {
        "user_id": seg.user_id,
        "media_type": seg.media_type,
        "media_id": seg.media_id,
        "start_offset": seg.start_offset,
    }
