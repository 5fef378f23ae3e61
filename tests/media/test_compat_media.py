"""The vendor's media features in the engine: the group's whiteboard and `main_media_type` in automatic
layouts, caption opacity, and the ticking clock caption (decoded from a real recording)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from support.captions import caption_mismatch

from cloudrec.layout import auto_select, equal_grid, main_and_subs
from cloudrec.media.captions import caption_overlays, caption_text, has_clock, rgb_to_yuv, sprite
from cloudrec.media.selection import select
from cloudrec.recorder.spec import (
    AutoSpec,
    Caption,
    CropMode,
    Finish,
    Layout,
    MediaType,
    StreamInfo,
    VideoTile,
)
from media.media_helpers import BLUE, StreamServer, make_spec, record, video_frames


def s(user: str, mt: MediaType, seq: int, media_id: str = "0") -> StreamInfo:
    return StreamInfo(user, mt, media_id, f"rtmp://h/{user or 'group'}/{int(mt)}/{media_id}", seq)


BOARD = s("", MediaType.WHITEBOARD, 2, "whiteboard2")  # the group's, published after a joined


# ---- automatic layouts --------------------------------------------------------------------------


def test_the_group_whiteboard_is_a_tile_only_with_white_board() -> None:
    streams = [s("a", MediaType.CAMERA, 1), BOARD, s("b", MediaType.CAMERA, 3)]
    without = auto_select(streams, AutoSpec(), 1280, 720)
    assert [x.user_id for x, _ in without] == ["a", "b"]
    with_board = auto_select(streams, AutoSpec(white_board=True), 1280, 720)
    assert [x for x, _ in with_board] == [streams[0], BOARD, streams[2]]  # in its join place
    assert [r for _, r in with_board] == equal_grid(3, 1280, 720)
    # its tile is labelled with its media id (it has no user)
    plans = select(streams, None, AutoSpec(white_board=True, caption=True), 1280, 720).tiles
    assert [p.label for p in plans] == ["a", "whiteboard2", "b"]


def test_the_group_whiteboard_is_no_main_user() -> None:
    streams = [BOARD, s("a", MediaType.CAMERA, 3), s("b", MediaType.CAMERA, 4)]
    chosen = auto_select(streams, AutoSpec(type=2, white_board=True), 1280, 720)
    assert [x.user_id for x, _ in chosen] == ["a", "", "b"]  # the first joined *user* is the main one
    assert [r for _, r in chosen] == main_and_subs(3, 1280, 720)
    # alone, it fills the canvas
    assert [x for x, _ in auto_select([BOARD], AutoSpec(type=2, white_board=True), 640, 360)] == [BOARD]


def test_main_media_type_picks_the_main_users_media() -> None:
    screen, camera, own_board = (
        s("t", MediaType.SCREEN, 1),
        s("t", MediaType.CAMERA, 1),
        s("t", MediaType.WHITEBOARD, 1, "wb"),
    )
    pupil = s("p", MediaType.CAMERA, 2)
    streams = [screen, camera, own_board, pupil]
    main = {
        mt: auto_select(streams, AutoSpec(type=2, user_id="t", main_media_type=mt), 1280, 720)[0][0]
        for mt in (MediaType.SCREEN, MediaType.CAMERA, MediaType.WHITEBOARD)
    }
    assert main == {MediaType.SCREEN: screen, MediaType.CAMERA: camera, MediaType.WHITEBOARD: own_board}
    # the priority order without it; and when the user lacks that media
    assert auto_select(streams, AutoSpec(type=2, user_id="t"), 1280, 720)[0][0] == screen
    chosen = auto_select([camera, pupil], AutoSpec(type=2, main_media_type=MediaType.SCREEN), 1280, 720)
    assert [x for x, _ in chosen] == [camera, pupil]
    # the whiteboard asked for and the user has none: the group's fills the main tile, the user a sub
    chosen = auto_select(
        [camera, BOARD, pupil],
        AutoSpec(type=2, user_id="t", white_board=True, main_media_type=MediaType.WHITEBOARD),
        1280,
        720,
    )
    assert [x for x, _ in chosen] == [BOARD, camera, pupil]
    # ... but not when the group's whiteboard is not recorded
    chosen = auto_select(
        [camera, BOARD, pupil], AutoSpec(type=2, user_id="t", main_media_type=MediaType.WHITEBOARD), 1280, 720
    )
    assert [x for x, _ in chosen] == [camera, pupil]


def test_manual_tiles_find_the_whiteboard_by_either_number() -> None:
    layout = Layout(video=(VideoTile("", "whiteboard2", MediaType(4), 0, 0, 160, 90),))
    (plan,) = select([BOARD], layout, None, 320, 180).tiles
    assert plan.url == BOARD.url and plan.label == "whiteboard2"


# ---- caption opacity and the clock -------------------------------------------------------------------


def _canvas(w: int, h: int, yuv: tuple[float, float, float]) -> list[npt.NDArray[np.uint8]]:
    return [
        np.full((h, w), round(yuv[0]), np.uint8),
        np.full((h // 2, w // 2), round(yuv[1]), np.uint8),
        np.full((h // 2, w // 2), round(yuv[2]), np.uint8),
    ]


def test_opacity_blends_the_caption_with_the_picture() -> None:
    from cloudrec.media.captions import blend

    background = rgb_to_yuv((200, 0, 0))
    text = rgb_to_yuv((255, 255, 255))
    results = {}
    for opacity in (100, 50, 0):
        planes = _canvas(160, 120, background)
        for overlay in caption_overlays([Caption("█", "#FFFFFF", 40, 20, 60, opacity=opacity)]):
            blend(planes, overlay)
        results[opacity] = int(planes[0][60, 70])  # inside the block
    assert abs(results[100] - text[0]) <= 1
    assert abs(results[50] - (text[0] + background[0]) / 2) <= 2
    assert results[0] == round(background[0])
    assert caption_overlays([Caption("x", opacity=0)]) == []  # invisible: nothing to blend
    assert sprite("x", "#FFFFFF", 30, 50) is sprite("x", "#FFFFFF", 30, 50)


def test_clock_text_is_the_time_in_its_zone() -> None:
    at = datetime(2026, 12, 3, 4, 5, 6, tzinfo=UTC).timestamp()
    assert caption_text(Caption("ignored", clock=True), at + 0.9) == "2026-12-03 04:05:06"
    assert caption_text(Caption("", clock=True, time_zone="Asia/Shanghai"), at) == "2026-12-03 12:05:06"
    assert caption_text(Caption("text"), at) == "text"
    assert has_clock([Caption("a"), Caption("", clock=True)]) and not has_clock([Caption("a")])
    # a clock renders a new text every second: never into the sprite cache (it would fill it)
    before = sprite.cache_info().currsize
    for second in range(5):
        (overlay,) = caption_overlays([Caption("", clock=True, size=200)], at + second)
        assert overlay.sprite.width > 0
    assert sprite.cache_info().currsize == before


CLOCK = Caption("", "#FFFFFF", 10, 70, 32, clock=True)


def test_a_clock_caption_ticks_every_second(server: StreamServer, tmp_path: Path) -> None:
    streams = (StreamInfo("b", MediaType.CAMERA, "0", server.url("blue.flv")),)
    layout = Layout(video=(VideoTile("b", "0", MediaType.CAMERA, 0, 0, 480, 180, CropMode.STRETCH),))
    spec = make_spec(tmp_path, width=480, streams=streams, layout=layout, captions=(CLOCK,))
    result, _ = record(spec, [(3.8, Finish())])
    started = result.started
    assert started is not None and result.segments
    frames = video_frames(result.segments[0].segment.path)
    shown = []
    for t, image in frames:
        wall = started.at + t
        if t < 0.3 or abs(wall - round(wall)) < 0.25:
            continue  # near a second's change the picture may show either second
        errors = {d: caption_mismatch(image, CLOCK, caption_text(CLOCK, wall + d)) for d in (-1, 0, 1)}
        assert errors[0] < 0.05, (t, errors)
        assert errors[0] < min(errors[-1], errors[1]) / 2, (t, errors)  # this second's time, not another's
        shown.append((t, caption_text(CLOCK, wall)))
    # two frames a second apart show different times, one second apart
    first = shown[0]
    later = next(x for x in shown if x[0] >= first[0] + 1.0)
    assert later[1] != first[1]
    as_time = [
        datetime.strptime(x[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp() for x in (first, later)
    ]
    assert 1 <= as_time[1] - as_time[0] <= 2
    assert time.time() - as_time[0] < 60  # the wall clock's time, not the media time
    assert BLUE  # the background of the test (blue.flv)
