"""Reading tasks: the filtered, paged task list (newest first) and the pages of download links."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from cloudrec.api.times import format_time
from cloudrec.context import AppContext
from cloudrec.db.models import File, Task
from cloudrec.errors import FileReadError
from cloudrec.recorder.spec import RecordMode, TaskStatus, poster_name
from cloudrec.storage.base import Storage
from cloudrec.tasks.service import get_task

FILES_PER_PAGE = 50


@dataclass(frozen=True)
class TaskFilter:
    record_id: str | None = None
    group_id: str | None = None
    status: int | None = None
    paused: bool | None = None  # only tasks (not) suspended
    started_from: float | None = None  # tasks whose recording started at or after (Unix seconds)
    stopped_until: float | None = None  # tasks stopped at or before (Unix seconds)


@dataclass(frozen=True)
class TaskSummary:
    """What task/list shows of a task (read alone: a whole task row with its JSON columns costs ~10x)."""

    record_id: str
    record_mode: int
    group_id: str
    start_time: float | None
    stop_time: float | None
    status: int
    file_size: int
    paused: bool
    file_name: str
    company_id: str
    media_duration: float  # seconds recorded, pauses excluded
    width: int
    height: int
    is_auto: bool
    gaps: list[dict[str, Any]] | None  # stored form (`tasks.succession`); replies: `describe_gaps`


SUMMARY_COLUMNS = (
    Task.record_id,
    Task.record_mode,
    Task.group_id,
    Task.start_time,
    Task.stop_time,
    Task.status,
    Task.file_size,
    Task.paused,
    Task.file_name,
    Task.company_id,
    Task.media_duration,
    Task.width,
    Task.height,
    Task.is_auto,
    Task.gaps,
)


def list_tasks(
    session: Session, app_id: str, flt: TaskFilter, page: int, page_size: int
) -> tuple[int, list[TaskSummary]]:
    """(total matching, the tasks of page `page`), newest first."""
    conds: list[ColumnElement[bool]] = [Task.app_id == app_id]
    if flt.record_id is not None:
        conds.append(Task.record_id == flt.record_id)
    if flt.group_id is not None:
        conds.append(Task.group_id == flt.group_id)
    if flt.status is not None:
        conds.append(Task.status == flt.status)
    if flt.paused is not None:
        conds.append(Task.paused.is_(flt.paused))
    if flt.started_from is not None:
        conds.append(Task.start_time >= flt.started_from)
    if flt.stopped_until is not None:
        conds.append(Task.stop_time <= flt.stopped_until)
    total = session.scalar(select(func.count()).select_from(Task).where(*conds)) or 0
    newest_first = (Task.created_at.desc(), Task.id.desc())
    # The page's ids first, then their rows: skipping to a deep page then reads only an index (the
    # `ix_tasks_*_created` indexes end with id), not the rows of every task before the page.
    ids = (
        select(Task.id).where(*conds).order_by(*newest_first).offset((page - 1) * page_size).limit(page_size)
    )
    rows = session.execute(select(*SUMMARY_COLUMNS).where(Task.id.in_(ids)).order_by(*newest_first)).all()
    return total, [TaskSummary(**row._asdict()) for row in rows]


def describe_gaps(gaps: Sequence[dict[str, Any]] | None, tz: ZoneInfo) -> list[dict[str, Any]]:
    """What a task did not record (its recorder died; a successor went on), as replies show it:
    `start_time`, `offset` (seconds of media recorded before it) and `duration` (seconds)."""
    return [
        {"start_time": format_time(g["start"], tz), "offset": g["offset"], "duration": g["duration"]}
        for g in gaps or ()
    ]


@dataclass(frozen=True)
class FileLink:
    file: File
    url: str
    play_url: str  # the same file served for a browser to play (inline)
    poster_url: str = ""  # signed like the file; "" when the file has no poster
    gaps: tuple[dict[str, Any], ...] = ()  # the gaps just before this file (stored form)


def file_links(
    ctx: AppContext, session: Session, app_id: str, record_id: str, page: int
) -> tuple[int, list[FileLink]]:
    """(number of files, signed links of page `page`); only for a done task or a failed one with files."""
    task = get_task(session, app_id, record_id)
    if task.files_deleted:
        raise FileReadError(f"record_id {record_id!r}: its files were deleted")
    stored: list[ColumnElement[Any]] = [File.task_id == task.id, File.stored.is_(True)]
    total = session.scalar(select(func.count()).select_from(File).where(*stored)) or 0
    ready = task.status == TaskStatus.DONE or (task.status == TaskStatus.ERROR and total > 0)
    if not ready:
        why = "failed without files" if task.status == TaskStatus.ERROR else f"is in status {task.status}"
        raise FileReadError(f"record_id {record_id!r}: no files to download yet, the task {why}")
    rows = session.scalars(
        select(File)
        .where(*stored)
        .order_by(File.index)
        .offset((page - 1) * FILES_PER_PAGE)
        .limit(FILES_PER_PAGE)
    ).all()
    every: Sequence[Any] = rows
    if task.gaps and task.record_mode == RecordMode.PER_STREAM:  # a gap's files may be on other pages
        every = session.execute(select(*_STREAM_OF).where(*stored)).all()
    return total, link_files(ctx.storage, ctx.settings.download_url_ttl_s, rows, task.gaps, every)


_STREAM_OF = (File.index, File.user_id, File.media_type, File.media_id)


def gaps_before(
    files: Sequence[Any], gaps: Sequence[dict[str, Any]] | None
) -> dict[int, list[dict[str, Any]]]:
    """The gaps just before each file (by index): a composite's before its file `index`; a per-stream
    task's before the first file from `index` on of each stream that had a file before it (`files`:
    every file of the task, with `index` and the stream columns)."""
    out: dict[int, list[dict[str, Any]]] = {}
    ordered = sorted(files, key=lambda f: f.index)
    for g in gaps or ():
        at = g.get("index", 0)
        before = {_stream(f) for f in ordered if f.index < at and f.user_id is not None}
        for f in ordered:
            if f.index == at and f.user_id is None:
                out.setdefault(f.index, []).append(g)
            elif f.index >= at and _stream(f) in before:
                before.discard(_stream(f))
                out.setdefault(f.index, []).append(g)
    return out


def _stream(f: Any) -> tuple[str, int, str]:
    return (f.user_id, f.media_type, f.media_id)


def link_files(
    storage: Storage,
    ttl_s: int,
    rows: Sequence[File],
    gaps: Sequence[dict[str, Any]] | None = None,
    every: Sequence[Any] | None = None,
) -> list[FileLink]:
    """Signed links of stored files, valid for `ttl_s` seconds (with the task's `gaps` before each;
    `every`: all the task's files when `rows` are a page of them)."""
    before = gaps_before(rows if every is None else every, gaps)
    return [
        FileLink(
            f,
            storage.url(f.storage_key, f.name, ttl_s),
            storage.url(f.storage_key, f.name, ttl_s, inline=True),
            storage.url(f.poster_key, poster_name(f.name), ttl_s) if f.poster_key else "",
            tuple(before.get(f.index, ())),
        )
        for f in rows
    ]


def describe_file(link: FileLink, tz: ZoneInfo) -> dict[str, str]:
    """One item of a file list (`data_list` of download/url): url, md5, file_name, extent (JSON text;
    with `gaps` only after a recorder died just before this file)."""
    extent: dict[str, Any] = {
        "index": link.file.index,
        "size": link.file.size,
        "duration": round(link.file.duration, 3),
        "start_time": format_time(link.file.start_time, tz),
    }
    if link.poster_url:
        extent["poster"] = link.poster_url
    if link.gaps:
        extent["gaps"] = describe_gaps(link.gaps, tz)
    if link.file.user_id is not None:  # a per-stream recording's file: its stream, where it starts
        extent.update(stream_extent(link.file))
    return {
        "url": link.url,
        "md5": link.file.md5,
        "file_name": link.file.name,
        "extent": json.dumps(extent, separators=(",", ":"), ensure_ascii=False),
        "play_url": link.play_url,
    }


def stream_extent(row: File) -> dict[str, Any]:
    """The stream of a per-stream file: who, which media, and its start (seconds from the task's start,
    pauses excluded, to line the files up again; negative: it began with the stream's cached GOP)."""
    return {
        "user_id": row.user_id,
        "media_type": row.media_type,
        "media_id": row.media_id,
        "start_offset": round(row.start_offset or 0.0, 3),
        "start_timestamp": round(row.start_time, 3),
    }
