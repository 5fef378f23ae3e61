"""One API call, described without I/O: what to send (`request`) and what its reply means (`reply_of`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

import httpx
from pydantic import BaseModel, ValidationError

from cloudrec.client._errors import ProtocolError, api_error
from cloudrec.client._models import SnapshotPicture

R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Call(Generic[R]):
    """An endpoint with its arguments: method, path, query or JSON body, and the model of its reply.

    `authorization` set: sent as is (the developer token of `/access/token`); else an authenticated
    call gets the client's access_token."""

    method: Literal["GET", "POST"]
    path: str
    reply: type[R]
    params: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None
    authorization: str | None = None


def request(
    http: httpx.Client | httpx.AsyncClient, call: Call[Any], access_token: str | None
) -> httpx.Request:
    """The HTTP request of `call` (the access_token in `Authorization` unless the call carries its own)."""
    auth = call.authorization if call.authorization is not None else access_token
    headers = {"Authorization": auth} if auth is not None else {}
    return http.build_request(call.method, call.path, params=call.params, json=call.body, headers=headers)


def contract_json(response: httpx.Response) -> dict[str, Any]:
    """The reply as the contract's JSON object (`code` an int, `msg` a string), else ProtocolError."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("code"), int)
        and not isinstance(data["code"], bool)
        and isinstance(data.get("msg", ""), str)
    ):
        raise ProtocolError(
            f"HTTP {response.status_code} from {response.request.url.path}: not the contract's JSON "
            f"({response.headers.get('content-type', 'no content type')})",
            response,
        )
    return data


def reply_of(call: Call[R], response: httpx.Response) -> R:
    """The typed reply of a successful call; a contract error raises its ApiError subclass."""
    if call.reply is SnapshotPicture and response.headers.get("content-type", "").startswith("image/"):
        picture = SnapshotPicture(
            jpeg=response.content,
            at=float(response.headers.get("X-Snapshot-Time", "0")),
            tiles=json.loads(response.headers.get("X-Snapshot-Tiles", "[]")),
        )
        return cast(R, picture)
    data = contract_json(response)
    if data["code"] != 0:
        raise api_error(data["code"], str(data.get("msg", "")), response.status_code, data)
    try:
        return call.reply.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(f"unexpected reply of {call.path}: {exc}", response) from exc


def check_file(response: httpx.Response) -> bytes:
    """The body of a file download; a refusal (expired link, deleted file) raises its ApiError."""
    if response.status_code in (200, 206):
        return response.content
    data = contract_json(response)
    raise api_error(data["code"], str(data.get("msg", "")), response.status_code, data)
