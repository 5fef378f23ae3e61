"""`/v1/record/*`: init, set/layout, set/subtitle, set-output-overlay, suspend, resume, finish, task list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cloudrec.api.deps import CtxDep, SessionDep, owned_body, owned_query
from cloudrec.api.openapi import request_body
from cloudrec.api.schemas import (
    AutoRequest,
    ErrorReply,
    FinishReply,
    Gap,
    InitReply,
    InitRequest,
    LayoutReply,
    LayoutRequest,
    RecordReply,
    RecordRequest,
    SubtitleRequest,
    TaskItem,
    TaskListQuery,
    TaskListReply,
)
from cloudrec.api.schemas_vendor import OVERLAY_CLOCK, OverlayRequest
from cloudrec.api.times import format_time, parse_time, zone
from cloudrec.limits import check_count, layout_limits
from cloudrec.recorder.build import auto_from_json, layout_from_json
from cloudrec.recorder.spec import (
    AutoSpec,
    Caption,
    Layout,
    TaskStatus,
)
from cloudrec.tasks.listing import TaskFilter, TaskSummary, describe_gaps, list_tasks
from cloudrec.tasks.service import TaskOptions, TaskService

router = APIRouter(prefix="/v1/record", tags=["record"])

InitBody = Annotated[InitRequest, Depends(owned_body(InitRequest))]
LayoutBody = Annotated[LayoutRequest, Depends(owned_body(LayoutRequest))]
SubtitleBody = Annotated[SubtitleRequest, Depends(owned_body(SubtitleRequest))]
OverlayBody = Annotated[OverlayRequest, Depends(owned_body(OverlayRequest))]
RecordBody = Annotated[RecordRequest, Depends(owned_body(RecordRequest))]
ListQuery = Annotated[TaskListQuery, Depends(owned_query(TaskListQuery))]


SUSPENDED_STATUS = 7  # profile hst: what task/list shows of a suspended task (a filter in both profiles)
ALL_STATUSES = 0  # the status filter that filters nothing


def _auto(auto: AutoRequest, white_board: int) -> AutoSpec:
    fields = auto.model_dump()
    return auto_from_json({**fields, "user_id": auto.user_id or None, "white_board": bool(white_board)})


def _layout(body: LayoutRequest | InitRequest) -> Layout:
    return layout_from_json(
        {
            "video": [v.model_dump() for v in body.video_list or []],
            "audio": [a.model_dump() for a in body.audio_list or []],
        }
    )


@router.post("/init", response_model=InitReply | ErrorReply, openapi_extra=request_body(InitRequest))
def init(body: InitBody, ctx: CtxDep, session: SessionDep) -> InitReply:
    """A new recording task. Errors: 6050030038 (group has an auto task), 6050030009, 6050030008."""
    opts = TaskOptions(
        group_id=body.group_id,
        file_name=body.file_name or None,
        file_type=body.file_type,
        file_duration=body.file_duration,
        width=body.width,
        height=body.height,
        record_mode=body.record_mode,
        frame_rate=body.frame_rate,
        timeout=body.timeout,
        auto=_auto(body.auto, body.white_board) if body.auto is not None else None,
        seq=body.seq,
        company_id=body.company_id,
        allow=_layout(body) if body.audio_list is not None or body.video_list is not None else None,
    )
    task = TaskService(ctx, session).create(body.app_id, opts)
    return InitReply(seq=body.seq, record_id=task.record_id)


@router.post(
    "/set/layout", response_model=LayoutReply | ErrorReply, openapi_extra=request_body(LayoutRequest)
)
def set_layout(body: LayoutBody, ctx: CtxDep, session: SessionDep) -> LayoutReply:
    """Replace the whole layout. Errors: 6050030035 (auto task), 6050030033 (suspended), 6050030001."""
    limits = layout_limits(ctx.settings.compat)
    check_count("video_list", len(body.video_list), limits.video, ctx.settings.compat)
    check_count("audio_list", len(body.audio_list), limits.audio, ctx.settings.compat)
    TaskService(ctx, session).set_layout(body.app_id, body.record_id, _layout(body))
    return LayoutReply(seq=body.seq, record_id=body.record_id)


@router.post(
    "/set/subtitle", response_model=LayoutReply | ErrorReply, openapi_extra=request_body(SubtitleRequest)
)
def set_subtitle(body: SubtitleBody, ctx: CtxDep, session: SessionDep) -> LayoutReply:
    """Replace every caption drawn on the canvas ([] clears them). Errors: 6050030033, 6050030001."""
    limits = layout_limits(ctx.settings.compat)
    check_count("subtitle_list", len(body.subtitle_list), limits.captions, ctx.settings.compat)
    captions = tuple(
        Caption(content=c.content, color=c.color, x=c.x, y=c.y, size=c.size) for c in body.subtitle_list
    )
    TaskService(ctx, session).set_captions(body.app_id, body.record_id, captions)
    return LayoutReply(seq=body.seq, record_id=body.record_id)


@router.post(
    "/set-output-overlay",
    response_model=LayoutReply | ErrorReply,
    openapi_extra=request_body(OverlayRequest),
)
def set_output_overlay(body: OverlayBody, ctx: CtxDep, session: SessionDep) -> LayoutReply:
    """The vendor's captions call: texts or the ticking time ([] clears them); no logos.
    Errors: 6050030033, 6050030001."""
    captions = tuple(
        Caption(
            content=c.content,
            color=c.color,
            x=c.x,
            y=c.y,
            size=c.size,
            opacity=c.transparency,
            clock=c.type == OVERLAY_CLOCK,
            time_zone=ctx.settings.timezone,
        )
        for c in body.subtitle_list
    )
    TaskService(ctx, session).set_captions(body.app_id, body.record_id, captions)
    return LayoutReply(seq=body.seq, record_id=body.record_id)


@router.post("/suspend", response_model=RecordReply | ErrorReply, openapi_extra=request_body(RecordRequest))
def suspend(body: RecordBody, ctx: CtxDep, session: SessionDep) -> RecordReply:
    """Pause the recording. Not recording → 6050030039."""
    TaskService(ctx, session).suspend(body.app_id, body.record_id)
    return RecordReply(record_id=body.record_id)


@router.post("/resume", response_model=RecordReply | ErrorReply, openapi_extra=request_body(RecordRequest))
def resume(body: RecordBody, ctx: CtxDep, session: SessionDep) -> RecordReply:
    """Continue a suspended recording. Not suspended → 6050030003."""
    TaskService(ctx, session).resume(body.app_id, body.record_id)
    return RecordReply(record_id=body.record_id)


@router.post("/finish", response_model=FinishReply | ErrorReply, openapi_extra=request_body(RecordRequest))
def finish(body: RecordBody, ctx: CtxDep, session: SessionDep) -> FinishReply:
    """Stop the recording (status 3 → 6); a second call answers the same figures."""
    task, figures = TaskService(ctx, session).finish(body.app_id, body.record_id)
    return FinishReply(
        record_id=body.record_id,
        media_duration=figures.media_duration,
        record_duration=figures.record_duration,
        flow=figures.flow,
        gaps=[Gap(**g) for g in describe_gaps(task.gaps, zone(ctx.settings.timezone))],
    )


@router.get("/task/list", response_model=TaskListReply | ErrorReply)
def task_list(query: ListQuery, ctx: CtxDep, session: SessionDep) -> TaskListReply:
    """Tasks of the app, newest first. `status` 0: every task, 7: the suspended ones."""
    tz = zone(ctx.settings.timezone)
    hst = ctx.settings.compat == "hst"
    status, paused = _status_filter(query.status, hst)
    flt = TaskFilter(
        record_id=query.record_id,
        group_id=query.group_id,
        status=status,
        paused=paused,
        started_from=parse_time(query.start_time, tz, "start_time") if query.start_time is not None else None,
        stopped_until=parse_time(query.stop_time, tz, "stop_time") if query.stop_time is not None else None,
    )
    total, tasks = list_tasks(session, query.app_id, flt, query.page, query.page_size)
    return TaskListReply(
        total_num=total,
        record_list=[
            TaskItem(
                record_id=t.record_id,
                record_mode=t.record_mode,
                group_id=t.group_id,
                start_time=format_time(t.start_time, tz),
                stop_time=format_time(t.stop_time, tz),
                status=_shown_status(t, hst),
                file_size=t.file_size,
                paused=t.paused,
                file_name=t.file_name,
                company_id=t.company_id,
                record_time=round(t.media_duration),
                width=t.width,
                height=t.height,
                auto=int(t.is_auto),
                gaps=[Gap(**g) for g in describe_gaps(t.gaps, tz)],
            )
            for t in tasks
        ],
    )


def _status_filter(status: int | None, hst: bool) -> tuple[int | None, bool | None]:
    """(status, paused) of the task/list filter `status`; in profile hst a suspended task is not in 2."""
    if status is None or status == ALL_STATUSES:
        return None, None
    if status == SUSPENDED_STATUS:
        return int(TaskStatus.RECORDING), True
    if status == TaskStatus.RECORDING and hst:
        return status, False
    return status, None


def _shown_status(task: TaskSummary, hst: bool) -> int:
    if hst and task.paused and task.status == TaskStatus.RECORDING:
        return SUSPENDED_STATUS
    return task.status
