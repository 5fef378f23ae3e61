"""record_mode 1: every published stream on its own, remuxed (the media server's H.264 bytes kept)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
from api.harness import Tenant
from support.decode import audio_samples, close, pixel, tone_share, video_frames
from support.publisher import Publisher, open_input
from support.server import PublishFn, download, finish, publish_stream, unpublish_stream

from e2e.test_succession import SUCCESSOR_S, kill_and_wait_successor

FPS = 15
FRAME = 1 / FPS
RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 30)
SIZE = (160, 120)


@dataclass
class Pulled:
    """A video packet the media server delivered to the test's own pull."""

    arrival: float  # Unix time
    media: float  # seconds (dts)
    pts: float
    key: bool
    md5: str


@dataclass
class Tap:
    """The test's own pull of a stream: every video packet's hash, media time and arrival."""

    url: str
    packets: list[Pulled] = field(default_factory=list)
    audio_latency: float = float("inf")

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with open_input(self.url, timeout=5.0, read_timeout=1.5) as c:
            wanted = [s for s in (*c.streams.video[:1], *c.streams.audio[:1])]
            try:
                for p in c.demux(wanted):
                    if self._stop.is_set():
                        break
                    if p.dts is None or p.size == 0:
                        continue
                    tb = p.stream.time_base
                    assert tb is not None
                    now = time.time()
                    media = float(p.dts * tb)
                    self.audio_latency = min(self.audio_latency, now - media)
                    if p.stream.type == "video":
                        pts = float((p.pts if p.pts is not None else p.dts) * tb)
                        self.packets.append(
                            Pulled(now, media, pts, p.is_keyframe, hashlib.md5(bytes(p)).hexdigest())
                        )
            except av.FFmpegError:
                pass  # the stream ended

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def first_wall(self) -> float:
        """Unix time at which the stream's first keyframe was shown (its media time on the clock)."""
        key = next(p for p in self.packets if p.key)
        return key.media + self.audio_latency


def start_tapped(publish: PublishFn, name: str, **spec: Any) -> tuple[Publisher, str, Tap, float]:
    """A publisher (a keyframe every 3 s, so the media server's cached GOP starts at its first frame),
    the test's own pull of it, and the time its first packet went out."""
    pub, url = publish(name, fps=FPS, size=SIZE, gop=3 * FPS, **spec)
    pub.wait_publishing()
    sent = time.time()
    return pub, url, Tap(url), sent


def video_md5s(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [hashlib.md5(bytes(p)).hexdigest() for p in c.demux(c.streams.video[0]) if p.size]


def assert_same_bitstream(path: Path, tap: Tap) -> None:
    """The file's H.264 packets are a run of the media server's, byte for byte, from a keyframe."""
    recorded = video_md5s(path)
    pulled = [p.md5 for p in tap.packets]
    assert recorded, path
    starts = [i for i, p in enumerate(tap.packets) if p.key and p.md5 == recorded[0]]
    assert starts, f"{path.name}: its first packet is no keyframe the server delivered"
    i = starts[0]
    assert pulled[i : i + len(recorded)] == recorded, f"{path.name}: packets differ from the source's"


def check_file(path: Path, colour: tuple[int, int, int], tone_hz: float | None) -> None:
    frames = video_frames(path)
    assert frames, path
    w, h = SIZE
    for t, f in (frames[0], frames[len(frames) // 2], frames[-1]):
        assert close(pixel(f, w // 2, h // 2), colour), (path.name, t, pixel(f, w // 2, h // 2), colour)
    with av.open(str(path)) as c:
        has_audio = bool(c.streams.audio)
        assert c.streams.video[0].codec_context.name == "h264"
    assert has_audio == (tone_hz is not None), path.name
    if tone_hz is not None:
        samples, rate = audio_samples(path)
        assert tone_share(samples, rate, tone_hz) > 0.5, (path.name, tone_hz)


def video_span(path: Path) -> float:
    """Seconds from the file's start to the end of its last frame."""
    return video_frames(path)[-1][0] + FRAME


def files_by_stream(items: list[tuple[Path, dict[str, Any]]]) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    out: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for path, item in items:
        extent = json.loads(item["extent"])
        out.setdefault(f"{extent['user_id']}/{extent['media_type']}", []).append((path, extent))
    return out


def test_three_publishers_each_in_its_own_files(tenant: Tenant, publish: PublishFn, tmp_path: Path) -> None:
    sent_init = time.time()
    reply = tenant.call(
        "/v1/record/init", group_id="ps3", record_mode=1, file_name="lesson", file_duration=300
    )
    assert reply["code"] == 0, reply
    record_id, init_rtt = reply["record_id"], time.time() - sent_init
    _, a_url, a_tap, _ = start_tapped(publish, "a", color=RED, tone_hz=440.0)
    publish_stream(tenant, "ps3", "alice", a_url, media_type=2)
    publish_stream(tenant, "ps3", "alice", a_url, media_type=1)
    time.sleep(1.0)
    b, b_url, b_tap, _ = start_tapped(publish, "b", color=BLUE, tone_hz=880.0)
    publish_stream(tenant, "ps3", "bob", b_url, media_type=2)
    publish_stream(tenant, "ps3", "bob", b_url, media_type=1)
    time.sleep(1.0)
    _, c_url, c_tap, _ = start_tapped(publish, "c", color=GREEN, audio=False)
    publish_stream(tenant, "ps3", "carol", c_url, media_type=0)
    time.sleep(3.0)
    b.stop()  # bob leaves: his stream ends
    unpublish_stream(tenant, "ps3", "bob", media_type=2)
    unpublish_stream(tenant, "ps3", "bob", media_type=1)
    time.sleep(1.5)
    finished_at = time.time()
    figures = finish(tenant, record_id)
    for tap in (a_tap, b_tap, c_tap):
        tap.stop()
    streams = files_by_stream(download(tenant, record_id, tmp_path / "out"))
    task_start = tenant.row(record_id).start_time
    assert task_start is not None and sent_init <= task_start <= sent_init + init_rtt
    offsets: dict[str, float] = {}
    assert sorted(streams) == ["alice/2", "bob/2", "carol/0"], streams
    for key, tap, colour, tone in (
        ("alice/2", a_tap, RED, 440.0),
        ("bob/2", b_tap, BLUE, 880.0),
        ("carol/0", c_tap, GREEN, None),
    ):
        ((path, extent),) = streams[key]
        assert path.name == f"lesson_{key.replace('/', '_')}_0_0001.mp4", path.name
        assert extent["media_id"] == "0" and extent["index"] >= 1
        check_file(path, colour, tone)
        assert_same_bitstream(path, tap)
        # its start on the task's timeline (from the init request, which the task row's start time
        # follows within milliseconds): when the stream's first frame was shown, ± a frame
        expected = tap.first_wall() - task_start
        assert abs(extent["start_offset"] - expected) <= FRAME, (key, extent, expected)
        offsets[key] = extent["start_offset"] - expected
    assert max(offsets.values()) - min(offsets.values()) <= FRAME / 2, offsets  # lined up with each other
    # durations: alice and carol to the finish, bob what the server delivered of him
    for key, tap in (("alice/2", a_tap), ("carol/0", c_tap)):
        ((path, extent),) = streams[key]
        expected = finished_at - tap.first_wall()
        assert abs(video_span(path) - expected) <= 2 * FRAME + 0.1, (key, video_span(path), expected)
        assert abs(extent["duration"] - video_span(path)) <= 2 * FRAME + 0.03, (key, extent)
    ((b_path, _),) = streams["bob/2"]
    delivered = b_tap.packets[-1].pts + FRAME - next(p for p in b_tap.packets if p.key).pts
    assert abs(video_span(b_path) - delivered) <= FRAME, (video_span(b_path), delivered)
    assert abs(figures["media_duration"] - (finished_at - sent_init)) <= 1, figures  # the timeline
    tasks = tenant.get("/v1/record/task/list")["record_list"]
    assert [t["record_mode"] for t in tasks if t["record_id"] == record_id] == [1]


def test_segments_suspend_and_a_dropped_stream(tenant: Tenant, publish: PublishFn, tmp_path: Path) -> None:
    """file_duration 15 is 3 s here: a new file at the first keyframe (one a second) after 3 s; the
    pause is cut out; the stream that drops and returns continues in a new file, after a gap."""
    pub, url = publish("d", fps=FPS, size=SIZE, color=RED, tone_hz=440.0)
    pub.wait_publishing()
    sent_init = time.time()
    record_id = tenant.call("/v1/record/init", group_id="psd", record_mode=1, file_duration=15, auto={})[
        "record_id"
    ]
    publish_stream(tenant, "psd", "u1", url, media_type=2)
    publish_stream(tenant, "psd", "u1", url, media_type=1)
    time.sleep(4.0)
    assert tenant.call("/v1/record/suspend", record_id=record_id)["code"] == 0
    paused_at = time.time()
    time.sleep(1.5)
    assert tenant.call("/v1/record/resume", record_id=record_id)["code"] == 0
    pause = time.time() - paused_at
    time.sleep(2.0)
    pub.stop(kill=True)  # the stream drops
    dropped_at = time.time()
    time.sleep(1.5)
    pub.start()
    pub.wait_publishing()
    back_at = time.time()
    time.sleep(4.0)
    finished_at = time.time()
    finish(tenant, record_id)
    items = download(tenant, record_id, tmp_path / "out")
    files = [(p, json.loads(i["extent"])) for p, i in items]
    files.sort(key=lambda f: f[1]["start_offset"])
    assert len({e["index"] for _, e in files}) == len(files)
    names = [p.name for p, _ in files]
    assert names == [f"{record_id}_u1_2_0_{n:04d}.mp4" for n in range(1, len(files) + 1)], names
    for path, extent in files:
        assert extent["user_id"] == "u1" and extent["media_type"] == 2
        with av.open(str(path)) as c:
            first = next(c.decode(video=0))
            assert first.key_frame, f"{path.name} does not start with a keyframe"
        check_file(path, RED, 440.0)
    # before the drop: segments of 3 s (to the keyframe after), the pause cut out of the timeline
    before = [f for f in files if f[1]["start_offset"] < dropped_at - sent_init - pause]
    after = files[len(before) :]
    assert len(before) >= 2 and after, names
    assert 3.0 - FRAME <= before[0][1]["duration"] <= 3.0 + 1.0 + FRAME, before[0][1]
    for (_, e0), (_, e1) in pairwise(before):  # contiguous on the timeline
        assert abs(e0["start_offset"] + e0["duration"] - e1["start_offset"]) <= 2 * FRAME, (e0, e1)
    end_before = before[-1][1]["start_offset"] + before[-1][1]["duration"]
    expected_end = dropped_at - sent_init - pause
    assert expected_end - 1.2 <= end_before <= expected_end + FRAME, (end_before, expected_end)
    # after the drop: a new file, starting once the stream is back (the gap is not in any file)
    restart = after[0][1]["start_offset"]
    assert back_at - sent_init - pause - 1.0 <= restart <= back_at - sent_init - pause + 2.5, (
        restart,
        back_at,
    )
    assert restart - end_before >= 1.0, (end_before, restart)
    end_after = after[-1][1]["start_offset"] + after[-1][1]["duration"]
    assert abs(end_after - (finished_at - sent_init - pause)) <= 0.3, (end_after, finished_at - sent_init)


def test_killed_recorder_is_replaced_and_each_stream_continues(
    tenant: Tenant, publish: PublishFn, tmp_path: Path
) -> None:
    """kill -9 of a per-stream recorder with a file of each stream open: those files are salvaged,
    a successor continues each stream with its next file, the gap in task/list and in `extent`."""
    a, a_url = publish("ka", fps=FPS, size=SIZE, color=RED, tone_hz=440.0)
    c, c_url = publish("kc", fps=FPS, size=SIZE, color=GREEN, audio=False)
    a.wait_publishing()
    c.wait_publishing()
    record_id = tenant.call("/v1/record/init", group_id="psk", record_mode=1, file_duration=15, auto={})[
        "record_id"
    ]  # segments of 3 s
    publish_stream(tenant, "psk", "alice", a_url, media_type=2)
    publish_stream(tenant, "psk", "alice", a_url, media_type=1)
    publish_stream(tenant, "psk", "carol", c_url, media_type=0)
    time.sleep(4.5)  # each stream: a file closed, the next open for over a second
    took = kill_and_wait_successor(tenant.server, record_id)
    assert took <= SUCCESSOR_S, took
    time.sleep(3.0)
    figures = finish(tenant, record_id)
    task = tenant.task(record_id)
    assert task["status"] == 6
    (gap,) = task["gaps"]
    assert 0 < gap["duration"] <= SUCCESSOR_S, gap
    print(f"successor after {took:.2f} s; gap {gap['duration']:.2f} s")  # shown with -s
    streams = files_by_stream(download(tenant, record_id, tmp_path / "out"))
    assert sorted(streams) == ["alice/2", "carol/0"], streams
    indexes = [e["index"] for files in streams.values() for _, e in files]
    assert len(set(indexes)) == len(indexes), indexes
    for key, colour, tone in (("alice/2", RED, 440.0), ("carol/0", GREEN, None)):
        files = sorted(streams[key], key=lambda f: f[1]["index"])
        names = [p.name for p, _ in files]
        stem = f"{record_id}_{key.replace('/', '_')}_0"
        assert names == [f"{stem}_{n:04d}.mp4" for n in range(1, len(files) + 1)], names
        with_gap = [i for i, (_, e) in enumerate(files) if "gaps" in e]
        assert len(with_gap) == 1 and with_gap[0] >= 2, (key, [e for _, e in files])  # after the salvaged
        after = with_gap[0]
        assert files[after][1]["gaps"] == task["gaps"]
        for path, extent in files:
            check_file(path, colour, tone)
            assert extent["user_id"] == key.split("/")[0] and extent["media_type"] == int(key.split("/")[1])
        for (_, e0), (_, e1) in pairwise(files):  # in order on the timeline
            assert e0["start_offset"] + e0["duration"] <= e1["start_offset"] + 1.0 + FRAME, (e0, e1)
        # the salvaged file ends where the gap begins (less its last fragment, up to a second, lost
        # with the recorder); the successor's first file starts there (the gap cut out of the
        # timeline), at the latest, or a cached GOP (a second here) before
        salvaged = files[after - 1][1]
        end = salvaged["start_offset"] + salvaged["duration"]
        assert gap["offset"] - 1.0 - FRAME <= end <= gap["offset"] + 0.01, (salvaged, gap)
        first = files[after][1]["start_offset"]
        assert gap["offset"] - 1.0 - FRAME <= first <= gap["offset"] + 0.5, (first, gap)
    # the timeline: the task's time less the gap
    row = tenant.row(record_id)
    assert row.start_time is not None and row.stop_time is not None
    expected = row.stop_time - row.start_time - gap["duration"]
    assert abs(figures["media_duration"] - expected) <= 1.0, (figures, expected)
