"""Unit and property tests of the pure layout math (cloudrec.layout)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudrec.layout import (
    Rect,
    auto_audio,
    auto_select,
    clip,
    crop_rects,
    equal_grid,
    main_and_subs,
    user_join_order,
)
from cloudrec.recorder.spec import AutoSpec, CropMode, MediaType, StreamInfo

sizes_w = st.integers(min_value=1, max_value=1920)
sizes_h = st.integers(min_value=1, max_value=1080)
counts = st.integers(min_value=1, max_value=9)


def inside(r: Rect, w: int, h: int) -> bool:
    return r.x >= 0 and r.y >= 0 and r.right <= w and r.bottom <= h


def overlap(a: Rect, b: Rect) -> bool:
    return a.intersect(b) is not None


# ---- crop rects ---------------------------------------------------------------------------------


def test_crop_modes_of_a_4_3_source_in_a_16_9_tile() -> None:
    tile = Rect(10, 20, 320, 180)
    assert crop_rects(320, 240, tile, CropMode.STRETCH, 1000, 1000) == (Rect(0, 0, 320, 240), tile)
    # fill: full width, the middle 180 of 240 rows
    assert crop_rects(320, 240, tile, CropMode.FILL, 1000, 1000) == (Rect(0, 30, 320, 180), tile)
    # fit: full height, 240 columns centred in 320
    assert crop_rects(320, 240, tile, CropMode.FIT, 1000, 1000) == (
        Rect(0, 0, 320, 240),
        Rect(50, 20, 240, 180),
    )


def test_crop_modes_of_a_16_9_source_in_a_4_3_tile() -> None:
    tile = Rect(0, 0, 400, 300)
    assert crop_rects(1280, 720, tile, CropMode.FILL, 400, 300) == (Rect(160, 0, 960, 720), tile)
    assert crop_rects(1280, 720, tile, CropMode.FIT, 400, 300) == (
        Rect(0, 0, 1280, 720),
        Rect(0, 37, 400, 225),
    )


def test_clipping_cuts_destination_and_source_alike() -> None:
    # right half of the tile is outside a 200-wide canvas
    src, dst = crop_rects(400, 100, Rect(0, 0, 400, 100), CropMode.STRETCH, 200, 100) or (None, None)
    assert dst == Rect(0, 0, 200, 100)
    assert src == Rect(0, 0, 200, 100)
    # tile hanging off the top-left corner, source twice the tile size
    res = crop_rects(200, 200, Rect(-50, -25, 100, 100), CropMode.STRETCH, 640, 360)
    assert res == (Rect(100, 50, 100, 150), Rect(0, 0, 50, 75))


def test_tiles_entirely_outside_are_dropped() -> None:
    for tile in (Rect(640, 0, 10, 10), Rect(0, 360, 10, 10), Rect(-10, 0, 10, 10), Rect(0, -5, 10, 5)):
        assert crop_rects(100, 100, tile, CropMode.FILL, 640, 360) is None
        assert clip(tile, 640, 360) is None
    assert crop_rects(0, 100, Rect(0, 0, 10, 10), CropMode.FILL, 640, 360) is None


@given(
    sw=st.integers(1, 4000),
    sh=st.integers(1, 4000),
    x=st.integers(-2000, 2000),
    y=st.integers(-1200, 1200),
    tw=st.integers(1, 1920),
    th=st.integers(1, 1080),
    mode=st.sampled_from(list(CropMode)),
    cw=sizes_w,
    ch=sizes_h,
)
def test_crop_rects_properties(
    sw: int, sh: int, x: int, y: int, tw: int, th: int, mode: CropMode, cw: int, ch: int
) -> None:
    tile = Rect(x, y, tw, th)
    res = crop_rects(sw, sh, tile, mode, cw, ch)
    unclipped = crop_rects(sw, sh, tile, mode, 10**6, 10**6) if x >= 0 and y >= 0 else None
    if res is None:
        visible = clip(tile, cw, ch)
        if mode != CropMode.FIT:
            assert visible is None
        return
    src, dst = res
    assert inside(dst, cw, ch) and dst.w > 0 and dst.h > 0
    assert inside(src, sw, sh) and src.w > 0 and src.h > 0
    tile_vis = clip(tile, cw, ch)
    assert tile_vis is not None and tile_vis.intersect(dst) == dst  # never draws outside its tile
    if unclipped is not None:
        full_src, full_dst = unclipped
        assert full_src.intersect(src) == src
        if mode == CropMode.FILL:
            assert full_dst == tile
            # the crop has the tile's aspect ratio, to rounding (half a source pixel)
            assert abs(full_src.w * th - full_src.h * tw) <= max(tw, th)
            # centred
            assert (
                abs(full_src.x - (sw - full_src.right)) <= 1 and abs(full_src.y - (sh - full_src.bottom)) <= 1
            )
        elif mode == CropMode.FIT:
            assert full_src == Rect(0, 0, sw, sh)
            assert tile.intersect(full_dst) == full_dst
            assert full_dst.w == tw or full_dst.h == th  # touches two opposite tile edges
            assert abs(full_dst.w * sh - full_dst.h * sw) <= max(sw, sh)
            assert abs((full_dst.x - tile.x) - (tile.right - full_dst.right)) <= 1
            assert abs((full_dst.y - tile.y) - (tile.bottom - full_dst.bottom)) <= 1
        else:
            assert full_src == Rect(0, 0, sw, sh) and full_dst == tile


# ---- grids --------------------------------------------------------------------------------------


def test_equal_grid_shapes() -> None:
    assert equal_grid(1, 1920, 1080) == [Rect(0, 0, 1920, 1080)]
    assert equal_grid(2, 1920, 1080) == [Rect(0, 0, 960, 1080), Rect(960, 0, 960, 1080)]
    assert equal_grid(3, 1920, 1080) == [Rect(0, 0, 960, 540), Rect(960, 0, 960, 540), Rect(0, 540, 960, 540)]
    five = equal_grid(5, 1920, 1080)
    assert [r.w for r in five] == [640] * 5 and [r.y for r in five] == [0, 0, 0, 540, 540]
    nine = equal_grid(9, 1920, 1080)
    assert nine[4] == Rect(640, 360, 640, 360) and nine[8] == Rect(1280, 720, 640, 360)
    assert equal_grid(0, 100, 100) == []
    with pytest.raises(ValueError):
        equal_grid(10, 100, 100)


@given(n=counts, w=sizes_w, h=sizes_h)
def test_equal_grid_properties(n: int, w: int, h: int) -> None:
    cells = equal_grid(n, w, h)
    assert len(cells) == n
    for r in cells:
        assert inside(r, w, h) and r.w >= 0 and r.h >= 0
    for a, b in itertools.combinations(cells, 2):
        assert not overlap(a, b)
    # cells are equal to a pixel and, for full grids, tile the canvas exactly
    assert max(r.w for r in cells) - min(r.w for r in cells) <= 1
    assert max(r.h for r in cells) - min(r.h for r in cells) <= 1
    if n in (1, 2, 4, 6, 9):
        assert sum(r.area for r in cells) == w * h
    # row-major (where the canvas is large enough for every cell to have pixels)
    if all(r.area > 0 for r in cells):
        assert [(r.y, r.x) for r in cells] == sorted((r.y, r.x) for r in cells)


def test_main_and_subs_geometry() -> None:
    assert main_and_subs(1, 1920, 1080) == [Rect(0, 0, 1920, 1080)]
    two = main_and_subs(2, 1920, 1080)
    assert two == [Rect(0, 0, 1440, 1080), Rect(1440, 0, 480, 270)]
    nine = main_and_subs(9, 1920, 1080)
    assert nine[0] == Rect(0, 0, 1680, 1080)
    assert nine[1:] == [Rect(1680, i * 135, 240, 135) for i in range(8)]


@given(n=counts, w=st.integers(16, 1920), h=st.integers(16, 1080))
def test_main_and_subs_properties(n: int, w: int, h: int) -> None:
    rects = main_and_subs(n, w, h)
    assert len(rects) == n
    for r in rects:
        assert inside(r, w, h) and r.w > 0 and r.h > 0
    for a, b in itertools.combinations(rects, 2):
        assert not overlap(a, b)
    assert all(rects[0].area > r.area for r in rects[1:])
    assert rects[0].x == 0 and rects[0].y == 0 and rects[0].h == h
    # subs share one right-hand column, top-down
    assert len({(r.x, r.w) for r in rects[1:]}) <= 1
    assert [r.y for r in rects[1:]] == sorted(r.y for r in rects[1:])
    if n > 1:
        assert rects[1].right == w


# ---- automatic selection ------------------------------------------------------------------------


def s(user: str, mt: MediaType, seq: int, media_id: str = "0") -> StreamInfo:
    return StreamInfo(user, mt, media_id, f"rtmp://h/{user}/{int(mt)}/{media_id}", seq)


def test_priority_one_tile_per_user_in_join_order() -> None:
    streams = [
        s("b", MediaType.CAMERA, 2),
        s("a", MediaType.WHITEBOARD, 1),
        s("a", MediaType.CAMERA, 3),
        s("c", MediaType.WHITEBOARD, 4),
        s("b", MediaType.SCREEN, 5),
        s("d", MediaType.AUDIO, 0),  # joined first, but no video: no tile
        s("a", MediaType.AUDIO, 6),
    ]
    chosen = auto_select(streams, AutoSpec(), 1920, 1080)
    assert [(x.user_id, x.media_type) for x, _ in chosen] == [
        ("a", MediaType.CAMERA),
        ("b", MediaType.SCREEN),
        ("c", MediaType.WHITEBOARD),
    ]
    assert [r for _, r in chosen] == equal_grid(3, 1920, 1080)
    assert user_join_order(streams) == ["d", "a", "b", "c"]
    assert [x.user_id for x in auto_audio(streams)] == ["d", "a"]


def test_media_count_caps_the_tiles() -> None:
    streams = [s(f"u{i}", MediaType.CAMERA, i) for i in range(12)]
    chosen = auto_select(streams, AutoSpec(media_count=5), 1280, 720)
    assert [x.user_id for x, _ in chosen] == ["u0", "u1", "u2", "u3", "u4"]
    assert len(auto_select(streams, AutoSpec(), 1280, 720)) == 9


def test_main_user_of_main_and_subs() -> None:
    streams = [s("a", MediaType.CAMERA, 1), s("b", MediaType.CAMERA, 2), s("c", MediaType.SCREEN, 3)]
    chosen = auto_select(streams, AutoSpec(type=2, user_id="c"), 1920, 1080)
    assert [x.user_id for x, _ in chosen] == ["c", "a", "b"]
    assert [r for _, r in chosen] == main_and_subs(3, 1920, 1080)
    # the named user publishes no video: the first joined is the main user
    chosen = auto_select([*streams, s("z", MediaType.AUDIO, 0)], AutoSpec(type=2, user_id="z"), 1920, 1080)
    assert [x.user_id for x, _ in chosen] == ["a", "b", "c"]
    # with media_count 2 the main user is kept even though it joined last
    chosen = auto_select(streams, AutoSpec(type=2, user_id="c", media_count=2), 1920, 1080)
    assert [x.user_id for x, _ in chosen] == ["c", "a"]


def test_nothing_published_nothing_selected() -> None:
    assert auto_select([], AutoSpec(), 640, 360) == []
    assert auto_select([s("a", MediaType.AUDIO, 0)], AutoSpec(type=2), 640, 360) == []


@given(
    entries=st.lists(
        st.tuples(st.sampled_from("abcdefghijkl"), st.sampled_from(list(MediaType)), st.integers(0, 50)),
        max_size=40,
    ),
    count=counts,
    kind=st.sampled_from([1, 2]),
)
def test_auto_select_properties(entries: list[tuple[str, MediaType, int]], count: int, kind: int) -> None:
    streams = [s(u, mt, seq, str(i)) for i, (u, mt, seq) in enumerate(entries)]
    chosen = auto_select(streams, AutoSpec(type=kind, media_count=count), 1280, 720)
    users = [x.user_id for x, _ in chosen]
    video_users = {x.user_id for x in streams if x.media_type != MediaType.AUDIO}
    assert len(users) == len(set(users)) == min(count, len(video_users))
    for x, _ in chosen:
        assert x.media_type != MediaType.AUDIO
        mine = [y.media_type for y in streams if y.user_id == x.user_id and y.media_type != MediaType.AUDIO]
        rank = [MediaType.SCREEN, MediaType.CAMERA, MediaType.WHITEBOARD]
        assert rank.index(x.media_type) == min(rank.index(m) for m in mine)
    order = [u for u in user_join_order(streams) if u in video_users]
    assert users == order[: len(users)]
    rects = [r for _, r in chosen]
    for a, b in itertools.combinations(rects, 2):
        assert not overlap(a, b)
