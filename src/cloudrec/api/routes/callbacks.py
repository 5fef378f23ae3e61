"""`POST /v1/app/callback`: an app's webhook URL (cloudrec extension)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cloudrec.api.deps import CtxDep, SessionDep, owned_body
from cloudrec.api.openapi import request_body
from cloudrec.api.schemas import CallbackReply, CallbackRequest, ErrorReply
from cloudrec.callbacks.apps import set_callback
from cloudrec.egress import webhook_policy

router = APIRouter(prefix="/v1/app", tags=["callbacks"])

CallbackBody = Annotated[CallbackRequest, Depends(owned_body(CallbackRequest))]


@router.post(
    "/callback", response_model=CallbackReply | ErrorReply, openapi_extra=request_body(CallbackRequest)
)
def callback(body: CallbackBody, ctx: CtxDep, session: SessionDep) -> CallbackReply:
    """Set, change or clear ("") the callback URL; the secret is returned once, when it is made."""
    policy = webhook_policy(ctx.settings)
    setting = set_callback(
        session, ctx.settings.secret_box, body.app_id, body.url, body.rotate_secret, policy
    )
    session.commit()
    return CallbackReply(app_id=body.app_id, url=setting.url, secret=setting.secret)
