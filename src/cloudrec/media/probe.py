"""Probe finished or abandoned segment files: duration by demuxing, md5 and size by reading."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import av

from cloudrec.media.streamnote import drop_note, read_note
from cloudrec.recorder.spec import SegmentInfo

log = logging.getLogger(__name__)

# A composite's `<file_name>_<index>.<ext>`, or a per-stream file `<file_name>_<user_id>_<media_type>_
# <media_id>_<NNNN>.<mp4|m4a>` (see `media.perstream`), whose NNNN counts that stream's files only: its
# task-wide index and stream are in the note beside it (`media.streamnote`).
SEGMENT_RE = re.compile(r"^(?P<stem>.+)_(?P<index>\d{4,})\.(?P<ext>mp4|mp3|m4a)$")


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
        if m is None or name in known:
            continue
        path = os.path.join(work_dir, name)
        note = read_note(path)
        if note is None and m.group("ext") == "m4a":
            log.warning("per-stream file %s has no note: its index and stream are unknown, left", path)
            continue
        index = note.index if note is not None else int(m.group("index"))
        if index < min_index:
            continue
        _detach(path)
        duration = media_duration(path)
        if duration <= 0:
            # out of the segment names: a successor recorder continues the numbering with this index
            os.replace(path, path + ".empty")
            drop_note(path)
            log.warning("abandoned segment %s holds no media: kept as %s.empty", path, name)
            continue
        info = SegmentInfo(
            index=index,
            name=name,
            path=path,
            size=os.path.getsize(path),
            md5=file_md5(path),
            duration=duration,
            start_time=os.path.getmtime(path) - duration,
        )
        if note is not None:  # a per-stream file: its stream, and where it lies on the task's timeline
            info = replace(
                info,
                start_time=note.start_time,
                user_id=note.user_id,
                media_type=note.media_type,
                media_id=note.media_id,
                start_offset=note.start_offset,
            )
        found.append(info)
    return found


def _detach(path: str) -> None:
    """Put a copy of the file in its place: a recorder whose lease expired but that still runs (stopped,
    then going on until it hears that it was replaced) writes on into the file it opened, not into the
    one that is probed, hashed and stored."""
    tmp = path + ".salvage"
    shutil.copyfile(path, tmp)
    os.replace(tmp, path)
