"""The recording loop: commands in, output ticks on the clock, segments and progress out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from av.video.frame import VideoFrame

from cloudrec.media.captions import Overlay, caption_overlays, tile_label_overlays
from cloudrec.media.clock import Clock, MonotonicClock
from cloudrec.media.compositor import Compositor, TileDraw
from cloudrec.media.encoder import even
from cloudrec.media.mixer import mix
from cloudrec.media.segmenter import OutputFormat, Segmenter, tick_samples
from cloudrec.media.selection import Selection, select
from cloudrec.media.snapshot import SnapshotMaker, add_poster
from cloudrec.media.source import Source
from cloudrec.recorder.spec import (
    Command,
    Failed,
    FileType,
    Finish,
    Finished,
    Progress,
    RequestSnapshot,
    Resume,
    SegmentClosed,
    SegmentInfo,
    SetCaptions,
    SetLayout,
    SetStreams,
    Started,
    Stats,
    Suspend,
    TaskSpec,
)

log = logging.getLogger(__name__)

STATS_INTERVAL = 1.0
SOURCE_JOIN_SECONDS = 0.2
# Output tick T shows the media that was due at T - (one tick + JITTER): by then a whole tick of
# audio has arrived, and video and audio are picked by their due times (sync by construction).
JITTER_SECONDS = 0.08
# Behind by up to this much, skipped ticks keep the timeline on the clock; a longer stall is a gap.
MAX_CATCH_UP_SECONDS = 2.0
# Behind by less than this, every tick still gets its picture: a recorder that lost the core for a
# moment (several share a host) catches up by encoding faster; further behind, pictures are skipped.
PICTURE_SLACK_SECONDS = 0.25


class _Recording:
    """The state of one recording; `run` is its loop (one thread; sources have their own)."""

    def __init__(self, spec: TaskSpec, emit: Callable[[Progress], None], clock: Clock) -> None:
        self.spec = spec
        self.emit = emit
        self.clock = clock
        self.fps = spec.frame_rate
        self.period = 1.0 / spec.frame_rate
        self.delay = self.period + JITTER_SECONDS
        self.audio_only = spec.file_type == FileType.MP3
        self.width, self.height = even(spec.width), even(spec.height)
        self.streams = spec.streams
        self.layout = spec.layout
        self.captions = spec.captions
        self.overlays: tuple[Overlay, ...] = ()
        self.suspended = spec.paused
        self.selection = Selection()
        self.sources: dict[str, Source] = {}
        self.flow_closed = 0
        self.seen_media: dict[str, int] = {}
        self.compositor = None if self.audio_only else Compositor(self.width, self.height)
        self.last_frame: VideoFrame | None = None  # the compositor's last picture
        self.snapshots = SnapshotMaker(emit)  # live view: JPEGs of last_frame while someone watches
        self.segmenter: Segmenter | None = None
        self.tick = 0  # the next output tick: media time is tick / fps
        self.dropped = 0
        self.dropped_logged = 0
        now = clock.now()
        self.next_tick = now
        self.next_stats = now + STATS_INTERVAL
        self.last_activity = now

    # ---- sources and selection ------------------------------------------------------------------

    def reselect(self) -> None:
        """Recompute the selection and open/close/adjust sources to match it."""
        self.selection = select(
            self.streams, self.layout, self.spec.auto, self.width, self.height, audio_only=self.audio_only
        )
        wanted = self.selection.wanted()
        for url in [u for u in self.sources if u not in wanted]:
            self._close_source(url)
        for url, (video, audio) in wanted.items():
            source = self.sources.get(url)
            if source is None:
                source = Source(
                    url,
                    want_video=video,
                    want_audio=audio,
                    open_timeout=self.spec.open_timeout_seconds,
                    read_timeout=self.spec.read_timeout_seconds,
                    keep_seconds=self.delay + 0.05,
                    now=self.clock.now,
                )
                self.sources[url] = source
                source.start()
                log.info("source %s opened (video=%s audio=%s)", url, video, audio)
            else:
                if audio and not source.want_audio:
                    source.audio.clear()
                source.want_video, source.want_audio = video, audio
        self.update_overlays()

    def update_overlays(self) -> None:
        """Prepare the captions and the auto layout's user ids (rendered once, blended every frame)."""
        if self.audio_only:
            return
        try:
            overlays: list[Overlay] = []
            auto = self.spec.auto
            if auto is not None and auto.caption:
                overlays += tile_label_overlays((t.rect, t.label) for t in self.selection.tiles)
            overlays += caption_overlays(self.captions)
        except Exception:  # a caption that cannot be drawn must not end the recording
            log.exception("captions could not be rendered: none are drawn")
            overlays = []
        self.overlays = tuple(overlays)

    def _close_source(self, url: str) -> None:
        source = self.sources.pop(url)
        source.close()
        self.flow_closed += source.bytes_read
        self.seen_media.pop(url, None)
        log.info("source %s closed", url)

    def flow(self) -> int:
        return self.flow_closed + sum(s.bytes_read for s in self.sources.values())

    def stats(self) -> Stats:
        return Stats(media_duration=self.tick / self.fps, flow_bytes=self.flow(), skipped_frames=self.dropped)

    def _observe(self, now: float) -> None:
        """Note when any source last delivered media (for the timeout rule)."""
        for url, source in self.sources.items():
            count = source.media_count
            if count != self.seen_media.get(url, 0):
                self.seen_media[url] = count
                self.last_activity = now

    def _recordable(self) -> bool:
        """Whether any source of the selection has media to show or play."""
        for tile in self.selection.tiles:
            source = self.sources.get(tile.url) if tile.url else None
            if source is not None and source.video_at(self.clock.now()) is not None:
                return True
        for url in self.selection.audio_urls:
            source = self.sources.get(url)
            if source is not None and source.audio.buffered > 0:
                return True
        return False

    # ---- commands -------------------------------------------------------------------------------

    def handle(self, command: Command, now: float) -> bool:
        """Apply a command; True when it finishes the recording."""
        if isinstance(command, RequestSnapshot):  # watching is no activity (timeout rule), nor logged
            self.snapshots.request(command)
            return False
        self.last_activity = now
        log.info("command %s", type(command).__name__)
        if isinstance(command, Finish):
            return True
        if isinstance(command, SetLayout):
            if self.spec.auto is not None:
                log.warning("set layout ignored: automatic recording")
            else:
                self.layout = command.layout
                self.reselect()
        elif isinstance(command, SetCaptions):
            self.captions = command.captions
            self.update_overlays()
        elif isinstance(command, SetStreams):
            self.streams = command.streams
            self.reselect()
        elif isinstance(command, Suspend):
            self.suspended = True
        elif isinstance(command, Resume) and self.suspended:
            self.suspended = False  # what came while suspended is stale by now and is dropped
            self.next_tick = now
        return False

    # ---- output ---------------------------------------------------------------------------------

    def _start(self) -> None:
        spec = self.spec
        fmt = OutputFormat(
            file_type=spec.file_type,
            width=self.width,
            height=self.height,
            frame_rate=self.fps,
            preset=spec.x264_preset,
            crf=spec.x264_crf,
            audio_bit_rate=spec.audio_bitrate,
            variable_frame_rate=spec.variable_frame_rate,
        )
        segment_ticks = max(1, round(spec.segment_seconds * self.fps))
        posters = None if self.audio_only else add_poster
        self.segmenter = Segmenter(fmt, spec.work_dir, spec.file_name, segment_ticks, after_close=posters)
        self.emit(Started(at=time.time()))
        log.info("recording started")

    def _write_tick(self, tick_time: float, with_video: bool) -> None:
        """Write the next output tick, scheduled at `tick_time`."""
        assert self.segmenter is not None
        at = tick_time - self.delay
        n = tick_samples(self.tick + 1, self.fps) - tick_samples(self.tick, self.fps)
        parts = []
        for url in self.selection.audio_urls:
            source = self.sources.get(url)
            if source is not None:
                parts.append(source.audio.pull(n, at))
        audio = mix(parts, n)
        frame = None
        if with_video and self.compositor is not None:
            tiles = []
            for plan in self.selection.tiles:
                source = self.sources.get(plan.url) if plan.url else None
                # the frame nearest to the middle of the tick's audio: at most half a tick off
                latest = source.video_at(at + self.period / 2) if source is not None else None
                tiles.append(
                    TileDraw(
                        plan.rect,
                        plan.crop_mode,
                        plan.label,
                        plan.url,
                        latest[0] if latest else None,
                        latest[1] if latest else 0,
                    )
                )
            frame = self.compositor.compose(tiles, self.overlays)
        repeat = frame is not None and frame is self.last_frame  # the compositor found nothing changed
        if frame is not None:
            self.last_frame = frame
        self.segmenter.write(self.tick, frame, audio, repeat=repeat)
        self.tick += 1

    def _emit_closed(self, info: SegmentInfo) -> None:
        self.emit(SegmentClosed(info))

    def _periodic(self, now: float) -> None:
        self.snapshots.tick(self.last_frame, self.selection.tiles)
        if self.segmenter is not None:
            for info in self.segmenter.collect():
                self._emit_closed(info)
        if now >= self.next_stats:
            self.next_stats = now + STATS_INTERVAL
            if self.dropped != self.dropped_logged:
                log.warning("falling behind: %d output frames skipped so far", self.dropped)
                self.dropped_logged = self.dropped
            self.emit(self.stats())

    def _wait(self, commands: Callable[[float], Command | None]) -> bool:
        """Wait for the next tick, handling commands meanwhile; True when told to finish."""
        while True:
            now = self.clock.now()
            remaining = self.next_tick - now
            command = commands(max(0.0, remaining))
            if command is not None:
                if self.handle(command, self.clock.now()):
                    return True
                continue
            now = self.clock.now()
            if now >= self.next_tick:
                return False
            self.clock.sleep(self.next_tick - now)

    def run(self, commands: Callable[[float], Command | None]) -> bool:
        """Record until finished; returns whether it ended by the timeout rule."""
        self.reselect()
        while True:
            if self._wait(commands):
                return False
            now = self.clock.now()
            self._observe(now)
            if now - self.last_activity >= self.spec.timeout_seconds:
                log.info("nothing pulled and no command for %.1f s: finishing", now - self.last_activity)
                return True
            self._periodic(now)
            if self.suspended:
                self.next_tick = now + self.period
                continue
            if self.segmenter is None:
                if not self._recordable():
                    self.next_tick = now + self.period
                    continue
                self._start()
                self.next_tick = now
            late = now - self.next_tick
            if late > MAX_CATCH_UP_SECONDS:  # the process was stalled (not just slow): restart the pace
                log.warning("stalled for %.1f s: output resumes without filling the gap", late)
                self.next_tick, late = now, 0.0
            excess = late - PICTURE_SLACK_SECONDS
            skip = int(excess / self.period) if excess >= self.period else 0
            for i in range(skip):  # far behind: keep the timeline (audio continues), skip pictures
                self._write_tick(self.next_tick + i * self.period, with_video=False)
            self.dropped += skip
            self._write_tick(self.next_tick + skip * self.period, with_video=True)
            self.next_tick += (skip + 1) * self.period

    def close_output(self) -> None:
        """Close the open segment (emitting what closes) and let go of the sources."""
        try:
            if self.segmenter is not None:
                segmenter, self.segmenter = self.segmenter, None
                segmenter.close(self._emit_closed)
        finally:
            for url in list(self.sources):
                self._close_source(url)

    def join_sources(self, sources: list[Source]) -> None:
        deadline = time.monotonic() + SOURCE_JOIN_SECONDS
        for source in sources:
            source.join(max(0.0, deadline - time.monotonic()))


def run_recording(
    spec: TaskSpec,
    commands: Callable[[float], Command | None],
    emit: Callable[[Progress], None],
    *,
    clock: Clock | None = None,
) -> None:
    """Record one task until `Finish`, the timeout rule, or a fatal error.

    `commands(timeout_s)` returns the next pending command or None after waiting at most `timeout_s`.
    Progress goes to `emit`: `Started` at the first output frame, `Stats` about once a second,
    `SegmentClosed` per closed file, then `Finished` (or `Failed` after closing the open segment).
    """
    recording = _Recording(spec, emit, clock or MonotonicClock())
    log.info(
        "recording %s: %dx%d@%d %s",
        spec.record_id,
        spec.width,
        spec.height,
        spec.frame_rate,
        spec.file_type.name,
    )
    try:
        timed_out = recording.run(commands)
        sources = list(recording.sources.values())
        recording.close_output()
        recording.join_sources(sources)
    except Exception as exc:
        log.exception("recording %s failed", spec.record_id)
        try:
            recording.close_output()
        except Exception:
            log.exception("recording %s: closing the output failed too", spec.record_id)
        emit(Failed(reason=f"{type(exc).__name__}: {exc}"))
        return
    emit(Finished(stats=recording.stats(), timed_out=timed_out))
    log.info("recording %s finished (timed out: %s)", spec.record_id, timed_out)
