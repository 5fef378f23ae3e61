"""Watching recordings (cloudrec extensions): the live snapshot, a task's details, the developer's apps."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select

from cloudrec.api.deps import CtxDep, DevId, SessionDep, owned_query
from cloudrec.api.schemas import ErrorReply, SubtitleItem
from cloudrec.api.schemas_live import (
    AppItem,
    AppListReply,
    SnapshotQuery,
    TaskInfo,
    TaskInfoQuery,
    TaskInfoReply,
)
from cloudrec.api.times import format_time, zone
from cloudrec.db.models import App
from cloudrec.errors import NotRecording, ParamError
from cloudrec.recorder.spec import FileType, TaskStatus
from cloudrec.tasks.service import get_task

router = APIRouter(tags=["live"])

SnapQuery = Annotated[SnapshotQuery, Depends(owned_query(SnapshotQuery))]
InfoQuery = Annotated[TaskInfoQuery, Depends(owned_query(TaskInfoQuery))]

_JPEG: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "image/jpeg: the composite as it is now (at most 1 s old); headers X-Snapshot-Time "
        "(Unix s) and X-Snapshot-Tiles (JSON: [{user_id, x, y, w, h}] in canvas pixels, drawing order). "
        "application/json: the contract's error",
        "model": ErrorReply,  # business errors come with HTTP 200, as JSON
        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
    },
}


@router.get("/v1/record/snapshot", response_class=Response, responses=_JPEG)
def snapshot(query: SnapQuery, ctx: CtxDep, session: SessionDep) -> Response:
    """The composite of a recording task as JPEG. Not recording (or MP3) → 6050030039."""
    task = get_task(session, query.app_id, query.record_id)
    status, file_type, canvas_w = task.status, task.file_type, task.width
    session.close()  # the wait below holds no database connection
    if status != TaskStatus.RECORDING:
        raise NotRecording(f"record_id {query.record_id!r} is not recording (status {status}): no snapshot")
    if file_type == FileType.MP3:
        raise NotRecording(f"record_id {query.record_id!r} records MP3: it has no picture")
    if query.width is not None and query.width > canvas_w:
        raise ParamError(f"width must be at most the canvas width {canvas_w}, got {query.width}")
    width = 0 if query.width in (None, canvas_w) else query.width
    shot = ctx.host.snapshot(query.record_id, width)
    if shot is None:
        raise NotRecording(f"record_id {query.record_id!r} has no picture yet (no media composed)")
    tiles = [{"user_id": t.label, "x": t.x, "y": t.y, "w": t.w, "h": t.h} for t in shot.tiles]
    headers = {
        "Cache-Control": "no-store",
        "X-Snapshot-Time": f"{shot.at:.3f}",
        # ASCII JSON: a header carries Latin-1 only, and user ids may be any text
        "X-Snapshot-Tiles": json.dumps(tiles, separators=(",", ":"), ensure_ascii=True),
    }
    return Response(shot.jpeg, media_type="image/jpeg", headers=headers)


@router.get("/v1/record/task/info", response_model=TaskInfoReply | ErrorReply)
def task_info(query: InfoQuery, ctx: CtxDep, session: SessionDep) -> TaskInfoReply:
    """One task with its settings, its layout and captions now, and its figures."""
    tz = zone(ctx.settings.timezone)
    t = get_task(session, query.app_id, query.record_id)
    layout = t.layout or {}
    return TaskInfoReply(
        task=TaskInfo(
            record_id=t.record_id,
            group_id=t.group_id,
            status=t.status,
            paused=t.paused,
            error=t.error,
            record_mode=t.record_mode,
            file_name=t.file_name,
            file_type=t.file_type,
            file_duration=t.file_duration,
            width=t.width,
            height=t.height,
            frame_rate=t.frame_rate,
            timeout=t.timeout,
            auto=t.auto,
            video_list=list(layout.get("video", [])),
            audio_list=list(layout.get("audio", [])),
            subtitle_list=[SubtitleItem.model_validate(c) for c in t.captions or []],
            start_time=format_time(t.start_time, tz),
            stop_time=format_time(t.stop_time, tz),
            media_duration=round(t.media_duration, 3),
            flow=t.flow_bytes // 1024,
            file_size=t.file_size,
        )
    )


@router.get("/v1/app/list", response_model=AppListReply | ErrorReply)
def app_list(dev_id: DevId, ctx: CtxDep, session: SessionDep) -> AppListReply:
    """The apps of the developer whose access_token the request carries, oldest first."""
    tz = zone(ctx.settings.timezone)
    rows = session.scalars(select(App).where(App.dev_id == dev_id).order_by(App.created_at, App.app_id)).all()
    return AppListReply(
        total_num=len(rows),
        app_list=[
            AppItem(app_id=a.app_id, name=a.name, create_time=format_time(a.created_at, tz)) for a in rows
        ],
    )
