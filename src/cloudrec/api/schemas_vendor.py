"""Request and reply models of the vendor's later calls: set-output-overlay and /server/address.

The same conventions as `schemas` (numbers or numeric strings, `null` = absent, unknown fields ignored,
out of range → 6050030003).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from cloudrec.api.schemas import (
    AppId,
    CleanText,
    ContractModel,
    QueryModel,
    RecordId,
    Seq,
    ToInt,
    _color,
    _to_int,
)
from cloudrec.limits import MAX_CAPTIONS

RGB_MAX = 0xFFFFFF


def _rgb_color(value: Any) -> Any:
    """set-output-overlay's `color`: an RGB integer (0xRRGGBB, numeric strings too) or "#rrggbb"."""
    if isinstance(value, str) and value.strip().startswith("#"):
        return _color(value.strip())
    try:
        number = _to_int(value)
    except PydanticCustomError:
        number = -1  # not a number: the same answer as one out of range
    if not 0 <= number <= RGB_MAX:
        raise PydanticCustomError(
            "field_error",
            'color must be an RGB integer 0..16777215 or "#rrggbb", got {value}',
            {"value": repr(value)[:40]},
        )
    return f"#{number:06X}"


def _no_logos(value: list[Any]) -> list[Any]:
    if value:
        raise PydanticCustomError(
            "field_error", "logo_list is not offered by this server: it must be empty or left out"
        )
    return value


OVERLAY_TEXT: Literal[1] = 1
OVERLAY_CLOCK: Literal[2] = 2


class OverlaySubtitle(ContractModel):
    type: Annotated[
        Literal[1, 2],
        BeforeValidator(_to_int),
        Field(description="1 static text (content), 2 the current time YYYY-MM-DD HH:MM:SS, ticking"),
    ] = OVERLAY_TEXT
    content: Annotated[
        str,
        Field(max_length=256, description="the text of type 1 (CJK included); type 2 does not use it"),
        CleanText,
    ] = ""
    x: Annotated[int, Field(ge=0, le=1920, description="left edge of the text on the canvas"), ToInt] = 0
    y: Annotated[int, Field(ge=0, le=1080, description="top of the text line on the canvas"), ToInt] = 0
    color: Annotated[
        str,
        BeforeValidator(_rgb_color),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": RGB_MAX},
                    {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$"},
                ],
                "description": 'text colour: RGB integer 0xRRGGBB or "#rrggbb"',
                "default": 0,
            }
        ),
    ] = "#000000"
    size: Annotated[int, Field(ge=1, le=200, description="font size: pixel height of a line"), ToInt] = 30
    transparency: Annotated[
        int, Field(ge=0, le=100, description="opacity in percent: 100 opaque ... 0 invisible"), ToInt
    ] = 100

    @model_validator(mode="after")
    def _text(self) -> OverlaySubtitle:
        if self.type == OVERLAY_TEXT and not self.content.strip():
            raise PydanticCustomError("field_error", "content must not be empty for a text (type 1)")
        return self


class OverlayRequest(ContractModel):
    app_id: AppId
    record_id: RecordId
    seq: Seq = ""
    subtitle_list: Annotated[
        list[OverlaySubtitle],
        Field(max_length=MAX_CAPTIONS, description="every caption shown from now on; [] clears them"),
    ] = Field(default_factory=list)
    logo_list: Annotated[
        list[Any],
        AfterValidator(_no_logos),
        Field(description="logos (server file paths) are not offered: must be empty or absent"),
    ] = Field(default_factory=list)


class ServerAddressQuery(QueryModel):
    appType: Annotated[
        Literal[8, 10],
        BeforeValidator(_to_int),
        Field(description="10 the recording API, 8 the event gateway: both are this server"),
    ]


class ServerAddressReply(BaseModel):
    """The vendor's discovery reply: `message`, not `msg` (both are sent)."""

    code: Literal[0] = 0
    message: str = "OK"
    msg: str = "OK"
    result: str = Field(description="this server's public base URL")
