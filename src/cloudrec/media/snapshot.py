"""Pictures of a recording as JPEG: live snapshots while someone watches, and a poster per segment."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import math
import os
import time
from collections.abc import Callable, Sequence

import av
from av.video.frame import VideoFrame
from PIL import Image

from cloudrec.media.selection import TilePlan
from cloudrec.recorder.spec import (
    Progress,
    RequestSnapshot,
    SegmentInfo,
    Snapshot,
    SnapshotTile,
    poster_name,
)

log = logging.getLogger(__name__)

# A watcher sees the composite at most this old; encoding more often would cost the recorder for
# nothing (the console refreshes once a second).
SNAPSHOT_INTERVAL_S = 1.0
# Good enough to judge a layout, and a 1080p picture stays ~100 KiB.
JPEG_QUALITY = 80


def jpeg(frame: VideoFrame, width: int = 0) -> bytes:
    """`frame` as a JPEG, scaled to `width` pixels wide keeping its aspect (0: its own size)."""
    height = max(1, round(frame.height * width / frame.width)) if width else frame.height
    rgb = frame.reformat(width=width or frame.width, height=height, format="rgb24")  # one swscale pass
    image = Image.fromarray(rgb.to_ndarray())
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


class SnapshotMaker:
    """Encodes the last composed picture once a second for each width someone asked for, until their
    request expires; nothing at all while nobody asks (the recorder's only cost is one dict check)."""

    def __init__(self, emit: Callable[[Progress], None], wall: Callable[[], float] = time.time) -> None:
        self.emit = emit
        self.wall = wall
        self.until: dict[int, float] = {}  # width → Unix time the request expires
        self.last: dict[int, float] = {}  # width → Unix time of its last snapshot

    def request(self, cmd: RequestSnapshot) -> None:
        if cmd.width not in self.until:
            self.last.pop(cmd.width, None)  # a new watcher gets a picture at once
        self.until[cmd.width] = max(cmd.until, self.until.get(cmd.width, 0.0))

    def tick(self, frame: VideoFrame | None, tiles: Sequence[TilePlan]) -> None:
        """Called on every output tick with the compositor's last picture."""
        if not self.until:
            return
        now = self.wall()
        for width, until in list(self.until.items()):
            if now > until:
                del self.until[width]
                self.last.pop(width, None)
            elif now - self.last.get(width, -math.inf) >= SNAPSHOT_INTERVAL_S:
                self.last[width] = now
                try:
                    # nothing composed yet: an empty answer, so that the watcher need not wait for one
                    data = b"" if frame is None else jpeg(frame, width)
                except Exception:  # a picture that cannot be encoded must not end the recording
                    log.exception("snapshot of width %d could not be encoded", width)
                    continue
                placed = tuple(SnapshotTile(t.label, t.rect.x, t.rect.y, t.rect.w, t.rect.h) for t in tiles)
                self.emit(Snapshot(jpeg=data, at=now, width=width, tiles=placed))


def add_poster(info: SegmentInfo) -> SegmentInfo:
    """`info` with a poster: the segment's middle picture, decoded from the closed file, as
    `poster_name` next to it. Without a picture (or on any error): `info` unchanged."""
    poster = os.path.join(os.path.dirname(info.path), poster_name(info.name))
    try:
        middle = info.duration / 2
        picture: VideoFrame | None = None
        with av.open(info.path) as container:
            if not container.streams.video:
                return info
            stream = container.streams.video[0]
            if stream.time_base is None:
                return info
            # Fragmented MP4 seeks to the keyframe before the middle: one GOP is decoded, not half a file.
            container.seek(int(middle / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                picture = frame
                if frame.time is not None and frame.time >= middle:
                    break
        if picture is None:
            return info
        data = jpeg(picture)
        with open(poster, "wb") as f:
            f.write(data)
    except Exception:  # a segment without a poster is still a recording
        log.exception("poster of %s could not be made", info.name)
        return info
    return dataclasses.replace(info, poster=poster, poster_md5=hashlib.md5(data).hexdigest())
