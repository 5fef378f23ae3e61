"""Segment files: fragmented MP4 or MP3, a new file every N output ticks, closed in the background."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import av
import av.container
from av.audio.stream import AudioStream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from cloudrec.media.encoder import (
    KEYFRAME_SECONDS,
    add_audio_stream,
    add_video_stream,
    encode_audio,
    encode_video,
)
from cloudrec.media.hashfile import HashingFile
from cloudrec.media.mixer import SAMPLE_RATE, Samples
from cloudrec.recorder.spec import FileType, SegmentInfo

log = logging.getLogger(__name__)

# Fragmented MP4: a killed recorder leaves a file playable up to its last fragment (one a second).
MP4_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",  # each finished fragment goes to the file at once
}
# MP3 at a constant bit rate needs no Xing header, which the muxer would go back and rewrite at the end.
MP3_OPTIONS = {"flush_packets": "1", "write_xing": "0"}


@dataclass(frozen=True)
class OutputFormat:
    """What the segments contain."""

    file_type: FileType
    width: int
    height: int
    frame_rate: int
    preset: str = "veryfast"
    crf: int = 23
    audio_bit_rate: int = 128_000
    variable_frame_rate: bool = False  # opt-in: an unchanged picture is not encoded again (see _Segment)


def tick_samples(tick: int, frame_rate: int) -> int:
    """Audio samples before output tick `tick` (exact, also for rates that do not divide 48000)."""
    return tick * SAMPLE_RATE // frame_rate


# With a variable frame rate, an unchanged picture is still encoded at least this often. x264 holds
# back ~13 frames (lookahead and frame threads) and the muxer holds the audio back with them, so the
# media a killed recorder can lose is ~13 frame intervals: at 15 fps that stays under a second.
MIN_FRAME_RATE = 15


class _Segment:
    """One open segment file with its own encoders (so its first frame is a keyframe).

    Variable frame rate: a tick whose picture repeats the last one encoded is held back instead of
    encoded, while that one is under 1/MIN_FRAME_RATE old; the next picture gets its own timestamp,
    so the last one simply lasts longer. `seal` encodes a held repeat before the file ends, so the
    picture lasts to the segment's end. Keyframes are forced by media time (every KEYFRAME_SECONDS),
    not by frame count.
    """

    def __init__(self, fmt: OutputFormat, path: str, index: int, first_tick: int) -> None:
        self.fmt = fmt
        self.path = path
        self.index = index
        self.first_tick = first_tick
        self.last_tick = first_tick - 1
        self.start_time = time.time()
        self.video_frames = 0
        self.last_video_tick = -1
        self.last_key_tick = -1
        self.hold_ticks = max(1, fmt.frame_rate // MIN_FRAME_RATE) if fmt.variable_frame_rate else 1
        self.key_ticks = max(1, round(KEYFRAME_SECONDS * fmt.frame_rate))
        self._held: tuple[int, VideoFrame] | None = None
        self.file = HashingFile(path)
        if fmt.file_type == FileType.MP3:
            self.container = av.open(self.file, "w", format="mp3", options=MP3_OPTIONS)
            self.video: VideoStream | None = None
            self.audio: AudioStream = add_audio_stream(self.container, "libmp3lame", fmt.audio_bit_rate)
        else:
            self.container = av.open(self.file, "w", format="mp4", options=MP4_OPTIONS)
            self.video = add_video_stream(
                self.container, fmt.width, fmt.height, fmt.frame_rate, preset=fmt.preset, crf=fmt.crf
            )
            self.audio = add_audio_stream(self.container, "aac", fmt.audio_bit_rate)
        self._base_samples = tick_samples(first_tick, fmt.frame_rate)

    def write(self, tick: int, video: VideoFrame | None, audio: Samples, repeat: bool) -> None:
        if video is not None and self.video is not None:
            if repeat and self.video_frames and tick - self.last_video_tick < self.hold_ticks:
                self._held = (tick, video)
            else:
                self._encode(tick, video)
        rate = self.fmt.frame_rate
        encode_audio(self.container, self.audio, audio, tick_samples(tick, rate) - self._base_samples)
        self.last_tick = tick

    def _encode(self, tick: int, video: VideoFrame) -> None:
        assert self.video is not None
        keyframe = self.video_frames == 0 or tick - self.last_key_tick >= self.key_ticks
        encode_video(self.container, self.video, video, tick - self.first_tick, keyframe=keyframe)
        if keyframe:
            self.last_key_tick = tick
        self.video_frames += 1
        self.last_video_tick = tick
        self._held = None

    def seal(self) -> None:
        """Encode the held repeat, if any (call before `close`, while its picture is still intact)."""
        if self._held is not None:
            self._encode(*self._held)

    def close(self) -> SegmentInfo:
        """Flush the encoders, close the file, and describe it (size, md5, media duration)."""
        try:
            if self.video is not None:
                encode_video(self.container, self.video, None)
            encode_audio(self.container, self.audio, None)
        finally:
            try:
                self.container.close()
            finally:
                self.file.close()
        duration = (self.last_tick + 1 - self.first_tick) / self.fmt.frame_rate
        info = SegmentInfo(
            index=self.index,
            name=os.path.basename(self.path),
            path=self.path,
            size=self.file.size,
            md5=self.file.hexdigest(),  # hashed while written: closing costs the same at any length
            duration=duration,
            start_time=self.start_time,
        )
        log.info("segment %s closed: %.3f s, %d bytes", info.name, info.duration, info.size)
        return info


class Segmenter:
    """Writes output ticks into `<file_name>_<NNNN>.<ext>` files of `segment_ticks` ticks each.

    Segment k holds ticks [k*segment_ticks, (k+1)*segment_ticks) of the output timeline; timestamps in
    each file start at 0. Closing a segment (encoder flush, trailer, md5) runs on a worker thread so
    that the recording loop keeps its pace; `collect` returns the closed segments in order.
    Numbering starts at `first_index` (0001) and skips names already present in `work_dir` (a restarted
    recorder never overwrites a file).
    """

    def __init__(
        self,
        fmt: OutputFormat,
        work_dir: str,
        file_name: str,
        segment_ticks: int,
        first_index: int = 1,
        after_close: Callable[[SegmentInfo], SegmentInfo] | None = None,
    ) -> None:
        self.fmt = fmt
        self.after_close = after_close  # runs on the worker thread too, on each closed segment (posters)
        self.work_dir = work_dir
        self.file_name = file_name
        self.segment_ticks = max(1, segment_ticks)
        self.ext = "mp3" if fmt.file_type == FileType.MP3 else "mp4"
        self._current: _Segment | None = None
        self._next_index = first_index  # a successor recorder continues the task's numbering
        self._closer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segment-close")
        self._closing: deque[Future[SegmentInfo]] = deque()
        os.makedirs(work_dir, exist_ok=True)

    def _new_path(self) -> tuple[str, int]:
        while True:
            index = self._next_index
            self._next_index += 1
            path = os.path.join(self.work_dir, f"{self.file_name}_{index:04d}.{self.ext}")
            if not os.path.exists(path):
                return path, index
            log.warning("segment %s exists already: skipping its number", path)

    def write(self, tick: int, video: VideoFrame | None, audio: Samples, *, repeat: bool = False) -> None:
        """Write output tick `tick`: its video frame, if any (`repeat`: the same picture as the last
        one, which a variable-frame-rate segment need not encode again), and exactly its audio samples."""
        seg_start = tick - tick % self.segment_ticks
        current = self._current
        if current is not None and current.first_tick != seg_start:
            self._close_current()
            current = None
        if current is None:
            path, index = self._new_path()
            current = self._current = _Segment(self.fmt, path, index, seg_start)
            log.info("segment %s opened at tick %d", os.path.basename(path), seg_start)
        current.write(tick, video, audio, repeat)

    def _close_current(self) -> None:
        """Seal the open segment here (its held picture may be reused by the caller right after) and
        close it on the worker thread."""
        assert self._current is not None
        self._current.seal()
        self._closing.append(self._closer.submit(self._finish, self._current))
        self._current = None

    def _finish(self, segment: _Segment) -> SegmentInfo:
        info = segment.close()
        return info if self.after_close is None else self.after_close(info)

    def collect(self) -> list[SegmentInfo]:
        """Segments closed since the last call, in order (raises if closing one failed)."""
        done: list[SegmentInfo] = []
        while self._closing and self._closing[0].done():
            done.append(self._closing.popleft().result())
        return done

    def close(self, on_closed: Callable[[SegmentInfo], None]) -> None:
        """Close the open segment and wait for every pending close, passing each segment not yet
        collected to `on_closed` in order; then raise the first error, if closing one failed."""
        if self._current is not None:
            self._close_current()
        error: BaseException | None = None
        while self._closing:
            future = self._closing.popleft()
            try:
                on_closed(future.result())
            except Exception as exc:
                log.exception("closing a segment failed")
                error = error or exc
        self._closer.shutdown(wait=True)
        if error is not None:
            raise error
