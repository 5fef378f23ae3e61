"""Encoders: libx264 video (yuv420p, even size), AAC or libmp3lame audio at 48 kHz stereo."""

from __future__ import annotations

from fractions import Fraction

import av.container
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.video.frame import PictureType, VideoFrame
from av.video.reformatter import ColorRange
from av.video.stream import VideoStream

from cloudrec.media.compositor import AVCOL_SPC_SMPTE170M
from cloudrec.media.mixer import SAMPLE_RATE, Samples

KEYFRAME_SECONDS = 2.0  # media time between keyframes (segments and fragments start on one)


def even(n: int) -> int:
    """`n` rounded up to an even number (4:2:0 needs even sizes)."""
    return n + (n & 1)


def add_video_stream(
    container: av.container.OutputContainer,
    width: int,
    height: int,
    frame_rate: int,
    *,
    preset: str,
    crf: int,
    keyframe_seconds: float = KEYFRAME_SECONDS,
) -> VideoStream:
    """An H.264 stream (libx264, frame threads) for `width` x `height` rounded up to even sizes.

    x264 picks the thread count (1.5 per core). Two threads cost the same CPU per frame (measured at
    720p), but with four recordings on two cores a recorder then waits for its encoder more often and
    skips pictures (benchmarks scenario 3), so the default stays.

    No B-frames: a fragmented MP4 begun with an empty moov carries no edit list, so the reordering delay
    of B-frames would start the video that many frames after the audio (measured: 2 frames late)."""
    options = {"preset": preset, "crf": str(crf), "bf": "0"}
    stream = container.add_stream("libx264", rate=frame_rate, options=options)
    stream.width = even(width)
    stream.height = even(height)
    stream.pix_fmt = "yuv420p"
    ctx = stream.codec_context
    ctx.time_base = Fraction(1, frame_rate)
    ctx.gop_size = max(1, round(keyframe_seconds * frame_rate))
    ctx.thread_type = "FRAME"
    ctx.colorspace = AVCOL_SPC_SMPTE170M  # what the compositor draws: BT.601 limited range
    ctx.color_range = ColorRange.MPEG
    return stream


def add_audio_stream(container: av.container.OutputContainer, codec: str, bit_rate: int) -> AudioStream:
    """A 48 kHz stereo audio stream (`aac` or `libmp3lame`)."""
    stream = container.add_stream(codec, rate=SAMPLE_RATE)
    if not isinstance(stream, AudioStream):
        raise TypeError(f"{codec} is not an audio codec")
    stream.layout = "stereo"
    stream.bit_rate = bit_rate
    stream.codec_context.time_base = Fraction(1, SAMPLE_RATE)
    return stream


def encode_video(
    container: av.container.OutputContainer,
    stream: VideoStream,
    frame: VideoFrame | None,
    pts: int = 0,
    *,
    keyframe: bool = False,
) -> None:
    """Encode one frame at `pts` (in 1/frame_rate), or flush with None, and mux the packets."""
    if frame is not None:
        frame.pts = pts
        frame.time_base = stream.codec_context.time_base
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
    container.mux(stream.encode(frame))


def encode_audio(
    container: av.container.OutputContainer, stream: AudioStream, samples: Samples | None, pts: int = 0
) -> None:
    """Encode stereo s16 samples starting at `pts` (in samples), or flush with None, and mux.

    PyAV cuts the input into the codec's frame size (and converts to its sample format).
    """
    frame: AudioFrame | None = None
    if samples is not None:
        if len(samples) == 0:
            return
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = pts
        frame.time_base = Fraction(1, SAMPLE_RATE)
    container.mux(stream.encode(frame))
