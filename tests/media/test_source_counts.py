"""The connection and picture counts a recording reports in `Stats` (the server's metrics count them)."""

from __future__ import annotations

from pathlib import Path

from cloudrec.recorder.spec import Finish, Layout, MediaType, Stats, StreamInfo, VideoTile
from media.media_helpers import StreamServer, make_spec, record

FPS = 15  # make_spec's frame rate


def layout_of(user: str) -> Layout:
    return Layout(video=(VideoTile(user, "0", MediaType.CAMERA, 0, 0, 320, 180),))


def test_a_stream_that_ends_counts_a_reconnect_and_every_open(server: StreamServer, tmp_path: Path) -> None:
    streams = (StreamInfo("s", MediaType.CAMERA, "0", server.url("short.flv")),)  # a 1 s clip, then EOF
    earlier = server.served.count("short.flv")  # the stream server is shared by the session
    result, _ = record(make_spec(tmp_path, streams=streams, layout=layout_of("s")), [(3.5, Finish())])
    final = result.finished.stats
    served = server.served.count("short.flv") - earlier
    assert served >= 2
    # each serve was an open; each end of the clip but perhaps the last (cut by finish) a reconnect
    assert final.source_opens >= served and 1 <= final.source_reconnects <= final.source_opens, final
    assert final.source_open_failures == 0
    # every tick of the timeline is a composed picture or a skipped one
    assert final.frames_composed + final.skipped_frames == round(final.media_duration * FPS) > 0
    reports = [e for e in result.events if isinstance(e, Stats)]
    assert reports and all(r.frames_composed <= final.frames_composed for r in reports)  # cumulative


def test_a_url_that_cannot_be_opened_counts_open_failures(server: StreamServer, tmp_path: Path) -> None:
    streams = (StreamInfo("gone", MediaType.CAMERA, "0", server.url("missing.flv")),)  # HTTP 404
    result, _ = record(make_spec(tmp_path, streams=streams, layout=layout_of("gone")), [(2.0, Finish())])
    final = result.finished.stats
    assert final.source_open_failures >= 1 and final.source_opens == 0 and final.source_reconnects == 0
    # the timeline ran from the start: the placeholder composed for every tick
    assert final.frames_composed + final.skipped_frames == round(final.media_duration * FPS)
