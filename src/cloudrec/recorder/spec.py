"""Plain, picklable descriptions of a recording task, its layout and its progress (no I/O, no `av`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from cloudrec.egress import EgressPolicy
from cloudrec.storage.spec import StorageSpec


class MediaType(IntEnum):
    """Media types of the contract (`media_type`); the vendor's whiteboard number 4 is read as 3."""

    SCREEN = 0
    AUDIO = 1
    CAMERA = 2
    WHITEBOARD = 3

    @classmethod
    def _missing_(cls, value: object) -> MediaType | None:
        # The vendor's deployed service numbers the whiteboard 4; the seed contract 3. One value inside.
        return cls.WHITEBOARD if value == VENDOR_WHITEBOARD else None


VENDOR_WHITEBOARD = 4  # `media_type` of the whiteboard in the vendor's numbering (alias of 3)
GROUP_WHITEBOARD_USER = ""  # `user_id` of a group's whiteboard, published without a user


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
    white_board: bool = False  # include the group's whiteboard (published without a user) as a tile
    main_media_type: MediaType | None = (
        None  # type 2: the main user's media in the main tile (None: priority)
    )


@dataclass(frozen=True)
class Caption:
    """A text drawn on the canvas (set/subtitle, set-output-overlay): top-left corner at (x, y), `size`
    pixels high; a `clock` caption shows the current time instead of `content`, ticking each second."""

    content: str
    color: str = "#FFFFFF"  # "#RRGGBB"
    x: int = 0
    y: int = 0
    size: int = 24
    opacity: int = 100  # percent: 100 opaque ... 0 invisible (set-output-overlay's `transparency`)
    clock: bool = False  # show "YYYY-MM-DD HH:MM:SS" of the wall clock in `time_zone`
    time_zone: str = "UTC"  # IANA name; the server's configured time zone


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
    egress: EgressPolicy | None = None  # where its sources may connect (None: the default stream policy)
    # The lease epoch this recorder holds (its reports count only while it is the task's current one),
    # and the index of its first segment (a successor continues after the files stored before it).
    epoch: int = 0
    first_index: int = 1
    # A recorder whose server went away keeps recording and waits this long for a new server to adopt
    # it on `control_address` (a Unix socket; connections must know `control_key`); 0: it finishes.
    orphan_wait_seconds: float = 0.0
    control_address: str = ""
    control_key: bytes = b""
    # a RecordMode; PER_STREAM: `layout` is the allow list of the streams to record (None: all)
    record_mode: int = 0
    # PER_STREAM: the task's timeline (seconds, pauses and gaps cut out) at `start_at`; a successor
    # continues its predecessors' (files' `start_offset` line up across the gap)
    timeline_offset: float = 0.0
    # Where the recorder stores its closed segments itself (`recorder.store`), reporting each as
    # `SegmentStored`; None: it only reports them closed (the engine alone, in tests and benchmarks).
    storage: StorageSpec | None = None
    # Segments of earlier recorders of the task that were closed but never stored (the store was down
    # when one died): this recorder stores them first.
    pending: tuple[SegmentInfo, ...] = ()


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


@dataclass(frozen=True)
class RequestSnapshot:
    """Send a `Snapshot` of the composite about once a second until Unix time `until` (live view)."""

    until: float
    width: int = 0  # picture width in pixels, height keeping the canvas's aspect (0: the canvas's)


Command = SetLayout | SetCaptions | SetStreams | Suspend | Resume | Finish | RequestSnapshot


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
    poster: str = ""  # a JPEG of the segment's middle picture next to `path` ("" = none)
    poster_md5: str = ""
    # The stream of a per-stream recording's file (None for a composite): who, which media, and where
    # the file starts on the task's timeline (seconds from the task's start, pauses excluded).
    user_id: str | None = None
    media_type: int | None = None
    media_id: str | None = None
    start_offset: float | None = None


def poster_name(segment_name: str) -> str:
    """The poster's file name (and storage key's last part) of a segment: `<name>.jpg`, beside it."""
    stem, dot, _ext = segment_name.rpartition(".")
    return f"{stem if dot else segment_name}.jpg"


@dataclass(frozen=True)
class Started:
    """The recorder composes media (first frame written)."""

    at: float


@dataclass(frozen=True)
class Stats:
    media_duration: float  # seconds recorded, pauses excluded
    flow_bytes: int  # bytes pulled from the sources
    skipped_frames: int = 0  # output ticks without a picture because the recorder fell behind
    # Cumulative over the recorder's life, like the two above (the server's metrics count the deltas):
    frames_composed: int = 0  # output pictures composed
    source_opens: int = 0  # stream URLs opened (first opens and reopens)
    source_open_failures: int = 0  # attempts to open a URL that failed
    source_reconnects: int = 0  # pulls that broke or ended and were reopened


@dataclass(frozen=True)
class SegmentClosed:
    segment: SegmentInfo


@dataclass(frozen=True)
class SegmentStored:
    """The store confirmed a closed segment (and its poster): the object as stored, no local path in
    it (`segment.path` and `segment.poster` are ""). `failure_seconds`: how long each failed try took
    before the one that worked (`store_seconds`), for the store's metrics."""

    segment: SegmentInfo
    key: str
    poster_key: str = ""
    store_seconds: float = 0.0
    failure_seconds: tuple[float, ...] = ()


@dataclass(frozen=True)
class Finished:
    """Every segment is closed and reported; `stats` are the final figures."""

    stats: Stats
    timed_out: bool = False


@dataclass(frozen=True)
class Failed:
    reason: str


@dataclass(frozen=True)
class SnapshotTile:
    """Where a tile of a snapshot's picture is (canvas pixels) and whose media it shows."""

    label: str  # the user id
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Snapshot:
    """The composite as a JPEG (answers `RequestSnapshot`; the host keeps it, nothing stores it)."""

    jpeg: bytes  # b"": the recorder has composed no picture yet
    at: float  # Unix time the picture was encoded
    width: int  # as requested (0: the canvas's)
    tiles: tuple[SnapshotTile, ...] = ()


@dataclass(frozen=True)
class Lost:
    """The recorder ended without finishing (its process died); its files were salvaged. The control
    plane decides what follows: a successor, or the task fails (restart budget spent)."""

    reason: str


Progress = Started | Stats | SegmentClosed | SegmentStored | Finished | Failed | Lost | Snapshot


# After a recorder's death its successor waits for the salvage: the store gets this long, the rest is
# stored by the successor (a local store takes a file at once; an upload of a segment about a second).
DEATH_STORE_WAIT_S = 1.5


@dataclass(frozen=True)
class SalvageJob:
    """What a dead recorder left to store, for a process on the recorder side: `pending`, closed
    segments it reported but whose store it never confirmed, and (`probe`) the files in `work_dir`
    it never reported (its open segment; names in `known` and indexes below `min_index` are not its)."""

    record_id: str
    app_id: str
    work_dir: str
    storage: StorageSpec | None
    known: tuple[str, ...] = ()
    pending: tuple[SegmentInfo, ...] = ()
    min_index: int = 1
    probe: bool = True
    # it stores for this long at most: a recorder's death waits for it (its successor starts after), so
    # what the store did not take by then is reported closed and stored later (`TaskSpec.pending`)
    store_wait_seconds: float = 20.0


@dataclass(frozen=True)
class Hello:
    """The first message of a recorder to a server that adopts it: who it is."""

    pid: int
    epoch: int


@dataclass(frozen=True)
class Report:
    """A progress event as a recorder sends it: stamped with the lease epoch it holds."""

    epoch: int
    event: Progress
