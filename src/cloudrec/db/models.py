"""SQLAlchemy 2 models: developers, apps, access tokens, tasks, segment files, group streams, callbacks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Developer(Base):
    __tablename__ = "developers"

    dev_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The secret signs the developer's tokens (HMAC, or the vendor's AES), so it must be kept readable:
    # it is stored sealed (`Settings.secret_box`, kind "developer"), never in the clear; never logged.
    secret: Mapped[str] = mapped_column(String(512))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)


class App(Base):
    __tablename__ = "apps"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dev_id: Mapped[str] = mapped_column(ForeignKey("developers.dev_id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)
    # Webhooks (cloudrec extension): empty URL = no callbacks. The secret signs them (HMAC), so it must
    # be kept readable: stored sealed (`Settings.secret_box`, kind "callback"), "" for none; never logged.
    callback_url: Mapped[str] = mapped_column(Text, default="")
    callback_secret: Mapped[str] = mapped_column(String(512), default="")


class AccessToken(Base):
    __tablename__ = "access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex, never the token
    dev_id: Mapped[str] = mapped_column(ForeignKey("developers.dev_id", ondelete="CASCADE"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class Task(Base):
    __tablename__ = "tasks"
    # task/list pages newest first (created_at, then id) within the app, a group, a status or a start time
    # range; the auto-task rule looks up a group's active tasks. The id ends the page indexes, so that
    # PostgreSQL too reads a page in index order and finds a deep page's ids in the index alone.
    __table_args__ = (
        Index("ix_tasks_app_created", "app_id", "created_at", "id"),
        Index("ix_tasks_app_group_created", "app_id", "group_id", "created_at", "id"),
        Index("ix_tasks_app_status_created", "app_id", "status", "created_at", "id"),
        Index("ix_tasks_app_started", "app_id", "start_time"),
        Index("ix_tasks_app_group_status", "app_id", "group_id", "status"),
        Index("ix_tasks_lease", "status", "lease_expires"),  # the scan for expired leases
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(String(200))
    seq: Mapped[str] = mapped_column(Text, default="")
    file_name: Mapped[str] = mapped_column(String(200))
    file_type: Mapped[int] = mapped_column(Integer, default=0)
    file_duration: Mapped[int] = mapped_column(Integer, default=60)
    width: Mapped[int] = mapped_column(Integer, default=1920)
    height: Mapped[int] = mapped_column(Integer, default=1080)
    record_mode: Mapped[int] = mapped_column(Integer, default=0)
    frame_rate: Mapped[int] = mapped_column(Integer, default=30)
    timeout: Mapped[int] = mapped_column(Integer, default=600)
    auto: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    layout: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    captions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)  # set/subtitle
    company_id: Mapped[str] = mapped_column(String(200), default="", server_default="")  # vendor field
    # Whether `auto` is set, as a plain column: task/list shows it without reading the JSON.
    is_auto: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    status: Mapped[int] = mapped_column(Integer, default=1)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(Text, default="")
    # The lease of the recorder running the task: its owner (the server instance that started it), an
    # epoch bumped by every takeover (a recorder's writes count only with the current one) and an
    # expiry (Unix, wall clock) that the recorder's progress renews. None: never leased.
    host_id: Mapped[str] = mapped_column(String(200), default="")
    lease_epoch: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires: Mapped[float | None] = mapped_column(Float, nullable=True)
    # What the recorders before the current one recorded (its own figures start at 0).
    media_base: Mapped[float] = mapped_column(Float, default=0.0)
    flow_base: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)  # not recorded
    restarts: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)  # takeover times (Unix)
    # Bumped by every change of the desired state (layout, captions, paused, finish), with the request's
    # Unix time: the server owning the recorder relays changes that another server received.
    desired_seq: Mapped[int] = mapped_column(Integer, default=0)
    desired_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    created_at: Mapped[float] = mapped_column(Float)
    start_time: Mapped[float | None] = mapped_column(Float, nullable=True)  # recording started (status 2)
    stop_time: Mapped[float | None] = mapped_column(Float, nullable=True)  # finish called / timed out
    done_time: Mapped[float | None] = mapped_column(Float, nullable=True)  # status 6 or -1 reached

    media_duration: Mapped[float] = mapped_column(Float, default=0.0)
    record_duration: Mapped[float] = mapped_column(Float, default=0.0)
    flow_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    files_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # The figures of the first finish reply, answered again by every later finish (idempotent).
    finish_media_duration: Mapped[int | None] = mapped_column(Integer, nullable=True)
    finish_record_duration: Mapped[int | None] = mapped_column(Integer, nullable=True)
    finish_flow_kb: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class File(Base):
    __tablename__ = "files"
    __table_args__ = (Index("ix_files_task_index", "task_id", "index", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    duration: Mapped[float] = mapped_column(Float)
    start_time: Mapped[float] = mapped_column(Float)
    stored: Mapped[bool] = mapped_column(Boolean, default=False)  # storage confirmed
    local_path: Mapped[str] = mapped_column(Text, default="")  # the only copy until `stored`
    poster_key: Mapped[str] = mapped_column(String(1024), default="")  # its poster JPEG ("" = none)
    # The stream of a per-stream (record_mode 1) file; None for a composite's file.
    user_id: Mapped[str | None] = mapped_column(String(200), nullable=True, default=None)
    media_type: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    media_id: Mapped[str | None] = mapped_column(String(200), nullable=True, default=None)
    start_offset: Mapped[float | None] = mapped_column(
        Float, nullable=True, default=None
    )  # s from task start


class GroupStream(Base):
    __tablename__ = "group_streams"
    __table_args__ = (
        Index("ix_streams_key", "app_id", "group_id", "user_id", "media_type", "media_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # join order
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[int] = mapped_column(Integer)
    media_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    publish_time: Mapped[float] = mapped_column(Float)


class GroupMember(Base):
    """First time each user published into a group: the group's join order survives unpublish."""

    __tablename__ = "group_members"
    __table_args__ = (Index("ix_members_key", "app_id", "group_id", "user_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str] = mapped_column(String(200))
    joined_at: Mapped[float] = mapped_column(Float)


class CallbackEvent(Base):
    """The outbox of webhook events: written with the state change, deleted once delivered."""

    __tablename__ = "callback_outbox"
    __table_args__ = (Index("ix_outbox_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # delivery order
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id", ondelete="CASCADE"), index=True)
    record_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the JSON sent, byte for byte (UTF-8)
    state: Mapped[int] = mapped_column(Integer, default=0)  # 0 pending, 2 given up
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)  # wall clock: the retry window starts here
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)  # wall clock
    last_error: Mapped[str] = mapped_column(Text, default="")
