"""Request and reply models of the contract (`spec/API.md`): field names, types, defaults, ranges.

Integers arrive as JSON numbers or numeric strings (`"mode": "1"`), never as booleans or fractions;
`user_id` and `media_id` as numbers or strings (kept as strings); `null` means "not given"; unknown
fields are ignored. A value out of range is an error (6050030003), never clamped.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cloudrec.limits import (
    MAX_AUDIO_ENTRIES,
    MAX_CAPTIONS,
    MAX_SEQ_CHARS,
    MAX_TIME_TEXT_CHARS,
    MAX_VIDEO_TILES,
)

_INT_TEXT = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: int() would take "١٠٠" (Arabic-Indic) as 100
_MAX_DIGITS = 30  # longer numeric strings are out of every range; don't spend time converting them
INT32_MAX = 2**31 - 1


def _to_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "must be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise PydanticCustomError("int_type", "must be an integer")
    if isinstance(value, str):
        text = value.strip()
        if _INT_TEXT.fullmatch(text):
            digits = text.lstrip("+-")
            if len(digits) > _MAX_DIGITS:
                return -(10**_MAX_DIGITS) if text.startswith("-") else 10**_MAX_DIGITS
            return int(text)
        raise PydanticCustomError("int_parsing", "must be an integer (a number or a numeric string)")
    raise PydanticCustomError("int_type", "must be an integer")


def clean_text(value: str) -> str:
    """Reject what no database column can hold: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise PydanticCustomError("string_nul", "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("string_unicode", "must be valid Unicode text") from None
    return value


def _to_id(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("id_type", "must be a string or an integer, not a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    raise PydanticCustomError("id_type", "must be a string or an integer")


ToInt = BeforeValidator(_to_int)  # goes after the Field constraints: they must apply to the int
CleanText = AfterValidator(clean_text)
Id = Annotated[
    str,
    Field(min_length=1, max_length=200),
    BeforeValidator(_to_id),
    AfterValidator(clean_text),
    WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "integer"}]}),
]
OptionalId = Annotated[
    str,
    Field(max_length=200),
    BeforeValidator(_to_id),
    AfterValidator(clean_text),
    WithJsonSchema({"anyOf": [{"type": "string", "maxLength": 200}, {"type": "integer"}]}),
]
AppId = Annotated[
    str, Field(min_length=1, max_length=64, description="the app, one of the developer's"), CleanText
]
GroupId = Annotated[str, Field(min_length=1, max_length=200, description="the group (room)"), CleanText]
RecordId = Annotated[
    str, Field(min_length=1, max_length=64, description="the task, as init answered it"), CleanText
]
Seq = Annotated[str, Field(max_length=MAX_SEQ_CHARS, description="echoed back unchanged"), CleanText]
CropMode = Annotated[
    int,
    Field(ge=1, le=3, description="1 stretch, 2 keep aspect and fill (crop), 3 keep aspect and fit (pad)"),
    ToInt,
]
Page = Annotated[int, Field(ge=1, le=INT32_MAX, description="1-based page number"), ToInt]
# Whiteboard: 4 in the vendor's numbering, 3 in the seed's; both are read, as one value inside.
VideoMediaType = Annotated[
    Literal[0, 2, 3, 4],
    BeforeValidator(_to_int),
    Field(description="0 screen share, 2 camera, 4 whiteboard (3: the same whiteboard)"),
]
AnyMediaType = Annotated[
    Literal[0, 1, 2, 3, 4],
    BeforeValidator(_to_int),
    Field(description="0 screen share, 1 audio, 2 camera, 4 whiteboard (3: the same whiteboard)"),
]
WHITEBOARD_TYPES = (3, 4)


def check_user(user_id: str, media_type: int) -> None:
    """Only the group's whiteboard is published (and placed) without a user."""
    if not user_id and media_type not in WHITEBOARD_TYPES:
        raise PydanticCustomError(
            "field_error",
            "user_id must not be empty: only a whiteboard (media_type 4) may be without a user",
        )


class ContractModel(BaseModel):
    """A request model: unknown fields ignored, `null` the same as leaving a field out."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class QueryModel(ContractModel):
    """Query parameters: an empty value (`?group_id=`) is the same as leaving it out."""

    @model_validator(mode="before")
    @classmethod
    def _drop_empty(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data


# ---- requests ------------------------------------------------------------------------------------


class AutoRequest(ContractModel):
    type: Annotated[
        Literal[1, 2], BeforeValidator(_to_int), Field(description="1 equal grid, 2 main + subs")
    ] = 1
    user_id: Annotated[
        OptionalId, Field(description='main user of type 2; default (or "") the first joined')
    ] = ""
    media_type: Annotated[
        Literal[2], BeforeValidator(_to_int), Field(description="2: screen share > camera > whiteboard")
    ] = 2
    media_count: Annotated[int, Field(ge=1, le=9, description="most video tiles"), ToInt] = 9
    crop_mode: CropMode = 2
    caption: Annotated[
        Literal[0, 1],
        BeforeValidator(_to_int),
        Field(description="1: write each tile's user id at its bottom-left corner (cloudrec extension)"),
    ] = 0
    main_media_type: (
        Annotated[
            Literal[0, 2, 3, 4],
            BeforeValidator(_to_int),
            Field(
                description="type 2: the main user's media in the main tile: 0 screen share, 2 camera, "
                "4 whiteboard (3 the same; the group's whiteboard when the user has none); "
                "default the priority of media_type"
            ),
        ]
        | None
    ) = None


class InitRequest(ContractModel):
    app_id: AppId
    group_id: GroupId
    file_name: Annotated[
        str,
        Field(max_length=200, description="without extension; default the record_id; sanitised"),
        CleanText,
    ] = ""
    file_type: Annotated[Literal[0, 1], BeforeValidator(_to_int), Field(description="0 MP4, 1 MP3")] = 0
    file_duration: Annotated[int, Field(ge=15, le=300, description="segment length in minutes"), ToInt] = 60
    width: Annotated[int, Field(ge=1, le=1920, description="canvas width"), ToInt] = 1920
    height: Annotated[int, Field(ge=1, le=1080, description="canvas height"), ToInt] = 1080
    record_mode: Annotated[
        Literal[0, 1],
        BeforeValidator(_to_int),
        Field(description="0 mixed recording, 1 every stream on its own (per-stream, no re-encoding)"),
    ] = 0
    frame_rate: Annotated[int, Field(ge=1, le=30), ToInt] = 30
    timeout: Annotated[
        int, Field(ge=5, le=1800, description="seconds without media or command → finish"), ToInt
    ] = 600
    auto: Annotated[AutoRequest | None, Field(description="present (even {}) → automatic recording")] = None
    seq: Seq = ""
    company_id: Annotated[OptionalId, Field(description="the vendor's company id: kept and listed")] = ""
    white_board: Annotated[
        Literal[0, 1],
        BeforeValidator(_to_int),
        Field(description="1: automatic layouts include the group's whiteboard (published without a user)"),
    ] = 0
    # record_mode 1 only (cloudrec extension; ignored otherwise): the streams to record, an allow list
    audio_list: list[AudioItem] | None = Field(None, description="record_mode 1: only these audio streams")
    video_list: list[VideoItem] | None = Field(None, description="record_mode 1: only these video streams")

    @model_validator(mode="before")
    @classmethod
    def _lists_of_per_stream_only(cls, data: Any) -> Any:
        """A composite's init ignores audio_list/video_list (unknown fields of the contract's init)."""
        if isinstance(data, dict) and str(data.get("record_mode", 0)).strip() != "1":
            return {k: v for k, v in data.items() if k not in ("audio_list", "video_list")}
        return data


class RecordRequest(ContractModel):
    app_id: AppId
    record_id: RecordId


class AudioItem(ContractModel):
    user_id: Id
    media_id: Id
    media_type: Annotated[Literal[1], BeforeValidator(_to_int), Field(description="1 audio")] = 1


class VideoItem(ContractModel):
    user_id: Annotated[OptionalId, Field(description='"" only for the group\'s whiteboard')]
    media_id: Id
    media_type: VideoMediaType
    x: Annotated[int, Field(ge=0, le=1920), ToInt] = 0
    y: Annotated[int, Field(ge=0, le=1080), ToInt] = 0
    w: Annotated[int, Field(ge=1, le=1920), ToInt] = 320
    h: Annotated[int, Field(ge=1, le=1080), ToInt] = 240
    crop_mode: CropMode = 1

    @model_validator(mode="after")
    def _user(self) -> VideoItem:
        check_user(self.user_id, self.media_type)
        return self


class LayoutRequest(ContractModel):
    app_id: AppId
    record_id: RecordId
    seq: Seq = ""
    audio_list: list[AudioItem] = Field(
        default_factory=list,
        max_length=MAX_AUDIO_ENTRIES,
        description="audio streams mixed (at most 25; 10 in the hst profile)",
    )
    video_list: list[VideoItem] = Field(
        default_factory=list,
        max_length=MAX_VIDEO_TILES,
        description="tiles, drawn in list order (at most 25; 16 in the hst profile)",
    )


_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


def _color(value: str) -> str:
    if not _COLOR.fullmatch(value):
        raise PydanticCustomError(
            "color", 'must be a colour "#RRGGBB", got {value}', {"value": repr(value)[:40]}
        )
    return value.upper()


class SubtitleItem(ContractModel):
    content: Annotated[
        str,
        Field(min_length=1, max_length=256, description="the text (CJK included), one or more lines"),
        CleanText,
    ]
    color: Annotated[str, Field(description='text colour "#RRGGBB"'), AfterValidator(_color)]
    x: Annotated[int, Field(ge=0, le=1920, description="left edge of the text on the canvas"), ToInt]
    y: Annotated[int, Field(ge=0, le=1080, description="top of the text line on the canvas"), ToInt]
    size: Annotated[int, Field(ge=8, le=200, description="font size: pixel height of a line"), ToInt] = 24


class SubtitleRequest(ContractModel):
    app_id: AppId
    record_id: RecordId
    seq: Seq = ""
    subtitle_list: Annotated[
        list[SubtitleItem],
        Field(max_length=MAX_CAPTIONS, description="every caption shown from now on; [] clears them"),
    ]


MAX_RECORD_LIST = 1000
# A JSON array string of MAX_RECORD_LIST record_ids (64 characters, quoted, comma, space) is shorter.
_MAX_RECORD_LIST_TEXT = MAX_RECORD_LIST * (64 + 4) + 2


def _record_list(value: Any) -> Any:
    """Form bodies send record_list repeated or as a JSON array string; one plain string is one id.

    The string is a flat array of strings: anything nested (50,000 `[` made the parser recurse until
    RecursionError) or longer than the longest valid array is refused before it is parsed."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            if len(text) > _MAX_RECORD_LIST_TEXT or text.count("[") > 1 or "{" in text:
                raise PydanticCustomError(
                    "json_array", "must be a flat JSON array of at most {n} record_id", {"n": MAX_RECORD_LIST}
                )
            try:
                return json.loads(text)
            except (ValueError, RecursionError):
                raise PydanticCustomError("json_array", "must be an array of record_id") from None
        return [value]
    return value


class DeleteRequest(ContractModel):
    mode: Annotated[
        Literal[1, 2, 3],
        BeforeValidator(_to_int),
        Field(description="1 files and task records, 2 files only, 3 task records only (files stay)"),
    ] = 2
    app_id: AppId
    record_list: Annotated[list[RecordId], BeforeValidator(_record_list), Field(max_length=MAX_RECORD_LIST)]


class UnpublishRequest(ContractModel):
    app_id: AppId
    group_id: GroupId
    user_id: Annotated[OptionalId, Field(description='"" only for the group\'s whiteboard')]
    media_type: AnyMediaType
    media_id: Id

    @model_validator(mode="after")
    def _user(self) -> UnpublishRequest:
        check_user(self.user_id, self.media_type)
        return self


class PublishRequest(UnpublishRequest):
    url: Annotated[
        str, Field(min_length=1, max_length=4096, description="where the stream can be pulled"), CleanText
    ]


class CallbackRequest(ContractModel):
    app_id: AppId
    url: Annotated[
        str,
        Field(max_length=2048, description="http(s) URL that receives the events; empty turns callbacks off"),
        CleanText,
    ]
    rotate_secret: Annotated[
        bool, Field(description="make a new callback secret (returned in the reply, only this once)")
    ] = False


class TaskListQuery(QueryModel):
    app_id: AppId
    record_id: RecordId | None = None
    group_id: GroupId | None = None
    status: (
        Annotated[
            Literal[-1, 0, 1, 2, 3, 4, 5, 6, 7],
            BeforeValidator(_to_int),
            Field(description="one status; 0 every task (no filter), 7 the suspended tasks"),
        ]
        | None
    ) = None
    start_time: (
        Annotated[
            str,
            Field(
                max_length=MAX_TIME_TEXT_CHARS,
                description="tasks started at or after: YYYY-MM-DD HH:MM:SS, ISO 8601 or Unix s",
            ),
            CleanText,
        ]
        | None
    ) = None
    stop_time: (
        Annotated[
            str,
            Field(max_length=MAX_TIME_TEXT_CHARS, description="tasks stopped at or before (same forms)"),
            CleanText,
        ]
        | None
    ) = None
    page: Page = 1
    page_size: Annotated[int, Field(ge=1, le=500), ToInt] = 50


class FileUrlQuery(QueryModel):
    app_id: AppId
    record_id: RecordId
    page: Page = 1


class StreamListQuery(QueryModel):
    app_id: AppId
    group_id: GroupId


# ---- replies -------------------------------------------------------------------------------------


class ErrorReply(BaseModel):
    """Every failure: business errors with HTTP 200, unknown paths 404, wrong methods 405."""

    code: int = Field(description="an error code of the contract")
    msg: str = Field(description="the reason, naming the offending field")


class OkReply(BaseModel):
    code: Literal[0] = 0
    msg: str = "OK"


class AccessTokenResult(BaseModel):
    timeout: int = Field(description="seconds until the access_token expires")
    access_token: str = Field(description="32 hex characters; send it as the Authorization header")


class AccessTokenReply(OkReply):
    result: AccessTokenResult


class InitReply(OkReply):
    # The original document: "id: the login reply is always 8194". Clients may check it, so it stays.
    id: int = 8194
    seq: str
    record_id: str


class LayoutReply(OkReply):
    seq: str
    record_id: str


class RecordReply(OkReply):
    record_id: str


class Gap(BaseModel):
    """A part of the call that was not recorded: a recorder died and its successor went on."""

    start_time: str | None = Field(description="YYYY-MM-DD HH:MM:SS: when the recorded media stops")
    offset: float = Field(description="seconds of media recorded before the gap (where the files join)")
    duration: float = Field(description="seconds not recorded")


class FinishReply(OkReply):
    record_id: str
    media_duration: int = Field(description="seconds of media recorded, pauses excluded")
    record_duration: int = Field(description="seconds from recording start to finish")
    flow: int = Field(description="kilobytes pulled from the sources")
    gaps: list[Gap] = Field(default_factory=list, description="cloudrec: parts not recorded (recorder died)")


class TaskItem(BaseModel):
    record_id: str
    record_mode: int
    group_id: str
    start_time: str | None = Field(description="YYYY-MM-DD HH:MM:SS; null before the recording started")
    stop_time: str | None = Field(description="YYYY-MM-DD HH:MM:SS; null until finished")
    status: int = Field(
        description="1 init, 2 recording (profile hst: 7 while suspended), 3 queued, 4 encoding, "
        "5 uploading, 6 done, -1 error"
    )
    file_size: int = Field(description="bytes of all segment files")
    paused: bool
    file_name: str = Field(description="the files' name without extension and index")
    company_id: str = Field(description="as init was given it")
    record_time: int = Field(description="seconds recorded so far, pauses excluded")
    width: int = Field(description="canvas width")
    height: int = Field(description="canvas height")
    auto: int = Field(description="1 automatic recording, 0 manual")
    gaps: list[Gap] = Field(default_factory=list, description="cloudrec: parts not recorded (recorder died)")


class TaskListReply(OkReply):
    total_num: int
    record_list: list[TaskItem]


class FileItem(BaseModel):
    url: str = Field(description="signed, expiring; a plain HTTP GET with Range support fetches it")
    md5: str = Field(description="hex md5 of the whole file")
    file_name: str = Field(description="with extension, e.g. class1_0001.mp4")
    extent: str = Field(description='JSON: {"index","size","duration","start_time"}')
    play_url: str = Field(description="signed, expiring; plays in a browser (served inline, with Range)")


class FileUrlReply(OkReply):
    total_num: int = Field(description="files of the task (all pages)")
    page: int
    data_list: list[FileItem]


class DeleteReply(OkReply):
    msg: str = "ok"


class CallbackReply(OkReply):
    app_id: str
    url: str = Field(description="the callback URL now set (empty: callbacks off)")
    secret: str | None = Field(
        None, description="the new callback secret: only when it was just made (first URL, or rotated)"
    )


class StreamItem(BaseModel):
    user_id: str
    media_type: int
    media_id: str
    url: str
    publish_time: str


class StreamListReply(OkReply):
    total_num: int
    stream_list: list[StreamItem]
