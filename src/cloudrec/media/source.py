"""One pulled URL: open with timeouts, demux and decode in a thread, pace, reconnect, count bytes."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from fractions import Fraction

import av
import av.container
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.video.frame import VideoFrame

from cloudrec.egress import check_stream
from cloudrec.media.mixer import SAMPLE_RATE, JitterBuffer, Samples

log = logging.getLogger(__name__)

# Demuxer options for live pulls: probe little, so a stream starts within a second or two.
OPEN_OPTIONS = {"analyzeduration": "500000", "probesize": "2000000"}
# Pictures up to this size are decoded in the source's own thread: decoder threads cost ~15 % more CPU
# per frame at 360p (measured) and add a frame of delay each; a bigger picture gets FFmpeg's threads.
SINGLE_THREAD_DECODE_PIXELS = 1920 * 1088


# A media server answers a new player with its cached GOP at once. The opening burst is measured
# over BURST_SECONDS; if it ran ahead of the clock by at most MAX_BACKDATE_SECONDS, it is dated back,
# its newest packet due on arrival, so that it shows what the stream showed just before (a recording's
# start is not lost to the time a pull takes to open). A burst that runs further ahead is a file or a
# playlist: it is paced from its first packet.
BURST_SECONDS = 0.25
MAX_BACKDATE_SECONDS = 2.5  # below `_Pacer.max_ahead`: a file classified so is paced, not restarted


class _Pacer:
    """Maps stream timestamps to clock times ("due") and releases packets no earlier than `slack`
    before they are due ("-re"), so that files and HLS segments, which arrive in bursts, play in real
    time; the opening burst of a live pull is dated back instead (see BURST_SECONDS). A packet later
    than `slack` moves the mapping later (the stream's latency grows to its worst jitter and audio and
    video of the stream stay aligned); a jump of more than `max_ahead` into the future restarts it."""

    slack = 0.03

    def __init__(self, stop: threading.Event, now: Callable[[], float], max_ahead: float = 3.0) -> None:
        self._stop = stop
        self._now = now
        self._max_ahead = max_ahead
        self._offset = 0.0  # due = media time + offset
        self._started = False
        self._burst_end: float | None = None  # the opening burst is being measured until then
        self._lead = 0.0  # how far the opening burst ran ahead of the clock
        self._newest = 0.0  # the newest timestamp seen

    @property
    def settled(self) -> bool:
        """Whether the opening burst is over (dated back or paced)."""
        return self._started and self._burst_end is None

    def due(self, media_time: float | None) -> float:
        if media_time is None or not self._started:
            return self._now()
        return media_time + self._offset

    def wait(self, media_time: float) -> float:
        """Hold the packet until it is due; returns how much earlier everything stamped so far is due
        now (the opening burst was dated back), else 0."""
        now = self._now()
        if not self._started:
            self._started = True
            self._offset = now - media_time
            self._burst_end = now + BURST_SECONDS
            self._newest = media_time
            return 0.0
        # Pace by the newest timestamp seen: a muxer interleaves audio up to a few tenths of a second
        # ahead of video (MPEG-TS), and a packet behind the newest one is not late, only interleaved.
        if media_time > self._newest or media_time < self._newest - self._max_ahead:
            self._newest = media_time
        delay = self._newest + self._offset - now
        if self._burst_end is not None:
            if delay > MAX_BACKDATE_SECONDS:
                self._burst_end = None  # a file or a playlist: paced from its first packet
            elif now < self._burst_end:
                self._lead = max(self._lead, delay)
                return 0.0
            else:
                self._burst_end = None
                if delay > 0:
                    self._offset -= delay
                    return delay
                return 0.0
        if delay > self._max_ahead or delay < -self.slack:
            self._offset = now - self._newest
        elif delay > 0.25:
            self._stop.wait(delay)
        elif delay > self.slack:  # a plain sleep is cheaper than an Event wait; waking up for every
            time.sleep(delay)  # packet costs too, so packets may go up to `slack` early
        return 0.0

    def ended(self) -> None:
        """The stream ended: a short file that ended within its opening burst still plays out."""
        if self._burst_end is not None and self._lead > 0:
            self._stop.wait(self._lead)
        self._burst_end = None


class Source:
    """A pulled stream: its recent decoded video frames and a jitter buffer of 48 kHz stereo audio,
    both stamped with the clock time they are due.

    A daemon thread opens the URL (open and read timeouts, so an unpublished stream never hangs it),
    picks the first video and the first audio stream by type, decodes what is wanted (`want_video`,
    `want_audio` may change at any time), and reconnects with exponential backoff when the stream
    fails or ends. `bytes_read` counts the sizes of all demuxed packets; `opens`, `open_failures` and
    `reconnects` count connections (for the server's metrics).
    """

    # Video history: frames due from `keep_from` on (the recorder's next output time), at most
    # `keep_seconds` back and `max_frames` many (while the recorder holds its start for other sources).
    max_frames = 48

    def __init__(
        self,
        url: str,
        *,
        want_video: bool,
        want_audio: bool,
        open_timeout: float = 5.0,
        read_timeout: float = 5.0,
        keep_seconds: float = 0.2,
        now: Callable[[], float] = time.monotonic,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        self.url = url
        self.want_video = want_video
        self.want_audio = want_audio
        self.keep_seconds = keep_seconds
        self.keep_from = float("-inf")  # set by the recorder: no frame due before it is asked for again
        # room for an opening burst (see `_Pacer`) plus the recorder's wait for its other sources
        self.audio = JitterBuffer(cap=MAX_BACKDATE_SECONDS + 1.5)
        self._now = now
        self._open_timeout = open_timeout
        self._read_timeout = read_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._frames: deque[tuple[float, VideoFrame, int]] = deque()  # (due, frame, sequence number)
        self._video_seq = 0
        self._media_count = 0
        self._bytes = 0
        self.opens = 0
        self.open_failures = 0
        self.reconnects = 0  # connections that broke or ended while the source still wanted them
        self._live = False
        self._settled = False  # live, and its opening burst dated (see `_Pacer`)
        self._live_since = 0.0  # clock time of the connection's first media
        self._delivered = False  # media came on the current connection
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"source {url}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Ask the thread to stop; it leaves within the read timeout and closes its container."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def bytes_read(self) -> int:
        return self._bytes

    @property
    def counts(self) -> tuple[int, int, int]:
        """Opens, failed opens and reconnects so far."""
        return (self.opens, self.open_failures, self.reconnects)

    @property
    def live(self) -> bool:
        """Connected and delivering decoded media."""
        return self._live

    @property
    def ready(self) -> bool:
        """Delivering media, with the opening burst dated (or measured for as long as that takes):
        what it holds is on the clock."""
        return self._live and (self._settled or self._now() - self._live_since >= 2 * BURST_SECONDS)

    @property
    def media_count(self) -> int:
        """How many frames (video or audio) were decoded so far: grows while media flows."""
        return self._media_count

    def video_at(self, at: float) -> tuple[VideoFrame, int] | None:
        """The newest frame due at `at` (else the oldest one kept) and its sequence number; None
        without live video."""
        frames = tuple(self._frames)  # one atomic copy: the thread appends meanwhile
        if not frames:
            return None
        best = frames[0]
        for entry in frames:
            if entry[0] > at:
                break
            best = entry
        return best[1], best[2]

    # ---- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._backoff_initial
        while not self._stop.is_set():
            self._delivered = False
            try:
                check_stream(self.url)  # the egress policy, on the addresses the name resolves to now
                container = av.open(
                    self.url, "r", options=OPEN_OPTIONS, timeout=(self._open_timeout, self._read_timeout)
                )
            except Exception as exc:  # noqa: BLE001 - any failure to open means "try again later"
                self.open_failures += 1
                log.info("source %s: open failed: %s", self.url, exc)
            else:
                self.opens += 1
                try:
                    self._pull(container)
                    log.info("source %s: stream ended", self.url)
                except Exception as exc:  # noqa: BLE001 - a broken stream is reconnected, never fatal
                    log.info("source %s: stream failed: %s", self.url, exc)
                finally:
                    self._offline()
                    if not self._stop.is_set():
                        self.reconnects += 1
                    try:
                        container.close()
                    except Exception:
                        log.debug("source %s: close failed", self.url, exc_info=True)
            if self._delivered:  # it worked for a while: reconnect soon
                delay = self._backoff_initial
            if self._stop.wait(delay):
                break
            delay = min(self._backoff_max, delay * 2)

    def _offline(self) -> None:
        self._live = False
        self._settled = False
        self._frames.clear()

    def _add_frame(self, due: float, frame: VideoFrame) -> None:
        self._video_seq += 1
        frames = self._frames
        frames.append((due, frame, self._video_seq))
        horizon = max(self.keep_from, self._now() - self.keep_seconds)
        while len(frames) > self.max_frames or (len(frames) > 1 and frames[1][0] <= horizon):
            frames.popleft()

    def _backdate(self, seconds: float) -> None:
        """Everything received so far is due `seconds` earlier (see `_Pacer`)."""
        self._frames = deque((due - seconds, frame, seq) for due, frame, seq in self._frames)
        self.audio.shift(-seconds)

    def _pull(self, container: av.container.InputContainer) -> None:
        vstream = container.streams.video[0] if container.streams.video else None
        astream = container.streams.audio[0] if container.streams.audio else None
        log.info(
            "source %s: opened (%s video, %s audio)",
            self.url,
            vstream.codec_context.name if vstream else "no",
            astream.codec_context.name if astream else "no",
        )
        if vstream is None and astream is None:
            return
        if vstream is not None and vstream.codec_context.width * vstream.codec_context.height <= (
            SINGLE_THREAD_DECODE_PIXELS
        ):
            vstream.codec_context.thread_count = 1
        vbase = float(vstream.time_base or 0) if vstream else 0.0
        abase = float(astream.time_base or 0) if astream else 0.0
        resampler = AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)
        pacer = _Pacer(self._stop, self._now)
        try:
            for packet in container.demux():
                if self._stop.is_set():
                    break
                self._bytes += packet.size
                stream = packet.stream
                if stream is vstream:
                    if not self.want_video:
                        self._frames.clear()
                        continue
                elif stream is astream:
                    if not self.want_audio:
                        continue
                else:
                    continue
                stamp = packet.dts if packet.dts is not None else packet.pts
                if stamp is not None:
                    earlier = pacer.wait(stamp * (vbase if stream is vstream else abase))
                    if earlier:
                        self._backdate(earlier)
                    self._settled = pacer.settled
                for frame in packet.decode():
                    if isinstance(frame, VideoFrame):
                        self._add_frame(pacer.due(frame.time), frame)
                    elif isinstance(frame, AudioFrame):
                        resampler = self._push_audio(resampler, frame, pacer.due(frame.time))
                    else:
                        continue
                    self._media_count += 1
                    if not self._live:
                        self._live, self._live_since = True, self._now()
                    self._delivered = True
        finally:
            pacer.ended()  # what came is shown before the source goes offline

    def _push_audio(self, resampler: AudioResampler, frame: AudioFrame, due: float) -> AudioResampler:
        samples = fast_s16(frame)
        if samples is not None:
            self.audio.push(samples, due)
            return resampler
        frame.pts = None  # due times come from the pacer; source stamps only confuse the filter
        frame.time_base = Fraction(1, frame.sample_rate)
        try:
            out = resampler.resample(frame)
        except ValueError:  # the input format changed mid-stream: start a new resampler
            resampler = AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)
            out = resampler.resample(frame)
        for chunk in out:
            data = np.frombuffer(memoryview(chunk.planes[0]), dtype=np.int16, count=chunk.samples * 2)
            self.audio.push(data.reshape(-1, 2).copy(), due)
            due += chunk.samples / SAMPLE_RATE
        return resampler


def fast_s16(frame: AudioFrame) -> Samples | None:
    """48 kHz float planar mono/stereo (what AAC and Opus decoders give) as stereo s16, in numpy;
    None for anything else (which goes through the resampler)."""
    channels = frame.layout.nb_channels
    if frame.sample_rate != SAMPLE_RATE or frame.format.name != "fltp" or channels not in (1, 2):
        return None
    n = frame.samples
    left = np.frombuffer(memoryview(frame.planes[0]), dtype=np.float32, count=n)
    right = np.frombuffer(memoryview(frame.planes[1]), dtype=np.float32, count=n) if channels == 2 else left
    out = np.empty((n, 2), dtype=np.float32)
    out[:, 0] = left
    out[:, 1] = right
    np.multiply(out, 32767.0, out=out)
    np.clip(out, -32768.0, 32767.0, out=out)
    return out.astype(np.int16)
