"""The typed requests and replies of the client: the API's own schema definitions (pydantic, no FastAPI)."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict

from cloudrec.api.schemas import (
    AccessTokenReply,
    AccessTokenResult,
    AudioItem,
    AutoRequest,
    CallbackReply,
    DeleteReply,
    FileItem,
    FileUrlReply,
    FinishReply,
    InitReply,
    LayoutReply,
    OkReply,
    RecordReply,
    StreamItem,
    StreamListReply,
    SubtitleItem,
    TaskItem,
    TaskListReply,
    VideoItem,
)
from cloudrec.api.schemas_live import AppItem, AppListReply, TaskInfo, TaskInfoReply
from cloudrec.api.schemas_vendor import ServerAddressReply
from cloudrec.recorder.spec import CropMode, MediaType, TaskStatus

__all__ = [
    "AccessTokenReply",
    "AccessTokenResult",
    "AppItem",
    "AppListReply",
    "AudioItem",
    "AutoRequest",
    "CallbackReply",
    "CropMode",
    "DeleteReply",
    "Extent",
    "FileItem",
    "FileUrlReply",
    "FinishReply",
    "InitReply",
    "LayoutReply",
    "MediaType",
    "OkReply",
    "RecordReply",
    "ServerAddressReply",
    "SnapshotPicture",
    "SnapshotTile",
    "StreamItem",
    "StreamListReply",
    "SubtitleItem",
    "TaskInfo",
    "TaskInfoReply",
    "TaskItem",
    "TaskListReply",
    "TaskStatus",
    "VideoItem",
    "extent",
]


class Extent(BaseModel):
    """What a file's `extent` (a JSON string) says: its index in the task, bytes, seconds, start; keys
    of newer servers are kept too (`model_extra`)."""

    model_config = ConfigDict(extra="allow")

    index: int
    size: int
    duration: float
    start_time: str | None = None


def extent(item: FileItem) -> Extent:
    """The parsed `extent` of a file of `download_urls`."""
    return Extent.model_validate(json.loads(item.extent))


class SnapshotTile(BaseModel):
    """Where a tile of a snapshot's picture is (canvas pixels) and whose stream it shows."""

    user_id: str
    x: int
    y: int
    w: int
    h: int


class SnapshotPicture(BaseModel):
    """The reply of `snapshot`: the composite as JPEG, the Unix time it was taken, and its tiles."""

    jpeg: bytes
    at: float
    tiles: list[SnapshotTile]
