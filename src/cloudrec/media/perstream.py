"""Per-stream recording (record_mode 1): every published stream remuxed into its own files, no re-encoding."""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable

from cloudrec.media.engine import drive
from cloudrec.media.streamnote import note_path
from cloudrec.media.streamtrack import StreamTrack, Want
from cloudrec.media.timeline import Timeline
from cloudrec.recorder.spec import (
    Command,
    FileType,
    Finish,
    Layout,
    MediaType,
    Progress,
    RecordMode,
    Resume,
    SegmentClosed,
    SegmentInfo,
    SetLayout,
    SetStreams,
    Started,
    Stats,
    StreamInfo,
    Suspend,
    TaskSpec,
)
from cloudrec.tasks.naming import sanitize_file_name

log = logging.getLogger(__name__)

STATS_INTERVAL_SECONDS = 1.0
# How often the loop looks at its tracks (closed files, the timeout) while no command comes.
POLL_SECONDS = 0.1
# After a Finish, a track records what its stream showed up to the finish's time: it waits this long
# beyond that time for those packets (a live pull is a few frames behind), then it is stopped.
FINISH_GRACE_SECONDS = 0.5
_OWN_NAME = re.compile(r"_(\d{4})\.(mp4|m4a)$")


def plan(streams: tuple[StreamInfo, ...], allow: Layout | None, audio_only: bool) -> dict[str, Want]:
    """What each URL gives (one file set per URL): its video (the first published, screen share,
    camera or whiteboard) and its audio, those of the allow list only when there is one."""
    allowed: set[tuple[str, str, MediaType]] | None = None
    if allow is not None:
        allowed = {(t.user_id, t.media_id, t.media_type) for t in allow.video}
        allowed |= {(a.user_id, a.media_id, MediaType.AUDIO) for a in allow.audio}
    wants: dict[str, Want] = {}
    for s in streams:
        if allowed is not None and s.key not in allowed:
            continue
        is_audio = s.media_type == MediaType.AUDIO
        if audio_only and not is_audio:
            continue
        old = wants.get(s.url)
        if old is None:
            wants[s.url] = Want(s.url, s.user_id, int(s.media_type), s.media_id, not is_audio, is_audio)
        elif is_audio and not old.audio:
            wants[s.url] = Want(s.url, old.user_id, old.media_type, old.media_id, old.video, True)
        elif not is_audio and not old.video:  # the stream's video names the files
            wants[s.url] = Want(s.url, s.user_id, int(s.media_type), s.media_id, True, old.audio)
    return wants


class _Names:
    """File names `<file_name>_<user>_<media_type>_<media_id>_<NNNN>.<ext>` (NNNN counts the files of
    that stream) and task-wide indexes; never an existing file's or one with a note (`media.streamnote`)
    of a file stored already: a successor recorder continues each stream's numbering."""

    def __init__(self, work_dir: str, file_name: str, ext: str, first_index: int = 1) -> None:
        self.work_dir, self.file_name, self.ext = work_dir, file_name, ext
        self._lock = threading.Lock()
        os.makedirs(work_dir, exist_ok=True)
        # a successor's first index follows its predecessors' stored files (see `tasks.succession`)
        own = sum(1 for n in os.listdir(work_dir) if _OWN_NAME.search(n))
        self._index = max(first_index - 1, own)
        self._counts: dict[tuple[str, int, str], int] = {}

    def new_path(self, want: Want) -> tuple[str, int]:
        user = sanitize_file_name(want.user_id) or "_"
        media = sanitize_file_name(want.media_id) or "_"
        ext = "m4a" if self.ext == "m4a" or not want.video else "mp4"
        with self._lock:
            key = (want.user_id, want.media_type, want.media_id)
            while True:
                n = self._counts.get(key, 0) + 1
                self._counts[key] = n
                name = f"{self.file_name}_{user}_{want.media_type}_{media}_{n:04d}.{ext}"
                path = os.path.join(self.work_dir, name)
                # a file stored already has moved away; its note stays and keeps its number taken
                if not os.path.exists(path) and not os.path.exists(note_path(path)):
                    self._index += 1
                    return path, self._index


class _PerStream:
    """The state of one per-stream recording; `run` is its loop (each stream has its own thread)."""

    def __init__(self, spec: TaskSpec, emit: Callable[[Progress], None]) -> None:
        self.spec = spec
        self.emit = emit
        self.audio_only = spec.file_type == FileType.MP3
        start = spec.start_at if spec.start_at is not None else time.time()
        self.timeline = Timeline(start, paused=spec.paused, base=spec.timeline_offset)
        ext = "m4a" if self.audio_only else "mp4"
        self.names = _Names(spec.work_dir, spec.file_name, ext, spec.first_index)
        self.tracks: dict[str, StreamTrack] = {}
        self.retired: list[StreamTrack] = []  # stopped, closing their files
        self.closed: queue.Queue[SegmentInfo] = queue.Queue()
        self.bytes_gone = 0  # bytes read by tracks let go of
        self.last_activity = time.monotonic()
        self.next_stats = time.monotonic() + STATS_INTERVAL_SECONDS
        self.finish_deadline: float | None = None  # monotonic: tracks still running then are stopped

    def reselect(self, streams: tuple[StreamInfo, ...]) -> None:
        wants = plan(streams, self.spec.layout, self.audio_only)
        for url, track in list(self.tracks.items()):
            if wants.get(url) != track.want:  # unpublished, or its media changed: its file ends
                self._retire(url)
        for url, want in wants.items():
            if url not in self.tracks:
                track = StreamTrack(
                    want,
                    timeline=self.timeline,
                    segment_seconds=self.spec.segment_seconds,
                    new_path=self.names.new_path,
                    closed=self.closed.put,
                    open_timeout=self.spec.open_timeout_seconds,
                    read_timeout=self.spec.read_timeout_seconds,
                )
                self.tracks[url] = track
                track.start()
                log.info("track %s: %s (video=%s audio=%s)", url, want.user_id, want.video, want.audio)

    def _retire(self, url: str) -> None:
        track = self.tracks.pop(url)
        track.stop()
        self.retired.append(track)

    def handle(self, command: Command) -> None:
        self.last_activity = time.monotonic()
        at = getattr(command, "at", None) or time.time()
        log.info("command %s", type(command).__name__)
        if isinstance(command, Finish):
            self.timeline.finish(at)
            if self.finish_deadline is None:  # a repeated Finish neither moves the end nor the wait
                self.finish_deadline = time.monotonic() + max(0.0, at - time.time()) + FINISH_GRACE_SECONDS
        elif isinstance(command, SetStreams):
            self.reselect(command.streams)
        elif isinstance(command, Suspend):
            self.timeline.suspend(at)
        elif isinstance(command, Resume):
            self.timeline.resume(at)
        elif isinstance(command, SetLayout):
            log.warning("set layout ignored: a per-stream recording has no layout")

    def stats(self) -> Stats:
        flow = self.bytes_gone + sum(t.bytes_read for t in [*self.tracks.values(), *self.retired])
        return Stats(media_duration=self.timeline.recorded(time.time()), flow_bytes=flow)

    def _collect(self) -> None:
        while True:
            try:
                self.emit(SegmentClosed(self.closed.get_nowait()))
            except queue.Empty:
                break
        for track in [t for t in self.retired if not t.alive]:
            self.retired.remove(track)
            self.bytes_gone += track.bytes_read

    def run(self, commands: Callable[[float], Command | None]) -> bool:
        """Record until finished; returns whether it ended by the timeout rule."""
        self.emit(Started(at=self.timeline.start))
        self.reselect(self.spec.streams)
        while True:
            command = commands(POLL_SECONDS)
            if command is not None:
                self.handle(command)
            now = time.monotonic()
            self._collect()
            if self.finish_deadline is not None:
                if now >= self.finish_deadline or all(t.ended for t in self.tracks.values()):
                    return False
                continue
            latest = max([self.last_activity, *(t.last_packet for t in self.tracks.values())])
            if now - latest > self.spec.timeout_seconds:
                log.info("nothing pulled and no command for %.1f s: finishing", now - latest)
                self.timeline.finish(time.time())
                return True
            if now >= self.next_stats:
                self.next_stats = now + STATS_INTERVAL_SECONDS
                self.emit(self.stats())

    def close(self) -> None:
        """Stop every track and wait for its file to be closed and reported."""
        for url in list(self.tracks):
            self._retire(url)
        deadline = time.monotonic() + self.spec.read_timeout_seconds + 2.0
        for track in self.retired:
            track.join(max(0.0, deadline - time.monotonic()))
        self._collect()


def handles(spec: TaskSpec) -> bool:
    """Whether `spec` is recorded by this engine (record_mode 1)."""
    return spec.record_mode == RecordMode.PER_STREAM


def run_perstream(
    spec: TaskSpec, commands: Callable[[float], Command | None], emit: Callable[[Progress], None]
) -> None:
    """Record a per-stream task until `Finish`, the timeout rule, or a fatal error (see
    `media.pipeline.run_recording`, which hands record_mode 1 here)."""
    recording = _PerStream(spec, emit)
    log.info("per-stream recording %s: %s", spec.record_id, spec.file_type.name)
    drive(recording, spec.record_id, commands, emit)
