"""Request and reply models of cloudrec's extensions for watching recordings: snapshot, task info, apps."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from cloudrec.api.schemas import AppId, OkReply, QueryModel, RecordId, SubtitleItem, ToInt

# The smallest snapshot worth decoding; the largest is the canvas itself.
MIN_SNAPSHOT_WIDTH = 16


class SnapshotQuery(QueryModel):
    app_id: AppId
    record_id: RecordId
    width: (
        Annotated[
            int,
            Field(ge=MIN_SNAPSHOT_WIDTH, le=1920, description="picture width, at most the canvas's"),
            ToInt,
        ]
        | None
    ) = None


class TaskInfoQuery(QueryModel):
    app_id: AppId
    record_id: RecordId


class TaskInfo(BaseModel):
    """Everything stored about a task: its init settings, the layout and captions now, its figures."""

    record_id: str
    group_id: str
    status: int
    paused: bool
    error: str = Field(description="why the task failed (status -1), else empty")
    record_mode: int
    file_name: str
    file_type: int
    file_duration: int
    width: int
    height: int
    frame_rate: int
    timeout: int
    auto: dict[str, Any] | None = Field(description="the auto settings of init; null: a manual task")
    video_list: list[dict[str, Any]] = Field(description="the manual layout's tiles (set/layout's form)")
    audio_list: list[dict[str, Any]]
    subtitle_list: list[SubtitleItem]
    start_time: str | None
    stop_time: str | None
    media_duration: float = Field(description="seconds recorded, pauses excluded")
    flow: int = Field(description="kilobytes pulled from the sources")
    file_size: int


class TaskInfoReply(OkReply):
    task: TaskInfo


class AppItem(BaseModel):
    app_id: str
    name: str
    create_time: str | None


class AppListReply(OkReply):
    total_num: int
    app_list: list[AppItem]
