"""Probe finished or abandoned segment files: duration by demuxing, md5 and size by reading."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

import av

from cloudrec.recorder.spec import SegmentInfo

log = logging.getLogger(__name__)

SEGMENT_RE = re.compile(r"^(?P<stem>.+)_(?P<index>\d{4,})\.(?P<ext>mp4|mp3)$")


def file_md5(path: str | Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def media_duration(path: str | Path) -> float:
    """Seconds of media in a file, from the packets themselves (works on a truncated fragmented MP4):
    the longest stream's span from first to last timestamp (muxers shift timestamps by encoder delay)."""
    spans: dict[int, tuple[float, float]] = {}
    try:
        with av.open(str(path)) as container:
            for packet in container.demux():
                if packet.pts is None or packet.time_base is None:
                    continue
                start = float(packet.pts * packet.time_base)
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                lo, hi = spans.get(packet.stream.index, (start, end))
                spans[packet.stream.index] = (min(lo, start), max(hi, end))
    except av.error.FFmpegError as exc:
        log.warning("probe of %s stopped early: %s", path, exc)
    return max((hi - lo for lo, hi in spans.values()), default=0.0)


def salvage_segments(work_dir: str, known: set[str], min_index: int = 1) -> list[SegmentInfo]:
    """Segment files in `work_dir` that were not reported closed and still hold playable media (from
    index `min_index` on: those before are an earlier recorder's, reported already)."""
    found: list[SegmentInfo] = []
    if not os.path.isdir(work_dir):
        return found
    for name in sorted(os.listdir(work_dir)):
        m = SEGMENT_RE.match(name)
        if m is None or name in known or int(m.group("index")) < min_index:
            continue
        path = os.path.join(work_dir, name)
        duration = media_duration(path)
        if duration <= 0:
            # out of the segment names: a successor recorder continues the numbering with this index
            os.replace(path, path + ".empty")
            log.warning("abandoned segment %s holds no media: kept as %s.empty", path, name)
            continue
        found.append(
            SegmentInfo(
                index=int(m.group("index")),
                name=name,
                path=path,
                size=os.path.getsize(path),
                md5=file_md5(path),
                duration=duration,
                start_time=os.path.getmtime(path) - duration,
            )
        )
    return found
