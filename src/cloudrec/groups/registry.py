"""Publish, unpublish and list the streams of a group; running recordings of the group are told."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloudrec import egress
from cloudrec.context import AppContext
from cloudrec.db.models import GroupMember, GroupStream
from cloudrec.errors import ParamError
from cloudrec.recorder.build import stream_infos
from cloudrec.recorder.spec import MediaType, StreamInfo
from cloudrec.tasks.locks import process_locks

log = logging.getLogger(__name__)


def check_url(url: str, allowed_schemes: list[str]) -> None:
    """A pullable URL of an allowed scheme with a host; anything else is a parameter error on `url`."""
    if not url or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ParamError("url must be a non-empty URL without spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ParamError(f"url is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    allowed = [s.lower() for s in allowed_schemes]
    if scheme not in allowed:
        raise ParamError(
            f"url scheme {scheme + ':' if scheme else '(none)'} is not allowed; allowed: {allowed}"
        )
    if not parts.netloc:
        raise ParamError("url must name a host, e.g. rtmp://host/app/stream")


class GroupRegistry:
    """The published streams of the groups of one app, stored in the database."""

    def __init__(self, ctx: AppContext, session: Session) -> None:
        self.ctx = ctx
        self.session = session

    # ---- queries ----------------------------------------------------------------------------

    def join_order(self, app_id: str, group_id: str) -> dict[str, int]:
        rows = self.session.execute(
            select(GroupMember.user_id, GroupMember.id).where(
                GroupMember.app_id == app_id, GroupMember.group_id == group_id
            )
        )
        return {user_id: seq for user_id, seq in rows}

    def streams(self, app_id: str, group_id: str) -> list[GroupStream]:
        """The group's streams in join order: users by first publish, each user's streams by publish."""
        order = self.join_order(app_id, group_id)
        rows = self.session.scalars(
            select(GroupStream).where(GroupStream.app_id == app_id, GroupStream.group_id == group_id)
        ).all()
        return sorted(rows, key=lambda r: (order.get(r.user_id, 1 << 62), r.id))

    def stream_infos(self, app_id: str, group_id: str) -> tuple[StreamInfo, ...]:
        """What recorders of the group pull (see `recorder.build.stream_infos`)."""
        order = self.join_order(app_id, group_id)
        rows = self.session.scalars(
            select(GroupStream).where(GroupStream.app_id == app_id, GroupStream.group_id == group_id)
        ).all()
        return stream_infos(rows, order)

    # ---- changes ----------------------------------------------------------------------------

    def publish(
        self, app_id: str, group_id: str, user_id: str, media_type: MediaType, media_id: str, url: str
    ) -> None:
        """Announce (or move) one stream; the user's first publish fixes their place in the group."""
        check_url(url, self.ctx.settings.allowed_url_schemes)
        try:
            egress.check_url(url, egress.stream_policy(self.ctx.settings))
        except egress.EgressRefused as exc:
            raise ParamError(f"url refused: {exc}") from None
        with process_locks.hold(("group", app_id, group_id)):
            for attempt in (1, 2):
                try:
                    changed = self._upsert(app_id, group_id, user_id, media_type, media_id, url)
                    self.session.commit()
                    break
                except IntegrityError:
                    # Another server process published the same stream or user at the same moment.
                    self.session.rollback()
                    if attempt == 2:
                        raise
            if changed:
                log.info("group %s/%s: %s published %s/%s", app_id, group_id, user_id, media_type, media_id)
                self._notify(app_id, group_id)

    def unpublish(
        self, app_id: str, group_id: str, user_id: str, media_type: MediaType, media_id: str
    ) -> bool:
        """Withdraw one stream (an unknown one is fine); True when something was removed."""
        with process_locks.hold(("group", app_id, group_id)):
            result = self.session.execute(
                delete(GroupStream).where(
                    GroupStream.app_id == app_id,
                    GroupStream.group_id == group_id,
                    GroupStream.user_id == user_id,
                    GroupStream.media_type == int(media_type),
                    GroupStream.media_id == media_id,
                )
            )
            self.session.commit()
            removed = bool(getattr(result, "rowcount", 0))
            if removed:
                log.info("group %s/%s: %s unpublished %s/%s", app_id, group_id, user_id, media_type, media_id)
                self._notify(app_id, group_id)
            return removed

    def _upsert(
        self, app_id: str, group_id: str, user_id: str, media_type: MediaType, media_id: str, url: str
    ) -> bool:
        now = self.ctx.clock.time()
        member = self.session.scalar(
            select(GroupMember.id).where(
                GroupMember.app_id == app_id, GroupMember.group_id == group_id, GroupMember.user_id == user_id
            )
        )
        if member is None:
            self.session.add(GroupMember(app_id=app_id, group_id=group_id, user_id=user_id, joined_at=now))
            self.session.flush()
        row = self.session.scalar(
            select(GroupStream).where(
                GroupStream.app_id == app_id,
                GroupStream.group_id == group_id,
                GroupStream.user_id == user_id,
                GroupStream.media_type == int(media_type),
                GroupStream.media_id == media_id,
            )
        )
        if row is None:
            self.session.add(
                GroupStream(
                    app_id=app_id,
                    group_id=group_id,
                    user_id=user_id,
                    media_type=int(media_type),
                    media_id=media_id,
                    url=url,
                    publish_time=now,
                )
            )
            self.session.flush()
            return True
        if row.url == url:
            return False  # a repeated announcement (e.g. a hook retried): nothing changes
        row.url = url
        row.publish_time = now
        return True

    def _notify(self, app_id: str, group_id: str) -> None:
        self.ctx.host.group_changed(app_id, group_id, self.stream_infos(app_id, group_id))
