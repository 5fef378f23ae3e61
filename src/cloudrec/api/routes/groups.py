"""`/v1/group/stream/*`: announce, withdraw and list the pullable streams of a group (cloudrec extension)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cloudrec.api.deps import CtxDep, SessionDep, owned_body, owned_query
from cloudrec.api.openapi import request_body
from cloudrec.api.schemas import (
    ErrorReply,
    OkReply,
    PublishRequest,
    StreamItem,
    StreamListQuery,
    StreamListReply,
    UnpublishRequest,
)
from cloudrec.api.times import format_time, zone
from cloudrec.groups.registry import GroupRegistry
from cloudrec.recorder.spec import VENDOR_WHITEBOARD, MediaType

router = APIRouter(prefix="/v1/group/stream", tags=["groups"])

PublishBody = Annotated[PublishRequest, Depends(owned_body(PublishRequest))]
UnpublishBody = Annotated[UnpublishRequest, Depends(owned_body(UnpublishRequest))]
ListQuery = Annotated[StreamListQuery, Depends(owned_query(StreamListQuery))]


@router.post("/publish", response_model=OkReply | ErrorReply, openapi_extra=request_body(PublishRequest))
def publish(body: PublishBody, ctx: CtxDep, session: SessionDep) -> OkReply:
    """One stream of a user; publishing the same stream again moves it to the new url."""
    GroupRegistry(ctx, session).publish(
        body.app_id, body.group_id, body.user_id, MediaType(body.media_type), body.media_id, body.url
    )
    return OkReply()


@router.post("/unpublish", response_model=OkReply | ErrorReply, openapi_extra=request_body(UnpublishRequest))
def unpublish(body: UnpublishBody, ctx: CtxDep, session: SessionDep) -> OkReply:
    """Withdraw one stream; an unknown stream is fine."""
    GroupRegistry(ctx, session).unpublish(
        body.app_id, body.group_id, body.user_id, MediaType(body.media_type), body.media_id
    )
    return OkReply()


@router.get("/list", response_model=StreamListReply | ErrorReply)
def stream_list(query: ListQuery, ctx: CtxDep, session: SessionDep) -> StreamListReply:
    """The group's streams in join order."""
    tz = zone(ctx.settings.timezone)
    hst = ctx.settings.compat == "hst"
    rows = GroupRegistry(ctx, session).streams(query.app_id, query.group_id)
    return StreamListReply(
        total_num=len(rows),
        stream_list=[
            StreamItem(
                user_id=r.user_id,
                media_type=_shown_type(r.media_type, hst),
                media_id=r.media_id,
                url=r.url,
                publish_time=format_time(r.publish_time, tz) or "",
            )
            for r in rows
        ],
    )


def _shown_type(media_type: int, hst: bool) -> int:
    """The whiteboard is listed in the profile's numbering: 3 (seed), 4 (hst, the vendor's)."""
    return VENDOR_WHITEBOARD if hst and media_type == MediaType.WHITEBOARD else media_type
