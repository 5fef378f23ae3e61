"""Request bodies: strict JSON (invalid → 6050030005), forms, and validation errors → 6050030003."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from cloudrec.errors import JsonError, ParamError

MAX_BODY_BYTES = 1024 * 1024
_MAX_INT_DIGITS = 1000  # bigger JSON integers are out of every range: don't convert them
M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request) -> bytes:
    """The whole body, refusing (6050030003) one larger than MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ParamError(f"the request body is larger than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ParamError("the client went away before sending the whole body") from None
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_HUGE: int = 10**_MAX_INT_DIGITS


def _parse_int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        return -_HUGE if text.startswith("-") else _HUGE
    return int(text)


def parse_json(raw: bytes) -> Any:
    """The JSON value of a UTF-8 body; anything that is not strict JSON is a JsonError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonError("JSON parse error: the body is not UTF-8 text") from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise JsonError("JSON parse error: the body is empty, a JSON object is expected")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise JsonError(f"JSON parse error: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise JsonError(f"JSON parse error: {exc}") from None


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ParamError(describe_errors(exc.errors())) from None


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe_error(err: Any) -> str:
    """One pydantic error as a sentence naming the field, e.g. `video_list[0].x out of range: ...`."""
    loc = [p for p in err.get("loc", ()) if p not in ("body", "query", "header", "path")]
    field = _path(loc)
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind in ("model_type", "model_attributes_type", "dict_type") and not field:
        return "the request must be a JSON object"
    name = field or "the request"
    if kind == "field_error":  # a check of ours: its message starts with the name of the field it is about
        msg = str(err.get("msg", ""))
        parent = loc[:-1] if loc and isinstance(loc[-1], str) and msg.startswith(loc[-1]) else loc
        prefix = _path(parent)
        return f"{prefix}.{msg}" if prefix else msg
    if kind == "missing":
        return f"{name} is required"
    if kind == "greater_than_equal":
        return f"{name} out of range: must be >= {ctx.get('ge')}, got {_shown(err.get('input'))}"
    if kind == "less_than_equal":
        return f"{name} out of range: must be <= {ctx.get('le')}, got {_shown(err.get('input'))}"
    if kind == "literal_error":
        return f"{name} out of range: must be {ctx.get('expected')}, got {_shown(err.get('input'))}"
    if kind in ("too_short", "string_too_short"):
        return f"{name} must not be empty" if ctx.get("min_length") == 1 else f"{name} is too short"
    if kind in ("too_long", "string_too_long"):
        unit = "characters" if kind == "string_too_long" else "items"
        return f"{name} is too long: at most {ctx.get('max_length')} {unit}"
    if kind == "string_type":
        return f"{name} must be a string"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{name} must be a JSON object"
    if kind == "list_type":
        return f"{name} must be an array"
    return f"{name} {err.get('msg', 'is invalid')}"


def describe_errors(errors: Sequence[Any]) -> str:
    parts = [describe_error(e) for e in errors[:3]]
    if len(errors) > 3:
        parts.append(f"and {len(errors) - 3} more")
    return "parameter error: " + "; ".join(parts)
