"""Plain, picklable descriptions of a recording task, its layout and its progress (no I/O, no `av`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class MediaType(IntEnum):
    """Media types of the contract (`media_type`)."""

    SCREEN = 0
    AUDIO = 1
    CAMERA = 2
    WHITEBOARD = 3


class FileType(IntEnum):
    MP4 = 0
    MP3 = 1


class RecordMode(IntEnum):
    """`record_mode` of the contract."""

    COMPOSITE = 0  # one canvas, one audio mix (media.pipeline)
    PER_STREAM = 1  # every published stream on its own, remuxed (media.perstream)


class TaskStatus(IntEnum):
    """Task status of the contract."""

    INIT = 1
    RECORDING = 2
    QUEUED = 3
    ENCODING = 4
    UPLOADING = 5
    DONE = 6
    ERROR = -1


class CropMode(IntEnum):
    STRETCH = 1  # scale to the tile, ignoring aspect ratio
    FILL = 2  # keep aspect ratio, fill the tile, crop the overflow (centred)
    FIT = 3  # keep aspect ratio, fit inside the tile, pad with the background


@dataclass(frozen=True)
class StreamInfo:
    """One published stream of a group: who, what kind, and where to pull it."""

    user_id: str
    media_type: MediaType
    media_id: str
    url: str
    join_seq: int = 0  # join order inside the group (smaller joined earlier)

    @property
    def key(self) -> tuple[str, str, MediaType]:
        return (self.user_id, self.media_id, self.media_type)


@dataclass(frozen=True)
class VideoTile:
    """One tile of a manual layout; drawn in list order (later tiles on top)."""

    user_id: str
    media_id: str
    media_type: MediaType
    x: int = 0
    y: int = 0
    w: int = 320
    h: int = 240
    crop_mode: CropMode = CropMode.STRETCH


@dataclass(frozen=True)
class AudioRef:
    """One audio stream selected for the mix of a manual layout."""

    user_id: str
    media_id: str
    media_type: MediaType = MediaType.AUDIO


@dataclass(frozen=True)
class Layout:
    """A manual layout: the whole audio and video selection (set/layout replaces it)."""

    video: tuple[VideoTile, ...] = ()
    audio: tuple[AudioRef, ...] = ()


@dataclass(frozen=True)
class AutoSpec:
    """Automatic layout parameters (`auto` of init)."""

    type: int = 1  # 1 = equal grid, 2 = main + subs
    user_id: str | None = None  # main user for type 2 (None: first joined)
    media_type: int = 2  # 2 = priority screen share > camera > whiteboard
    media_count: int = 9
    crop_mode: CropMode = CropMode.FILL
    caption: bool = False  # write each tile's user id at its bottom-left corner


@dataclass(frozen=True)
class Caption:
    """A text drawn on the canvas (set/subtitle): top-left corner at (x, y), `size` pixels high."""

    content: str
    color: str = "#FFFFFF"  # "#RRGGBB"
    x: int = 0
    y: int = 0
    size: int = 24


@dataclass(frozen=True)
class TaskSpec:
    """Everything a recorder process needs to record one task."""

    record_id: str
    app_id: str
    group_id: str
    file_name: str
    file_type: FileType
    segment_seconds: float  # file_duration minutes, scaled by the time-unit setting
    width: int
    height: int
    frame_rate: int
    timeout_seconds: float  # `timeout`, scaled by the time-unit setting
    work_dir: str  # where the recorder writes segment files
    auto: AutoSpec | None = None
    layout: Layout | None = None
    streams: tuple[StreamInfo, ...] = ()
    captions: tuple[Caption, ...] = ()
    paused: bool = False
    x264_preset: str = "veryfast"
    x264_crf: int = 23
    variable_frame_rate: bool = False  # opt-in: skip repeated pictures (see media.segmenter)
    audio_bitrate: int = 128_000
    open_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 5.0
    # Unix time of the request that starts the timeline (init of an automatic task); None: a manual
    # task, whose timeline starts at its first SetLayout, or a test that starts it at once.
    start_at: float | None = None
    # a RecordMode; PER_STREAM: `layout` is the allow list of the streams to record (None: all)
    record_mode: int = 0


# ---- commands: control plane -> recorder process -------------------------------------------


# `at` of a command: the Unix time of the request it carries out (None: when it arrives). The timeline
# starts, pauses, resumes and ends at the request, not at the moment the recorder hears of it.


@dataclass(frozen=True)
class SetLayout:
    layout: Layout
    at: float | None = None  # the first layout of a manual task starts its timeline here


@dataclass(frozen=True)
class SetCaptions:
    """Replace every caption (an empty tuple clears them)."""

    captions: tuple[Caption, ...]
    at: float | None = None


@dataclass(frozen=True)
class SetStreams:
    streams: tuple[StreamInfo, ...]


@dataclass(frozen=True)
class Suspend:
    at: float | None = None


@dataclass(frozen=True)
class Resume:
    at: float | None = None


@dataclass(frozen=True)
class Finish:
    at: float | None = None


Command = SetLayout | SetCaptions | SetStreams | Suspend | Resume | Finish


# ---- progress: recorder process -> control plane --------------------------------------------


@dataclass(frozen=True)
class SegmentInfo:
    """A closed, playable segment file in the recorder's work directory."""

    index: int  # 1-based
    name: str  # file name with extension, e.g. class1_0001.mp4
    path: str
    size: int
    md5: str
    duration: float  # seconds of media
    start_time: float  # Unix time the segment's first frame was recorded
    # The stream of a per-stream recording's file (None for a composite): who, which media, and where
    # the file starts on the task's timeline (seconds from the task's start, pauses excluded).
    user_id: str | None = None
    media_type: int | None = None
    media_id: str | None = None
    start_offset: float | None = None


@dataclass(frozen=True)
class Started:
    """The recorder composes media (first frame written)."""

    at: float


@dataclass(frozen=True)
class Stats:
    media_duration: float  # seconds recorded, pauses excluded
    flow_bytes: int  # bytes pulled from the sources
    skipped_frames: int = 0  # output ticks without a picture because the recorder fell behind


@dataclass(frozen=True)
class SegmentClosed:
    segment: SegmentInfo


@dataclass(frozen=True)
class Finished:
    """Every segment is closed and reported; `stats` are the final figures."""

    stats: Stats
    timed_out: bool = False


@dataclass(frozen=True)
class Failed:
    reason: str


Progress = Started | Stats | SegmentClosed | Finished | Failed
