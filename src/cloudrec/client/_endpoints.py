"""Every endpoint of the contract and of cloudrec's extensions, written once for both clients.

Each endpoint is a function that turns its arguments into a `Call`; `Endpoint` makes it a method that
sends the call and returns the typed reply: directly on `Client`, as a coroutine on `AsyncClient`.
Only arguments that are given are sent: the server applies the contract's defaults.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from pydantic import BaseModel

from cloudrec.client._calls import Call
from cloudrec.client._models import (
    AppListReply,
    AudioItem,
    AutoRequest,
    CallbackReply,
    DeleteReply,
    FileUrlReply,
    FinishReply,
    InitReply,
    LayoutReply,
    OkReply,
    RecordReply,
    ServerAddressReply,
    SnapshotPicture,
    StreamListReply,
    SubtitleItem,
    TaskInfoReply,
    TaskListReply,
    VideoItem,
)

P = ParamSpec("P")
R = TypeVar("R", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)

Item = BaseModel | Mapping[str, Any]
Time = str | int | float | datetime


class _SyncClient(Protocol):
    app_id: str | None

    def _call(self, call: Call[T]) -> T: ...


class _AsyncClient(Protocol):
    app_id: str | None

    async def _acall(self, call: Call[T]) -> T: ...


class Endpoint(Generic[P, R]):
    """A method of both clients made from a `Call` builder whose first argument is the client's
    default app_id."""

    def __init__(self, build: Callable[Concatenate[str | None, P], Call[R]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> Endpoint[P, R]: ...
    @overload
    def __get__(self, obj: _SyncClient, owner: type) -> Callable[P, R]: ...
    @overload
    def __get__(self, obj: _AsyncClient, owner: type) -> Callable[P, Awaitable[R]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        build = self.build
        if hasattr(obj, "_acall"):

            async def send_async(*args: Any, **kwargs: Any) -> Any:
                return await obj._acall(build(obj.app_id, *args, **kwargs))

            return _like(send_async, build)

        def send(*args: Any, **kwargs: Any) -> Any:
            return obj._call(build(obj.app_id, *args, **kwargs))

        return _like(send, build)


def _like(method: Any, build: Callable[..., Any]) -> Any:
    """`method` named and documented as `build`, its signature without the default app_id (help())."""
    functools.update_wrapper(method, build)
    del method.__wrapped__
    signature = inspect.signature(build)
    method.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    return method


def _app(default: str | None, app_id: str | None) -> str:
    app = app_id if app_id is not None else default
    if app is None:
        raise ValueError("app_id: give it to the call, or to the client as its default")
    return app


def _given(**fields: Any) -> dict[str, Any]:
    """The fields that were given (None: leave it to the server's default)."""
    return {k: v for k, v in fields.items() if v is not None}


def _item(item: Item) -> Any:
    """A request item as JSON: a model sends the fields it was given, a mapping is sent as it is."""
    return item.model_dump(mode="json", exclude_unset=True) if isinstance(item, BaseModel) else dict(item)


def _time(value: Time | None) -> str | None:
    """A time filter: `YYYY-MM-DD HH:MM:SS` or ISO 8601 text as given, Unix seconds, or a datetime."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(int(value))


# ---- /v1/record ---------------------------------------------------------------------------------


def init(
    app: str | None,
    group_id: str,
    *,
    auto: AutoRequest | Mapping[str, Any] | None = None,
    file_name: str | None = None,
    file_type: int | None = None,
    file_duration: int | None = None,
    width: int | None = None,
    height: int | None = None,
    record_mode: int | None = None,
    frame_rate: int | None = None,
    timeout: int | None = None,
    seq: str | None = None,
    app_id: str | None = None,
) -> Call[InitReply]:
    """`POST /v1/record/init`: a new recording task of `group_id`; `auto` (even `{}`) records
    automatically, else the task waits for its first `set_layout`. Errors: AutoTaskExists, LoadLimit,
    NoDiskSpace, ParamError."""
    body = _given(
        app_id=_app(app, app_id),
        group_id=group_id,
        file_name=file_name,
        file_type=file_type,
        file_duration=file_duration,
        width=width,
        height=height,
        record_mode=record_mode,
        frame_rate=frame_rate,
        timeout=timeout,
        seq=seq,
        auto=_item(auto) if auto is not None else None,
    )
    return Call("POST", "/v1/record/init", InitReply, body=body)


def set_layout(
    app: str | None,
    record_id: str,
    *,
    video_list: Sequence[VideoItem | Mapping[str, Any]] = (),
    audio_list: Sequence[AudioItem | Mapping[str, Any]] = (),
    seq: str | None = None,
    app_id: str | None = None,
) -> Call[LayoutReply]:
    """`POST /v1/record/set/layout`: replace the whole layout of a manual task (the first one starts
    its recording). Errors: AutoTaskNoLayout, TaskSuspended, TaskNotFound."""
    body = _given(
        app_id=_app(app, app_id),
        record_id=record_id,
        seq=seq,
        video_list=[_item(v) for v in video_list],
        audio_list=[_item(a) for a in audio_list],
    )
    return Call("POST", "/v1/record/set/layout", LayoutReply, body=body)


def set_subtitle(
    app: str | None,
    record_id: str,
    subtitle_list: Sequence[SubtitleItem | Mapping[str, Any]],
    *,
    seq: str | None = None,
    app_id: str | None = None,
) -> Call[LayoutReply]:
    """`POST /v1/record/set/subtitle` (cloudrec extension): replace every caption; `[]` clears them.
    Errors: TaskSuspended, TaskNotFound, ParamError."""
    body = _given(
        app_id=_app(app, app_id),
        record_id=record_id,
        seq=seq,
        subtitle_list=[_item(s) for s in subtitle_list],
    )
    return Call("POST", "/v1/record/set/subtitle", LayoutReply, body=body)


def set_output_overlay(
    app: str | None,
    record_id: str,
    subtitle_list: Sequence[Item] = (),
    *,
    seq: str | None = None,
    app_id: str | None = None,
) -> Call[LayoutReply]:
    """`POST /v1/record/set-output-overlay` (the vendor's captions call): `type` 1 a text, 2 the time
    ticking; `color`, `size`, `transparency`; `[]` clears them. Errors: TaskSuspended, ParamError."""
    body = _given(
        app_id=_app(app, app_id),
        record_id=record_id,
        seq=seq,
        subtitle_list=[_item(s) for s in subtitle_list],
    )
    return Call("POST", "/v1/record/set-output-overlay", LayoutReply, body=body)


def snapshot(
    app: str | None, record_id: str, *, width: int | None = None, app_id: str | None = None
) -> Call[SnapshotPicture]:
    """`GET /v1/record/snapshot` (cloudrec extension): the composite now as JPEG (at most 1 s old),
    `width` pixels wide or the canvas's. Errors: NotRecording (not recording, or nothing composed yet)."""
    params = _given(app_id=_app(app, app_id), record_id=record_id, width=width)
    return Call("GET", "/v1/record/snapshot", SnapshotPicture, params=params)


def task_info(app: str | None, record_id: str, *, app_id: str | None = None) -> Call[TaskInfoReply]:
    """`GET /v1/record/task/info` (cloudrec extension): one task's settings, layout, captions, figures."""
    params = {"app_id": _app(app, app_id), "record_id": record_id}
    return Call("GET", "/v1/record/task/info", TaskInfoReply, params=params)


def app_list(app: str | None) -> Call[AppListReply]:
    """`GET /v1/app/list` (cloudrec extension): the developer's apps, oldest first."""
    return Call("GET", "/v1/app/list", AppListReply)


def server_address(app: str | None, app_type: int = 10) -> Call[ServerAddressReply]:
    """`GET /server/address` (the vendor's discovery): this server's public base URL (`result`)."""
    return Call("GET", "/server/address", ServerAddressReply, params={"appType": app_type})


def suspend(app: str | None, record_id: str, *, app_id: str | None = None) -> Call[RecordReply]:
    """`POST /v1/record/suspend`: pause the recording. Errors: CannotSuspend, TaskNotFound."""
    body = {"app_id": _app(app, app_id), "record_id": record_id}
    return Call("POST", "/v1/record/suspend", RecordReply, body=body)


def resume(app: str | None, record_id: str, *, app_id: str | None = None) -> Call[RecordReply]:
    """`POST /v1/record/resume`: continue a suspended recording. Errors: ParamError (not suspended)."""
    body = {"app_id": _app(app, app_id), "record_id": record_id}
    return Call("POST", "/v1/record/resume", RecordReply, body=body)


def finish(app: str | None, record_id: str, *, app_id: str | None = None) -> Call[FinishReply]:
    """`POST /v1/record/finish`: stop the recording (status 3, on to 6); again: the same figures.
    Errors: TaskNotFound."""
    body = {"app_id": _app(app, app_id), "record_id": record_id}
    return Call("POST", "/v1/record/finish", FinishReply, body=body)


def task_list(
    app: str | None,
    *,
    record_id: str | None = None,
    group_id: str | None = None,
    status: int | None = None,
    start_time: Time | None = None,
    stop_time: Time | None = None,
    page: int | None = None,
    page_size: int | None = None,
    app_id: str | None = None,
) -> Call[TaskListReply]:
    """`GET /v1/record/task/list`: the app's tasks, newest first, filtered and paged."""
    params = _given(
        app_id=_app(app, app_id),
        record_id=record_id,
        group_id=group_id,
        status=status,
        start_time=_time(start_time),
        stop_time=_time(stop_time),
        page=page,
        page_size=page_size,
    )
    return Call("GET", "/v1/record/task/list", TaskListReply, params=params)


def download_urls(
    app: str | None, record_id: str, *, page: int | None = None, app_id: str | None = None
) -> Call[FileUrlReply]:
    """`GET /v1/record/file/download/url`: signed links of the task's files, 50 a page.
    Errors: FileReadError (not done yet)."""
    params = _given(app_id=_app(app, app_id), record_id=record_id, page=page)
    return Call("GET", "/v1/record/file/download/url", FileUrlReply, params=params)


def delete_files(
    app: str | None, record_list: Sequence[str], *, mode: int | None = None, app_id: str | None = None
) -> Call[DeleteReply]:
    """`POST /v1/record/file`: mode 1 deletes files and task records, 2 (default) files only.
    Errors: ParamError (a task not finished yet: nothing is deleted)."""
    body = _given(app_id=_app(app, app_id), record_list=list(record_list), mode=mode)
    return Call("POST", "/v1/record/file", DeleteReply, body=body)


# ---- /v1/group/stream and /v1/app (cloudrec extensions) --------------------------------------------


def publish_stream(
    app: str | None,
    group_id: str,
    user_id: str,
    media_type: int,
    media_id: str,
    url: str,
    *,
    app_id: str | None = None,
) -> Call[OkReply]:
    """`POST /v1/group/stream/publish`: where a user's stream of the group can be pulled."""
    body = {
        "app_id": _app(app, app_id),
        "group_id": group_id,
        "user_id": user_id,
        "media_type": media_type,
        "media_id": media_id,
        "url": url,
    }
    return Call("POST", "/v1/group/stream/publish", OkReply, body=body)


def unpublish_stream(
    app: str | None, group_id: str, user_id: str, media_type: int, media_id: str, *, app_id: str | None = None
) -> Call[OkReply]:
    """`POST /v1/group/stream/unpublish`: withdraw one stream (an unknown one is fine)."""
    body = {
        "app_id": _app(app, app_id),
        "group_id": group_id,
        "user_id": user_id,
        "media_type": media_type,
        "media_id": media_id,
    }
    return Call("POST", "/v1/group/stream/unpublish", OkReply, body=body)


def stream_list(app: str | None, group_id: str, *, app_id: str | None = None) -> Call[StreamListReply]:
    """`GET /v1/group/stream/list`: the group's streams in join order."""
    params = {"app_id": _app(app, app_id), "group_id": group_id}
    return Call("GET", "/v1/group/stream/list", StreamListReply, params=params)


def set_callback(
    app: str | None, url: str, *, rotate_secret: bool | None = None, app_id: str | None = None
) -> Call[CallbackReply]:
    """`POST /v1/app/callback`: the app's webhook URL (`""` turns callbacks off); `secret` in the
    reply only when it was just made."""
    body = _given(app_id=_app(app, app_id), url=url, rotate_secret=rotate_secret)
    return Call("POST", "/v1/app/callback", CallbackReply, body=body)


class Endpoints:
    """The endpoints, as methods of `Client` and `AsyncClient`."""

    init = Endpoint(init)
    set_layout = Endpoint(set_layout)
    set_subtitle = Endpoint(set_subtitle)
    set_output_overlay = Endpoint(set_output_overlay)
    snapshot = Endpoint(snapshot)
    task_info = Endpoint(task_info)
    app_list = Endpoint(app_list)
    server_address = Endpoint(server_address)
    suspend = Endpoint(suspend)
    resume = Endpoint(resume)
    finish = Endpoint(finish)
    task_list = Endpoint(task_list)
    download_urls = Endpoint(download_urls)
    delete_files = Endpoint(delete_files)
    publish_stream = Endpoint(publish_stream)
    unpublish_stream = Endpoint(unpublish_stream)
    stream_list = Endpoint(stream_list)
    set_callback = Endpoint(set_callback)
