"""The lifecycle of a task: init, set layout, suspend, resume, finish (state stored first, then the host)."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import CursorResult, Update, func, select, update
from sqlalchemy.orm import Session

from cloudrec.context import AppContext
from cloudrec.db.models import App, Task
from cloudrec.errors import (
    AutoNoLayout,
    AutoTaskExists,
    CapacityError,
    CloudrecError,
    Code,
    NoDiskSpace,
    NotRecording,
    NotSuspended,
    ParamError,
    TaskChanged,
    TaskNotActive,
    TaskNotFound,
    TaskSuspended,
)
from cloudrec.groups.registry import GroupRegistry
from cloudrec.recorder.build import auto_to_json, build_spec, captions_to_json, layout_to_json
from cloudrec.recorder.spec import (
    AutoSpec,
    Caption,
    Finish,
    Layout,
    RecordMode,
    Resume,
    SetCaptions,
    SetLayout,
    Suspend,
    TaskStatus,
)
from cloudrec.tasks.leases import first_lease, is_live
from cloudrec.tasks.locks import process_locks
from cloudrec.tasks.naming import MAX_FILE_NAME_BYTES, new_record_id, sanitize_file_name
from cloudrec.tasks.notify import notify_desired
from cloudrec.tasks.quota import fair_share

log = logging.getLogger(__name__)

ACTIVE = (TaskStatus.INIT, TaskStatus.RECORDING)  # a recorder runs the task and takes commands
UNFINISHED = (*ACTIVE, TaskStatus.QUEUED, TaskStatus.ENCODING, TaskStatus.UPLOADING)


@dataclass(frozen=True)
class TaskOptions:
    """The settings of a new task (init), already validated against the contract's ranges."""

    group_id: str
    file_name: str | None = None
    file_type: int = 0
    file_duration: int = 60
    width: int = 1920
    height: int = 1080
    record_mode: int = 0
    frame_rate: int = 30
    timeout: int = 600
    auto: AutoSpec | None = None
    seq: str = ""
    company_id: str = ""  # the vendor's clients send it; kept and listed
    allow: Layout | None = None  # record_mode 1: only these streams are recorded (None: all)


@dataclass(frozen=True)
class FinishFigures:
    media_duration: int  # seconds of media recorded, pauses excluded
    record_duration: int  # seconds from recording start to finish
    flow: int  # kilobytes pulled from the sources


def get_task(session: Session, app_id: str, record_id: str) -> Task:
    """The task `record_id` of app `app_id`; a task of another app does not exist for this one."""
    task = session.scalar(select(Task).where(Task.app_id == app_id, Task.record_id == record_id))
    if task is None:
        raise TaskNotFound(f"record_id {record_id!r}: no such task")
    return task


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


class TaskService:
    """Changes tasks of the database and tells the recorder host; one instance per request."""

    def __init__(self, ctx: AppContext, session: Session) -> None:
        self.ctx = ctx
        self.session = session
        # The request's own time (Unix, real): a recording starts, pauses, resumes and ends there,
        # however long its recorder takes to hear of it.
        self.requested_at = time.time()

    def _now(self) -> float:
        return self.ctx.clock.time()

    def _apply(self, stmt: Update) -> int:
        """Run a conditional UPDATE (the condition guards against concurrent changes) and commit."""
        count = _rowcount(self.session.execute(stmt, execution_options={"synchronize_session": False}))
        self.session.commit()
        return count

    def _reload(self, task: Task) -> Task:
        self.session.refresh(task)
        return task

    # ---- init -------------------------------------------------------------------------------

    def create(self, app_id: str, opts: TaskOptions) -> Task:
        """Store a new task and start its recorder (auto → status 2 at once, manual → 1)."""
        file_name = sanitize_file_name(opts.file_name or "")
        if len(file_name.encode()) > MAX_FILE_NAME_BYTES:
            raise ParamError(f"file_name is too long: at most {MAX_FILE_NAME_BYTES} bytes of UTF-8")
        auto_lock = process_locks.hold(("auto", app_id, opts.group_id)) if opts.auto else nullcontext()
        with fair_share(self.session, self.ctx.settings, app_id), auto_lock:
            if opts.auto is not None:
                self._check_no_auto_task(app_id, opts.group_id)
            self._check_disk()
            if self.ctx.host.free_slots() <= 0:
                raise CapacityError(
                    "no recorder capacity left: every recording slot of this server is in use"
                )
            now = self._now()
            record_id = new_record_id(now)
            per_stream = opts.record_mode == RecordMode.PER_STREAM
            starts = opts.auto is not None or per_stream  # a per-stream task records from its init
            task = Task(
                record_id=record_id,
                app_id=app_id,
                group_id=opts.group_id,
                seq=opts.seq,
                file_name=file_name or record_id,
                file_type=opts.file_type,
                file_duration=opts.file_duration,
                width=opts.width,
                height=opts.height,
                record_mode=opts.record_mode,
                frame_rate=opts.frame_rate,
                timeout=opts.timeout,
                auto=auto_to_json(opts.auto) if opts.auto is not None else None,
                is_auto=opts.auto is not None,
                company_id=opts.company_id,
                # a per-stream task keeps its allow list here (it takes no layout)
                layout=layout_to_json(opts.allow) if per_stream and opts.allow is not None else None,
                status=int(TaskStatus.RECORDING if starts else TaskStatus.INIT),
                paused=False,
                error="",
                created_at=now,
                start_time=now if starts else None,
                media_duration=0.0,
                record_duration=0.0,
                flow_bytes=0,
                file_size=0,
                files_deleted=False,
                **first_lease(self.ctx.settings, self.ctx.instance_id),
            )
            self.session.add(task)
            self.session.commit()
        self._start(task)
        log.info("task %s created: app %s, group %s, %s", record_id, app_id, opts.group_id, _kind(task))
        return task

    def _check_no_auto_task(self, app_id: str, group_id: str) -> None:
        # PostgreSQL: the app row lock serialises concurrent inits of several server processes.
        self.session.execute(select(App.app_id).where(App.app_id == app_id).with_for_update())
        active = self.session.execute(
            select(Task.record_id, Task.auto).where(
                Task.app_id == app_id,
                Task.group_id == group_id,
                Task.status.in_([int(s) for s in ACTIVE]),
            )
        )
        # In Python: a JSON column stores None as JSON null, which SQL's IS NULL does not see.
        autos = [record_id for record_id, auto in active if auto is not None]
        if autos:
            raise AutoTaskExists(f"group {group_id!r} already has an automatic recording task: {autos[0]}")

    def _check_disk(self) -> None:
        settings = self.ctx.settings
        free = shutil.disk_usage(settings.data_dir).free
        if free < settings.min_free_disk_mb * 1024 * 1024:
            raise NoDiskSpace(
                f"not enough free disk space: {free // (1024 * 1024)} MiB free, "
                f"{settings.min_free_disk_mb} MiB required"
            )

    def _start(self, task: Task) -> None:
        streams = GroupRegistry(self.ctx, self.session).stream_infos(task.app_id, task.group_id)
        spec = replace(build_spec(task, streams, self.ctx.settings), epoch=task.lease_epoch)
        if task.auto is not None or task.record_mode == RecordMode.PER_STREAM:
            spec = replace(spec, start_at=self.requested_at)
        try:
            self.ctx.host.start(spec)
        except CapacityError:
            # The client gets no record_id: a task it can never refer to must not linger.
            self.session.delete(task)
            self.session.commit()
            raise
        except Exception as exc:
            log.exception("recorder of task %s could not be started", task.record_id)
            self._apply(
                update(Task)
                .where(Task.id == task.id)
                .values(
                    status=int(TaskStatus.ERROR),
                    error=f"recorder could not be started: {type(exc).__name__}",
                    stop_time=self._now(),
                    done_time=self._now(),
                )
            )
            raise CloudrecError("the recorder could not be started", Code.INTERNAL) from exc

    # ---- commands ---------------------------------------------------------------------------

    def set_layout(self, app_id: str, record_id: str, layout: Layout) -> None:
        """Replace the whole layout; the first layout of a manual task starts its recording (1 → 2)."""
        task = get_task(self.session, app_id, record_id)
        self._check_layout_allowed(task)
        values = {
            "layout": layout_to_json(layout),
            "status": int(TaskStatus.RECORDING),
            "start_time": func.coalesce(Task.start_time, self._now()),
        }
        self._set_output(task, values, self._check_layout_allowed)
        self._command(task, SetLayout(layout, at=self.requested_at))

    def set_captions(self, app_id: str, record_id: str, captions: tuple[Caption, ...]) -> None:
        """Replace every caption of the canvas (empty: none); manual and automatic tasks alike."""
        task = get_task(self.session, app_id, record_id)
        self._check_captions_allowed(task)
        self._set_output(task, {"captions": captions_to_json(captions)}, self._check_captions_allowed)
        self._command(task, SetCaptions(captions, at=self.requested_at))

    def _set_output(self, task: Task, values: dict[str, Any], check: Callable[[Task], None]) -> None:
        """Store what an unpaused active task shows; `check` tells why not when it changed meanwhile."""
        changed = self._apply(
            update(Task)
            .where(Task.id == task.id, Task.status.in_([int(s) for s in ACTIVE]), Task.paused.is_(False))
            .values({**values, **self._desired()})
        )
        if not changed:  # suspended or finished meanwhile
            task = self._reload(task)
            check(task)
            raise TaskChanged(f"record_id {task.record_id!r}: the task changed meanwhile, try again")

    def _check_captions_allowed(self, task: Task) -> None:
        if task.record_mode == RecordMode.PER_STREAM:
            raise ParamError(
                f"record_id {task.record_id!r} records every stream on its own (record_mode 1): "
                "it has no canvas to caption"
            )
        self._check_output_settable(task, "captions")

    def _check_layout_allowed(self, task: Task) -> None:
        if task.record_mode == RecordMode.PER_STREAM:
            raise AutoNoLayout(
                f"record_id {task.record_id!r} records every stream on its own (record_mode 1): "
                "it takes no layout"
            )
        if task.auto is not None:
            raise AutoNoLayout(f"record_id {task.record_id!r} is an automatic recording: it takes no layout")
        self._check_output_settable(task, "a layout")

    @staticmethod
    def _check_output_settable(task: Task, what: str) -> None:
        """What a recording shows can change while it is initialised or recording, not while suspended."""
        if task.status in ACTIVE and task.paused:
            raise TaskSuspended(f"record_id {task.record_id!r} is suspended: resume it before setting {what}")
        if task.status not in ACTIVE:
            raise TaskNotActive(
                f"record_id {task.record_id!r} is not recording (status {task.status}): {what} cannot be set"
            )

    def suspend(self, app_id: str, record_id: str) -> Task:
        task = get_task(self.session, app_id, record_id)
        if not self._set_paused(task, True):
            task = self._reload(task)
            state = "suspended already" if task.paused else f"in status {task.status}"
            raise NotRecording(
                f"record_id {record_id!r} cannot be suspended: only a recording task can ({state})"
            )
        task = self._reload(task)
        self._command(task, Suspend(at=self.requested_at))
        return task

    def resume(self, app_id: str, record_id: str) -> Task:
        task = get_task(self.session, app_id, record_id)
        if not self._set_paused(task, False):
            raise NotSuspended(f"record_id {record_id!r} is not suspended: nothing to resume")
        task = self._reload(task)
        self._command(task, Resume(at=self.requested_at))
        return task

    def _set_paused(self, task: Task, paused: bool) -> bool:
        """Flip `paused` of a recording task; False when it is not recording or already so."""
        if task.status != TaskStatus.RECORDING or task.paused == paused:
            return False
        return bool(
            self._apply(
                update(Task)
                .where(
                    Task.id == task.id, Task.status == int(TaskStatus.RECORDING), Task.paused.is_(not paused)
                )
                .values(paused=paused, **self._desired())
            )
        )

    def _desired(self) -> dict[str, Any]:
        """The columns that mark a change of the desired state (the owner of the recorder relays it)."""
        return {"desired_seq": Task.desired_seq + 1, "desired_at": self.requested_at}

    def _delivered(self, task: Task) -> None:
        """The command reached the recorder here: the relay need not send this change again."""
        if self.ctx.succession is not None:
            self.ctx.succession.delivered(task.record_id, self._reload(task).desired_seq)

    def _command(self, task: Task, cmd: SetLayout | SetCaptions | Suspend | Resume) -> None:
        if self.ctx.host.command(task.record_id, cmd):
            self._delivered(task)
        elif self._held_elsewhere(task):
            notify_desired(self.session, task.record_id)  # its owner relays it now, not at its next scan
        else:
            # The recorder ended meanwhile (timeout, failure): its end reaches the database by itself.
            log.warning(
                "task %s: %s not delivered, its recorder is not running", task.record_id, type(cmd).__name__
            )

    def _held_elsewhere(self, task: Task) -> bool:
        """Another server's recorder holds the task's lease (it relays the change from the database)."""
        return task.host_id != self.ctx.instance_id and is_live(task)

    # ---- finish -----------------------------------------------------------------------------

    def finish(self, app_id: str, record_id: str) -> tuple[Task, FinishFigures]:
        """Stop the recording (status 3, on to 6 by the recorder); idempotent, same figures every time."""
        task = get_task(self.session, app_id, record_id)
        stopped = False
        if task.status in ACTIVE:
            stopped = bool(
                self._apply(
                    update(Task)
                    .where(Task.id == task.id, Task.status.in_([int(s) for s in ACTIVE]))
                    .values(
                        status=int(TaskStatus.QUEUED), stop_time=self._now(), paused=False, **self._desired()
                    )
                )
            )
        task = self._reload(task)
        if stopped:
            log.info("task %s finished by request", record_id)
            if self.ctx.host.command(record_id, Finish(at=self.requested_at)):
                self._delivered(task)
                task = self._await_final_figures(task)
            elif self._held_elsewhere(task):
                notify_desired(self.session, task.record_id)
                task = self._await_final_figures(task)
            else:
                self._end_unreachable(task)
        return task, self._figures(task)

    def _await_final_figures(self, task: Task) -> Task:
        """Give the recorder a moment to close its last segment and report its final figures, so that
        the reply carries them (not those of the last periodic report); never longer than
        `finish_wait_s`, after which the reply has what is known and the task moves on by itself."""
        deadline = time.monotonic() + self.ctx.settings.finish_wait_s
        while task.status in (TaskStatus.QUEUED, TaskStatus.ENCODING) and time.monotonic() < deadline:
            time.sleep(0.02)
            task = self._reload(task)
        return task

    def _figures(self, task: Task) -> FinishFigures:
        """The figures of the first finish (computed from the database now), kept for later calls."""
        if task.finish_media_duration is None:
            start, stop = task.start_time, task.stop_time
            record = max(0.0, stop - start) if start is not None and stop is not None else 0.0
            self._apply(
                update(Task)
                .where(Task.id == task.id, Task.finish_media_duration.is_(None))
                .values(
                    finish_media_duration=round(task.media_duration),
                    finish_record_duration=round(record),
                    finish_flow_kb=task.flow_bytes // 1024,
                )
            )
            task = self._reload(task)
        return FinishFigures(
            media_duration=task.finish_media_duration or 0,
            record_duration=task.finish_record_duration or 0,
            flow=task.finish_flow_kb or 0,
        )

    def _end_unreachable(self, task: Task) -> None:
        """Finish did not reach a recorder: never leave the task queued (3) for ever."""
        if task.record_id in self.ctx.host.running():
            return  # its recorder has ended and the host reports that end (Finished/Failed) by itself
        if self.ctx.sink is not None:
            self.ctx.sink.drain()  # what the host handed over already (a recorder just reaped) lands first
        now = self._now()
        ended = self._apply(
            update(Task)
            .where(Task.id == task.id, Task.status == int(TaskStatus.QUEUED))
            .values(
                status=int(TaskStatus.ERROR),
                error="no recorder was running this task when it was finished; files recorded are kept",
                done_time=now,
            )
        )
        if ended:
            log.warning("task %s: no recorder was running it; ended with the files it has", task.record_id)
        self._reload(task)


def _kind(task: Task) -> str:
    kind = "automatic" if task.auto is not None else "manual"
    return f"{kind}, per-stream" if task.record_mode == RecordMode.PER_STREAM else kind
