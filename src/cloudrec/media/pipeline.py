"""The recording loop: commands in, output ticks on the clock, segments and progress out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from av.video.frame import VideoFrame

from cloudrec.media.captions import Overlay, caption_overlays, has_clock, tile_label_overlays
from cloudrec.media.clock import Clock, MonotonicClock
from cloudrec.media.compositor import Compositor, TileDraw
from cloudrec.media.encoder import even
from cloudrec.media.engine import drive
from cloudrec.media.mixer import mix
from cloudrec.media.segmenter import OutputFormat, Segmenter, tick_samples
from cloudrec.media.selection import Selection, select
from cloudrec.media.snapshot import SnapshotMaker, add_poster
from cloudrec.media.source import Source
from cloudrec.recorder.spec import (
    Caption,
    Command,
    FileType,
    Finish,
    Layout,
    MediaType,
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
    StreamInfo,
    Suspend,
    TaskSpec,
)

log = logging.getLogger(__name__)

STATS_INTERVAL = 1.0
SOURCE_JOIN_SECONDS = 0.2
# Output tick T (media of the clock time T, the timeline starting at the request) is written once
# one tick + JITTER has passed: by then the tick's audio has arrived (sync by construction).
JITTER_SECONDS = 0.08
# At its start the timeline waits up to this long for the sources it shows to open (their opening
# burst is dated back to cover the wait, see `media.source`), then catches up without skipping.
START_HOLD_SECONDS = 1.0
# Behind by up to this much, skipped ticks keep the timeline on the clock; a longer stall is a gap.
MAX_CATCH_UP_SECONDS = 2.0
# Behind by less than this, every tick still gets its picture: a recorder that lost the core for a
# moment (several share a host) catches up by encoding faster; further behind, pictures are skipped.
PICTURE_SLACK_SECONDS = 0.25
# How often the loop looks again while it holds the start for a source that is opening.
HOLD_POLL_SECONDS = 0.01


class _Recording:
    """The state of one recording; `run` is its loop (one thread; sources have their own)."""

    def __init__(self, spec: TaskSpec, emit: Callable[[Progress], None], clock: Clock) -> None:
        self.spec = spec
        self.emit = emit
        self.clock = clock
        self.fps = spec.frame_rate
        self.period = 1.0 / spec.frame_rate
        self.latency = self.period + JITTER_SECONDS  # a tick is written this long after its time
        self.audio_only = spec.file_type == FileType.MP3
        self.width, self.height = even(spec.width), even(spec.height)
        self.streams = spec.streams
        self.layout = spec.layout
        self.captions = spec.captions
        self.overlays: tuple[Overlay, ...] = ()
        self.overlay_second = 0  # the wall-clock second the overlays show (a clock caption ticks)
        self.selection = Selection()
        self.sources: dict[str, Source] = {}
        self.flow_closed = 0
        self.closed_counts = [0, 0, 0]  # Source.counts of the sources closed so far
        self.seen_media: dict[str, int] = {}
        self.compositor = None if self.audio_only else Compositor(self.width, self.height)
        self.last_frame: VideoFrame | None = None  # the compositor's last picture
        self.snapshots = SnapshotMaker(emit)  # live view: JPEGs of last_frame while someone watches
        self.segmenter: Segmenter | None = None
        self.tick = 0  # the next output tick: media time is tick / fps
        self.dropped = 0
        self.dropped_logged = 0
        now = clock.now()
        self.next_stats = now + STATS_INTERVAL
        self.last_activity = now
        # The timeline: tick i shows the clock time base + (i - base_tick) / fps. It runs from the
        # request that starts it (init of an automatic task, the first layout of a manual one).
        self.running = False
        self.base = now
        self.base_tick = 0
        self.hold_until: float | None = None  # the start waits for its sources until then
        self.held = 0.0  # how long the start waited for its sources: the catch-up may be that late
        self.pause_at: float | None = None  # suspended: no tick from this time on
        self.end_at: float | None = None  # finishing: the last tick is the one before this time
        self.changes: list[tuple[float, Callable[[], None]]] = []  # (clock time, change), in order
        if spec.auto is not None or spec.layout is not None:
            self._run_from(self.clock_time(spec.start_at))
        if spec.paused:
            self.pause_at = self.base

    def clock_time(self, unix_time: float | None) -> float:
        """The clock time of a request's Unix time (None: now)."""
        now = self.clock.now()
        if unix_time is None:
            return now
        return now - max(0.0, time.time() - unix_time)

    def _run_from(self, at: float) -> None:
        self.running = True
        self.base, self.base_tick = at, self.tick
        self.hold_until = at + START_HOLD_SECONDS

    def unix_time(self, at: float) -> float:
        """The Unix time of the clock time `at`."""
        return time.time() - (self.clock.now() - at)

    def tick_time(self, tick: int) -> float:
        return self.base + (tick - self.base_tick) * self.period

    # ---- sources and selection ------------------------------------------------------------------

    def reselect(self) -> None:
        """Recompute the selection and open/close/adjust sources to match it."""
        self.selection = select(
            self.streams, self.layout, self.spec.auto, self.width, self.height, audio_only=self.audio_only
        )
        wanted = self.selection.wanted() if self.running else self._published()
        for url in [u for u in self.sources if u not in wanted]:
            self._close_source(url)
        self._open(wanted, exact=True)
        self.update_overlays()

    def _open(self, wanted: dict[str, tuple[bool, bool]], *, exact: bool) -> None:
        """Open the sources of `wanted` not open yet; set what the open ones decode (`exact` False:
        only switch more on, for a layout that takes effect later)."""
        for url, (video, audio) in wanted.items():
            source = self.sources.get(url)
            if source is None:
                source = Source(
                    url,
                    want_video=video,
                    want_audio=audio,
                    open_timeout=self.spec.open_timeout_seconds,
                    read_timeout=self.spec.read_timeout_seconds,
                    keep_seconds=START_HOLD_SECONDS + self.latency + 0.2,
                    now=self.clock.now,
                )
                self.sources[url] = source
                source.start()
                log.info("source %s opened (video=%s audio=%s)", url, video, audio)
                continue
            if not exact:
                video, audio = video or source.want_video, audio or source.want_audio
            if audio and not source.want_audio:
                source.audio.clear()
            source.want_video, source.want_audio = video, audio

    def _later(self, unix_time: float | None, change: Callable[[], None]) -> None:
        """Apply `change` from the tick of the request's time on (now, when that tick is written)."""
        when = self.clock_time(unix_time)
        if not self.running or when <= self.tick_time(self.tick):
            change()
        else:
            self.changes.append((when, change))

    def _apply_changes(self, at: float) -> None:
        while self.changes and self.changes[0][0] <= at:
            self.changes.pop(0)[1]()

    def _published(self) -> dict[str, tuple[bool, bool]]:
        """Every stream of the group (a manual task before its first layout opens them all, so that
        the layout only switches them on)."""
        wanted: dict[str, tuple[bool, bool]] = {}
        for s in self.streams:
            video, audio = wanted.get(s.url, (False, False))
            is_audio = s.media_type == MediaType.AUDIO
            wanted[s.url] = (video or (not is_audio and not self.audio_only), audio or is_audio)
        return wanted

    def update_overlays(self, at: float | None = None) -> None:
        """Prepare the captions and the auto layout's user ids (rendered once, blended every frame);
        a clock caption shows the second of the clock time `at` (None: now)."""
        if self.audio_only:
            return
        try:
            overlays: list[Overlay] = []
            auto = self.spec.auto
            if auto is not None and auto.caption:
                overlays += tile_label_overlays((t.rect, t.label) for t in self.selection.tiles)
            self.overlay_second = int(self.unix_time(self.clock.now() if at is None else at))
            overlays += caption_overlays(self.captions, self.overlay_second)
        except Exception:  # a caption that cannot be drawn must not end the recording
            log.exception("captions could not be rendered: none are drawn")
            overlays = []
        self.overlays = tuple(overlays)

    def _close_source(self, url: str) -> None:
        source = self.sources.pop(url)
        source.close()
        self.flow_closed += source.bytes_read
        self.closed_counts = [a + b for a, b in zip(self.closed_counts, source.counts, strict=True)]
        self.seen_media.pop(url, None)
        log.info("source %s closed", url)

    def flow(self) -> int:
        return self.flow_closed + sum(s.bytes_read for s in self.sources.values())

    def stats(self) -> Stats:
        counts = zip(self.closed_counts, *(s.counts for s in self.sources.values()), strict=True)
        opens, open_failures, reconnects = (sum(c) for c in counts)
        return Stats(
            media_duration=self.tick / self.fps,
            flow_bytes=self.flow(),
            skipped_frames=self.dropped,
            frames_composed=0 if self.audio_only else self.tick - self.dropped,
            source_opens=opens,
            source_open_failures=open_failures,
            source_reconnects=reconnects,
        )

    def _observe(self, now: float) -> None:
        """Note when any source last delivered media (for the timeout rule)."""
        for url, source in self.sources.items():
            count = source.media_count
            if count != self.seen_media.get(url, 0):
                self.seen_media[url] = count
                self.last_activity = now

    def _sources_ready(self) -> bool:
        """Whether every source the selection shows or plays has delivered media."""
        urls = [t.url for t in self.selection.tiles if t.url] + list(self.selection.audio_urls)
        return all(self.sources[u].ready for u in urls if u in self.sources)

    # ---- commands -------------------------------------------------------------------------------

    def handle(self, command: Command, now: float) -> None:
        """Apply a command (a Finish sets the end of the timeline)."""
        if isinstance(command, RequestSnapshot):  # watching is no activity (timeout rule), nor logged
            self.snapshots.request(command)
            return
        self.last_activity = now
        log.info("command %s", type(command).__name__)
        if isinstance(command, Finish):
            if self.end_at is None:  # the first one ends it; another changes nothing
                self.end_at = self.clock_time(command.at) if self.running else now
        elif isinstance(command, SetLayout):
            if self.spec.auto is not None:
                log.warning("set layout ignored: automatic recording")
            elif not self.running:
                self.layout = command.layout
                self._run_from(self.clock_time(command.at))
                self.reselect()
            else:  # its streams open now, the picture changes at the request's time
                new = select(
                    self.streams, command.layout, None, self.width, self.height, audio_only=self.audio_only
                )
                self._open(new.wanted(), exact=False)
                self._later(command.at, lambda: self._set_layout(command.layout))
        elif isinstance(command, SetCaptions):
            self._later(command.at, lambda: self._set_captions(command.captions))
        elif isinstance(command, SetStreams):
            # Its new streams open now; the picture changes at the time the change arrived, not at
            # the tick being written (the output runs behind the clock by the sources' latency).
            new = select(
                command.streams,
                self.layout,
                self.spec.auto,
                self.width,
                self.height,
                audio_only=self.audio_only,
            )
            self._open(new.wanted() if self.running else {}, exact=False)
            self._later(None, lambda: self._set_streams(command.streams))
        elif isinstance(command, Suspend) and self.pause_at is None:
            self.pause_at = max(self.tick_time(self.tick), self.clock_time(command.at))
        elif isinstance(command, Resume) and self.pause_at is not None:
            self._flush_to(self.pause_at)  # ticks before the pause that were not written yet
            self.pause_at = None
            self.base, self.base_tick = self.clock_time(command.at), self.tick

    def _set_layout(self, layout: Layout) -> None:
        self.layout = layout
        self.reselect()

    def _set_streams(self, streams: tuple[StreamInfo, ...]) -> None:
        self.streams = streams
        self.reselect()

    def _set_captions(self, captions: tuple[Caption, ...]) -> None:
        self.captions = captions
        self.update_overlays()

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
        self.segmenter = Segmenter(
            fmt,
            spec.work_dir,
            spec.file_name,
            segment_ticks,
            first_index=spec.first_index,
            after_close=posters,
        )
        self.emit(Started(at=time.time() - (self.clock.now() - self.tick_time(0))))
        log.info("recording started")

    def _write_tick(self, with_video: bool) -> None:
        """Write the next output tick (`with_video` False: the recorder is behind, the last picture
        stands in for this one)."""
        if self.segmenter is None:
            self._start()
        assert self.segmenter is not None
        at = self.tick_time(self.tick)
        self._apply_changes(at)
        if has_clock(self.captions) and int(self.unix_time(at)) != self.overlay_second:
            self.update_overlays(at)  # a clock caption shows the second of the tick it is drawn on
        for opened in self.sources.values():
            opened.keep_from = at
        n = tick_samples(self.tick + 1, self.fps) - tick_samples(self.tick, self.fps)
        parts = []
        for url in self.selection.audio_urls:
            source = self.sources.get(url)
            if source is not None:
                parts.append(source.audio.pull(n, at))
        audio = mix(parts, n)
        frame = None
        if self.compositor is not None and (with_video or self.last_frame is None):
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
        elif self.compositor is not None:
            frame = self.last_frame
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

    def _due(self) -> float | None:
        """When the next tick is to be written; None while nothing is to be written (not started,
        suspended, or past the end)."""
        if not self.running:
            return None
        at = self.tick_time(self.tick)
        if self.pause_at is not None and at >= self.pause_at:
            return None
        if self.end_at is not None and at >= self.end_at:
            return None
        if self.hold_until is not None:  # the start waits for its sources, a little
            if self._sources_ready() or self.clock.now() >= self.hold_until:
                self.held = max(0.0, self.clock.now() - self.latency - self.tick_time(self.tick))
                self.hold_until = None
            else:
                return self.clock.now() + HOLD_POLL_SECONDS
        return at + self.latency

    def _finished(self) -> bool:
        """Finish asked for, and every tick before its time written."""
        if self.end_at is None:
            return False
        if not self.running:
            return True
        at = self.tick_time(self.tick)
        return at >= self.end_at or (self.pause_at is not None and at >= self.pause_at)

    def _wait(self, commands: Callable[[float], Command | None]) -> None:
        """Wait until the next tick is due, handling commands meanwhile (polled at least once)."""
        while not self._finished():
            due = self._due()
            remaining = STATS_INTERVAL if due is None else max(0.0, due - self.clock.now())
            command = commands(min(remaining, STATS_INTERVAL))
            if command is not None:
                self.handle(command, self.clock.now())
                if due is None or self.clock.now() < due:
                    continue  # a tick that is due is written before the next command
                return
            if due is None:
                return  # a second without a tick: the periodic work runs
            now = self.clock.now()
            if now >= due:
                return
            self.clock.sleep(due - now)

    def _flush_to(self, until: float) -> None:
        """Write at once every tick before `until` (a resume or the end came before they were due)."""
        while self.running and self.tick_time(self.tick) < until:
            self._write_tick(with_video=True)

    def run(self, commands: Callable[[float], Command | None]) -> bool:
        """Record until finished; returns whether it ended by the timeout rule."""
        self.reselect()
        while True:
            self._wait(commands)
            if self._finished():
                return False
            now = self.clock.now()
            self._observe(now)
            if now - self.last_activity >= self.spec.timeout_seconds:
                log.info("nothing pulled and no command for %.1f s: finishing", now - self.last_activity)
                return True
            self._periodic(now)
            due = self._due()
            if due is None or due > now:
                continue
            late = now - due
            if self.held and late <= self.held:
                late = 0.0  # the start's catch-up: every picture is drawn
            else:
                self.held = 0.0  # caught up (or further behind than the start's wait)
            if late > MAX_CATCH_UP_SECONDS:
                # the process was stalled (not just slow): the timeline resumes without filling the gap
                log.warning("stalled for %.1f s: output resumes without filling the gap", late)
                self.base, self.base_tick = now - self.latency, self.tick
                late = 0.0
            excess = late - PICTURE_SLACK_SECONDS
            skip = int(excess / self.period) if excess >= self.period else 0
            for _ in range(skip):  # far behind: keep the timeline, the last picture stands in
                self._write_tick(with_video=False)
            self.dropped += skip
            self._write_tick(with_video=True)

    def close_output(self) -> None:
        """Close the open segment (emitting what closes) and let go of the sources."""
        try:
            if self.segmenter is not None:
                segmenter, self.segmenter = self.segmenter, None
                segmenter.close(self._emit_closed)
        finally:
            for url in list(self.sources):
                self._close_source(url)

    def close(self) -> None:
        """Close the output and let go of the sources, waiting a moment for their threads."""
        sources = list(self.sources.values())
        self.close_output()
        self.join_sources(sources)

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
    from cloudrec.media import perstream  # a second engine behind this door: record_mode 1

    if perstream.handles(spec):
        perstream.run_perstream(spec, commands, emit)
        return
    recording = _Recording(spec, emit, clock or MonotonicClock())
    log.info(
        "recording %s: %dx%d@%d %s, %.3f s after its request",
        spec.record_id,
        spec.width,
        spec.height,
        spec.frame_rate,
        spec.file_type.name,
        time.time() - spec.start_at if spec.start_at is not None else 0.0,
    )
    drive(recording, spec.record_id, commands, emit)
