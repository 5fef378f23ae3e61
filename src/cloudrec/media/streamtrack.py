"""One stream of a per-stream recording: pull its URL in a thread and remux its packets into files."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import av.container
from av.packet import Packet
from av.stream import Stream

from cloudrec.media.remux import RemuxFile, can_copy_video
from cloudrec.media.source import OPEN_OPTIONS
from cloudrec.media.streamnote import StreamNote, drop_note, write_note
from cloudrec.media.timeline import Phase, Timeline
from cloudrec.recorder.spec import SegmentInfo

log = logging.getLogger(__name__)

# A new connection is written only once media keeps coming this long after its first packet: for a
# while after a publisher drops, a media server still answers a new player with the stale headers and
# GOP cache of the dead stream, then nothing (that burst must not become a file of its own).
FLOW_SECONDS = 0.5
# While a connection is held back, a pause this long between packets means what came was such a stale
# burst (a live stream sends a packet every frame): it is dropped.
ARRIVAL_GAP_SECONDS = 0.3
# Media time going back more than this, or ahead more than MAX_JUMP, is a new session of the stream
# (a publisher that came back on the same connection): its own file, its own latency.
MAX_BACK_SECONDS = 0.5
MAX_JUMP_SECONDS = 10.0
# Media that arrives further ahead of the clock than this (a file, an HLS playlist, not a live pull's
# cached GOP) is read no faster than the clock from then on, so that it lies on the timeline.
MAX_AHEAD_SECONDS = 3.0
BACKOFF_INITIAL_SECONDS = 0.5
# A stream that dropped is tried again at least this often: what it shows once back is recorded.
BACKOFF_MAX_SECONDS = 2.0


@dataclass(frozen=True)
class Want:
    """What one URL gives to one file set: whose stream, which media of it."""

    url: str
    user_id: str
    media_type: int  # of the files: the video's, or 1 (audio) for audio alone
    media_id: str
    video: bool
    audio: bool


# (want, ext) -> (path, task-wide index): names the next file of a stream (see `media.perstream`)
NewPath = Callable[[Want], tuple[str, int]]


class _Open:
    """The file being written and where it stands."""

    def __init__(self, remux: RemuxFile, index: int, first_media: float) -> None:
        self.remux = remux
        self.index = index
        self.first_media = first_media  # input media seconds of its first packet
        self.offset = 0.0  # where it starts on the task's timeline (see `Timeline.offset`)
        self.cut_pending = False  # paused: continue at the next keyframe


class StreamTrack:
    """A daemon thread that pulls `want.url` and writes its media into files.

    A file starts at a keyframe (audio alone: at any packet), a new one at the first keyframe after
    `segment_seconds` of media. Each packet is placed on the wall clock (its media time plus the
    smallest arrival-minus-media-time seen on the connection: the path's latency) and asked of the
    `timeline`: packets of a pause are dropped, the file continues after it at a keyframe with its
    timestamps still on the timeline; at the end, the file closes. A connection that fails or ends closes its
    file; the stream is pulled again (a new file) until `stop`.
    """

    def __init__(
        self,
        want: Want,
        *,
        timeline: Timeline,
        segment_seconds: float,
        new_path: NewPath,
        closed: Callable[[SegmentInfo], None],
        open_timeout: float,
        read_timeout: float,
    ) -> None:
        self.want = want
        self.timeline = timeline
        self.segment_seconds = segment_seconds
        self.new_path = new_path
        self.closed = closed
        self.open_timeout, self.read_timeout = open_timeout, read_timeout
        self.bytes_read = 0
        self.last_packet = 0.0  # time.monotonic() of the last packet received
        self.ended = False  # the timeline's end was reached: nothing more to record
        self._stop = threading.Event()
        self._file: _Open | None = None
        self._video: Stream | None = None
        self._audio: Stream | None = None
        self._latency = 0.0
        self._flowed = False  # the current connection delivered media for a while
        self._thread = threading.Thread(target=self._run, name=f"track {want.url}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ---- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        delay = BACKOFF_INITIAL_SECONDS
        while not self._stop.is_set() and not self.ended:
            try:
                container = av.open(
                    self.want.url, "r", options=OPEN_OPTIONS, timeout=(self.open_timeout, self.read_timeout)
                )
            except Exception as exc:  # noqa: BLE001 - any failure to open means "try again later"
                log.info("track %s: open failed: %s", self.want.url, exc)
            else:
                self._flowed = False
                try:
                    self._pull(container)
                    log.info("track %s: stream ended", self.want.url)
                except Exception as exc:  # noqa: BLE001 - a broken stream is pulled again, never fatal
                    log.info("track %s: stream failed: %s", self.want.url, exc)
                finally:
                    self._close_file()
                    try:
                        container.close()
                    except Exception:
                        log.debug("track %s: close failed", self.want.url, exc_info=True)
            if self._flowed:  # it worked for a while (a stream that dropped): pulled again soon
                delay = BACKOFF_INITIAL_SECONDS
            if self.ended or self._stop.wait(delay):
                break
            delay = min(BACKOFF_MAX_SECONDS, delay * 2)

    def _pull(self, container: av.container.InputContainer) -> None:
        """Record one connection (`_flowed` tells whether it delivered media for a while)."""
        video = container.streams.video[0] if self.want.video and container.streams.video else None
        if video is not None and not can_copy_video(video):
            log.warning("track %s: %s video is not recorded (MP4 carries H.264/HEVC)", self.want.url, video)
            video = None
        audio = container.streams.audio[0] if self.want.audio and container.streams.audio else None
        if video is None and audio is None:
            return
        self._video, self._audio = video, audio
        self._latency = float("inf")  # smallest arrival - media time: a packet's wall time is media + this
        first_arrival = last_arrival = anchor = 0.0  # anchor: arrival - media time of the first packet
        held: list[tuple[Packet[Any], float]] | None = []  # (packet, media s) until the connection flows
        last_media: dict[int, float] = {}  # per input stream
        for packet in container.demux(*(s for s in (video, audio) if s is not None)):
            if self._stop.is_set():
                break
            stamp = packet.dts if packet.dts is not None else packet.pts
            if stamp is None or packet.size == 0:
                continue
            self.bytes_read += packet.size
            self.last_packet = time.monotonic()
            now = time.time()
            media = float(stamp * (packet.stream.time_base or Fraction(1, 1000)))
            previous = last_media.get(packet.stream.index)
            last_media[packet.stream.index] = media
            jumped = previous is not None and not -MAX_BACK_SECONDS <= media - previous <= MAX_JUMP_SECONDS
            stalled = held is not None and bool(held) and now - last_arrival > ARRIVAL_GAP_SECONDS
            if jumped or stalled:  # a new session of the stream (republished) behind a stale burst
                log.info("track %s: %s: the stream starts anew", self.want.url, "jump" if jumped else "gap")
                self._close_file()
                last_media = {packet.stream.index: media}
                self._latency, held = float("inf"), []
            if held is not None and not held:
                first_arrival, anchor = now, now - media
            last_arrival = now
            self._latency = min(self._latency, now - media)
            ahead = media + anchor - now
            if ahead > MAX_AHEAD_SECONDS:  # a file or a playlist: played at the clock's pace
                self._stop.wait(ahead - MAX_AHEAD_SECONDS)
            if held is not None:
                held.append((packet, media))
                if now - first_arrival < FLOW_SECONDS:
                    continue
                backlog, held, self._flowed = held, None, True
                for p, m in backlog:
                    self._packet(p, m)
            else:
                self._packet(packet, media)
            if self.ended:
                break
        if held and not self._stop.is_set():  # a file ended before it could show a flow: it is media
            self._flowed = True
            for p, m in held:
                self._packet(p, m)

    def _packet(self, packet: Packet[Any], media: float) -> None:
        phase = self.timeline.phase(media + self._latency)
        if phase is Phase.ENDED:
            self.ended = True
            return
        is_video = packet.stream is self._video
        key = packet.is_keyframe if is_video else self._video is None  # where a file or a resume may begin
        f = self._file
        if phase is Phase.PAUSED:
            if f is not None:
                f.cut_pending = True
            return
        if f is None:
            if not key:
                return
            f = self._open(media)
        elif f.cut_pending:
            if not key:
                return
            # the file continues where the timeline is (the media up to this keyframe is lost, the
            # picture before the pause stands until it), so that its files still line up
            position = max(f.remux.end, self.timeline.offset(media + self._latency) - f.offset)
            f.remux.shift = media - position
            f.remux.reset_audio_clock()
            f.cut_pending = False
        elif key and media - f.remux.shift >= self.segment_seconds:
            self._close_file()
            f = self._open(media)
        try:
            f.remux.write(packet)
        except (ValueError, av.FFmpegError) as exc:  # e.g. a timestamp going back: that packet is lost
            log.debug("track %s: packet dropped: %s", self.want.url, exc)

    def _open(self, media: float) -> _Open:
        path, index = self.new_path(self.want)
        wall = media + self._latency
        offset = self.timeline.offset(wall)
        w = self.want
        # before the file exists: a recorder killed while it is open leaves what its salvage needs
        write_note(path, StreamNote(index, w.user_id, w.media_type, w.media_id, wall, offset))
        remux = RemuxFile(path, self._video, self._audio, m4a=path.endswith(".m4a"))
        remux.shift = media
        self._file = _Open(remux, index, media)
        self._file.offset = offset
        log.info("track %s: file %s opened", self.want.url, os.path.basename(path))
        return self._file

    def _close_file(self) -> None:
        """Close the open file, if any, and report it (a file without media is removed)."""
        f, self._file = self._file, None
        if f is None:
            return
        try:
            f.remux.close()
        except Exception:
            log.exception("track %s: closing %s failed", self.want.url, f.remux.path)
            return
        if f.remux.packets == 0:
            os.unlink(f.remux.path)
            drop_note(f.remux.path)
            return
        wall = f.first_media + self._latency  # the latency as known now: the tightest estimate
        self.closed(
            SegmentInfo(
                index=f.index,
                name=os.path.basename(f.remux.path),
                path=f.remux.path,
                size=f.remux.file.size,
                md5=f.remux.file.hexdigest(),
                duration=f.remux.end,
                start_time=wall,
                user_id=self.want.user_id,
                media_type=self.want.media_type,
                media_id=self.want.media_id,
                start_offset=self.timeline.offset(wall),
            )
        )
