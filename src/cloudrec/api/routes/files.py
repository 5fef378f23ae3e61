"""`/v1/record/file*`: signed download links of a task's files, and deleting files and task records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from cloudrec.api.deps import CtxDep, SessionDep, owned, owned_query
from cloudrec.api.openapi import FORM_TYPES, request_body
from cloudrec.api.parsing import parse_json, read_body, validate
from cloudrec.api.schemas import DeleteReply, DeleteRequest, ErrorReply, FileItem, FileUrlQuery, FileUrlReply
from cloudrec.api.times import zone
from cloudrec.errors import ParamError
from cloudrec.tasks.deletion import delete_records
from cloudrec.tasks.listing import describe_file, file_links

router = APIRouter(prefix="/v1/record", tags=["files"])


async def _form_fields(request: Request) -> dict[str, Any]:
    """Form fields by name; `record_list` (or `record_list[]`) keeps every value it was given."""
    # The form parser reads the body again from the request's cache: bounded like a JSON body.
    request._body = await read_body(request)
    try:
        form = await request.form()
    except StarletteHTTPException as exc:
        raise ParamError(f"malformed form body: {exc.detail}") from None
    except ClientDisconnect:
        raise ParamError("the client went away before sending the whole body") from None
    try:
        data: dict[str, Any] = {}
        for key in set(form.keys()):
            values = form.getlist(key)
            if any(isinstance(v, UploadFile) for v in values):
                raise ParamError(f"{key} must be a text field, not a file")
            name = key.removesuffix("[]")
            if name == "record_list":
                data[name] = values[0] if len(values) == 1 and key == name else list(values)
            else:
                data[name] = values[-1]
        return data
    finally:
        await form.close()


async def parse_delete(request: Request) -> DeleteRequest:
    """The delete request from a JSON, x-www-form-urlencoded or multipart/form-data body."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type in FORM_TYPES:
        return validate(DeleteRequest, await _form_fields(request))
    return validate(DeleteRequest, parse_json(await read_body(request)))


DeleteBody = Annotated[DeleteRequest, Depends(owned(parse_delete))]
UrlQuery = Annotated[FileUrlQuery, Depends(owned_query(FileUrlQuery))]


@router.get("/file/download/url", response_model=FileUrlReply | ErrorReply)
def download_urls(query: UrlQuery, ctx: CtxDep, session: SessionDep) -> FileUrlReply:
    """Signed links, 50 files a page; only once the task is done (or failed with files), else 6050030031."""
    tz = zone(ctx.settings.timezone)
    total, links = file_links(ctx, session, query.app_id, query.record_id, query.page)
    return FileUrlReply(
        total_num=total,
        page=query.page,
        data_list=[FileItem(**describe_file(link, tz)) for link in links],
    )


@router.post(
    "/file", response_model=DeleteReply | ErrorReply, openapi_extra=request_body(DeleteRequest, forms=True)
)
def delete_files(body: DeleteBody, ctx: CtxDep, session: SessionDep) -> DeleteReply:
    """Mode 1 deletes files and task records, mode 2 (default) files only; unfinished task → 6050030003."""
    delete_records(ctx, session, body.app_id, body.record_list, body.mode)
    return DeleteReply()
