"""One per-stream output file: demuxed packets remuxed into fragmented MP4 (or M4A) without re-encoding."""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from typing import Any

import av
import av.container
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.packet import Packet
from av.stream import Stream

from cloudrec.media.encoder import add_audio_stream
from cloudrec.media.hashfile import HashingFile
from cloudrec.media.mixer import SAMPLE_RATE
from cloudrec.media.segmenter import MP4_OPTIONS

log = logging.getLogger(__name__)

# Codecs MP4 carries as they come (FLV/RTMP/RTSP/HLS deliver these in the form MP4 stores them).
COPY_VIDEO_CODECS = frozenset({"h264", "hevc"})
COPY_AUDIO_CODECS = frozenset({"aac", "mp3"})
# Anything else (Opus, G.711, Speex, Nellymoser) is decoded and encoded to AAC at this bit rate.
TRANSCODE_AUDIO_BIT_RATE = 128_000


def can_copy_video(stream: Stream) -> bool:
    return stream.codec_context.name in COPY_VIDEO_CODECS


class RemuxFile:
    """An open output file fed with demuxed packets; timestamps are rebased so that the file starts at
    0 (`shift`: seconds of input media time subtracted, set by the caller, may grow after a pause).

    Video packets are copied byte for byte (`add_stream_from_template`: the codec parameters, SPS/PPS
    included, come from the input). Audio is copied when MP4 carries its codec, else transcoded to AAC.
    """

    def __init__(self, path: str, video: Stream | None, audio: Stream | None, *, m4a: bool) -> None:
        self.path = path
        self.file = HashingFile(path)
        self.container = av.open(self.file, "w", format="ipod" if m4a else "mp4", options=MP4_OPTIONS)
        self.video_in, self.audio_in = video, audio
        self.video_out = self.container.add_stream_from_template(video) if video is not None else None
        name = audio.codec_context.name if audio is not None else ""
        # M4A is AAC's; MP3 audio is copied into MP4 only
        self.audio_copy = name == "aac" if m4a else name in COPY_AUDIO_CODECS
        self.audio_out: Stream | None = None
        self._resampler: AudioResampler | None = None
        self._next_sample: int | None = None  # pts of the next transcoded sample (1/SAMPLE_RATE)
        if audio is not None:
            if self.audio_copy:
                self.audio_out = self.container.add_stream_from_template(audio)
            else:
                self.audio_out = add_audio_stream(self.container, "aac", TRANSCODE_AUDIO_BIT_RATE)
                self._resampler = AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        self.shift = 0.0
        self.end = 0.0  # media seconds of the file written so far (the latest packet's end)
        self.packets = 0

    def write(self, packet: Packet[Any]) -> None:
        """Mux one packet of the input (its stamps in its stream's time base), rebased by `shift`."""
        stream = packet.stream
        tb = stream.time_base or Fraction(1, 1000)
        if stream is self.audio_in and not self.audio_copy:
            self._transcode(packet)
            return
        out = self.video_out if stream is self.video_in else self.audio_out
        if out is None:
            return
        offset = round(self.shift / tb)
        if packet.dts is not None:
            packet.dts -= offset
        if packet.pts is not None:
            packet.pts -= offset
        if (packet.dts if packet.dts is not None else packet.pts or 0) < 0:
            return  # before the file's start (an audio packet of the keyframe's instant)
        stamp = packet.pts if packet.pts is not None else packet.dts or 0
        end = float((stamp + (packet.duration or 0)) * tb)
        packet.stream = out
        packet.time_base = tb  # the muxer rescales from the input's time base to the file's
        self.container.mux(packet)
        self.packets += 1
        self.end = max(self.end, end)

    def reset_audio_clock(self) -> None:
        """Transcoded audio continues from the packets' own stamps again (after a pause)."""
        self._next_sample = None

    def _transcode(self, packet: Packet[Any]) -> None:
        assert self.audio_out is not None and self._resampler is not None
        out = self.audio_out
        assert isinstance(out, AudioStream)
        for frame in packet.decode():
            if self._next_sample is None:
                start = (frame.time or 0.0) - self.shift
                if start < 0:
                    continue
                self._next_sample = round(start * SAMPLE_RATE)
            frame.pts = None  # the resampler's output is stamped by sample count below
            for chunk in self._resampler.resample(frame):  # type: ignore[arg-type]
                chunk.pts = self._next_sample
                chunk.time_base = Fraction(1, SAMPLE_RATE)
                self._next_sample += chunk.samples
                self.container.mux(out.encode(chunk))
                self.packets += 1
        if self._next_sample is not None:
            self.end = max(self.end, self._next_sample / SAMPLE_RATE)

    def close(self) -> None:
        try:
            if self.audio_out is not None and not self.audio_copy:
                assert isinstance(self.audio_out, AudioStream)
                self.container.mux(self.audio_out.encode(None))
        finally:
            try:
                self.container.close()
            finally:
                self.file.close()
        log.info("file %s closed: %.3f s, %d packets", os.path.basename(self.path), self.end, self.packets)
