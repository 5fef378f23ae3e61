"""The recorder's snapshot maker: nothing while nobody asks, then one JPEG a second per width, until the
request expires; posters are the middle picture of a closed segment."""

from __future__ import annotations

import hashlib
import io
import itertools
from pathlib import Path

import numpy as np
from av.video.frame import VideoFrame
from PIL import Image

from cloudrec.layout import Rect
from cloudrec.media.mixer import silence
from cloudrec.media.segmenter import OutputFormat, Segmenter, tick_samples
from cloudrec.media.selection import TilePlan
from cloudrec.media.snapshot import SNAPSHOT_INTERVAL_S, SnapshotMaker, add_poster
from cloudrec.recorder.spec import CropMode, FileType, Progress, RequestSnapshot, SegmentInfo, Snapshot


def solid(rgb: tuple[int, int, int], w: int = 320, h: int = 180) -> VideoFrame:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:] = rgb
    return VideoFrame.from_ndarray(arr, format="rgb24").reformat(format="yuv420p")


def test_nothing_is_encoded_while_nobody_asks_then_once_a_second_until_the_request_expires() -> None:
    events: list[Progress] = []
    now = [1000.0]
    maker = SnapshotMaker(events.append, wall=lambda: now[0])
    frame = solid((255, 0, 0))
    tiles = [TilePlan(Rect(0, 0, 160, 90), CropMode.FILL, "alice", "rtmp://x")]
    for _ in range(100):
        maker.tick(frame, tiles)
        now[0] += 0.1
    assert events == []

    maker.request(RequestSnapshot(until=now[0] + 2.5, width=160))
    start = now[0]
    while now[0] < start + 4:
        maker.tick(frame, tiles)
        now[0] += 0.05
    shots = [e for e in events if isinstance(e, Snapshot)]
    assert len(events) == len(shots) == 3  # at 0, 1 and 2 s; none after the request expired at 2.5 s
    assert shots[0].at == start
    # one a second: the first tick at least SNAPSHOT_INTERVAL_S after the last one
    assert all(
        SNAPSHOT_INTERVAL_S <= b.at - a.at < SNAPSHOT_INTERVAL_S + 0.051 for a, b in itertools.pairwise(shots)
    )
    image = Image.open(io.BytesIO(shots[0].jpeg))
    assert (image.format, image.size) == ("JPEG", (160, 90))
    r, g, b = image.convert("RGB").getpixel((80, 45))  # type: ignore[misc]
    assert r > 200 and g < 50 and b < 50
    assert shots[0].tiles[0].label == "alice" and shots[0].width == 160
    assert maker.until == {}  # forgotten: the recorder is back to a dict check per tick


def test_no_picture_an_empty_answer_and_a_new_width_gets_one_at_once() -> None:
    events: list[Progress] = []
    now = [0.0]
    maker = SnapshotMaker(events.append, wall=lambda: now[0])
    maker.request(RequestSnapshot(until=10.0, width=0))
    maker.tick(None, [])
    assert events == [Snapshot(jpeg=b"", at=0.0, width=0)]  # nothing composed: said at once
    events.clear()
    now[0] = 1.0
    maker.tick(solid((0, 0, 255)), [])
    now[0] = 1.3
    maker.request(RequestSnapshot(until=10.0, width=64))
    maker.tick(solid((0, 0, 255)), [])
    assert [(s.width, Image.open(io.BytesIO(s.jpeg)).size) for s in events if isinstance(s, Snapshot)] == [
        (0, (320, 180)),
        (64, (64, 36)),
    ]


def test_poster_is_the_middle_picture_of_the_segment(tmp_path: Path) -> None:
    fps = 15
    segmenter = Segmenter(
        OutputFormat(FileType.MP4, 320, 180, fps), str(tmp_path), "p", 6 * fps, after_close=add_poster
    )
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]  # 2 s each: the middle (3 s) is green
    for tick in range(6 * fps):
        n = tick_samples(tick + 1, fps) - tick_samples(tick, fps)
        segmenter.write(tick, solid(colours[tick // (2 * fps)]), silence(n))
    closed: list[SegmentInfo] = []
    segmenter.close(closed.append)
    (info,) = closed
    assert info.poster == str(tmp_path / "p_0001.jpg")
    data = Path(info.poster).read_bytes()
    assert hashlib.md5(data).hexdigest() == info.poster_md5
    r, g, b = Image.open(io.BytesIO(data)).convert("RGB").getpixel((160, 90))  # type: ignore[misc]
    assert g > 200 and r < 60 and b < 60


def test_a_segment_that_cannot_be_read_keeps_no_poster(tmp_path: Path) -> None:
    path = tmp_path / "broken_0001.mp4"
    path.write_bytes(b"not a video")
    info = SegmentInfo(1, path.name, str(path), 11, "", 1.0, 0.0)
    assert add_poster(info) == info
