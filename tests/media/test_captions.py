"""Captions: CJK glyphs from the bundled font, blending into 4:2:0, and recordings decoded with captions."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cloudrec.layout import Rect
from cloudrec.media.captions import (
    Overlay,
    blend,
    caption_overlays,
    label_size,
    rgb_to_yuv,
    sprite,
    text_masks,
    tile_label_overlays,
)
from cloudrec.media.compositor import Compositor, TileDraw
from cloudrec.recorder.spec import (
    AutoSpec,
    Caption,
    CropMode,
    Finish,
    Layout,
    MediaType,
    SetCaptions,
    StreamInfo,
    VideoTile,
)
from cloudrec.recorder.spec import CropMode as Mode
from media.media_helpers import RGB, StreamServer, make_spec, record, video_frames

RED: RGB = (255, 0, 0)
GREEN: RGB = (0, 255, 0)
WHITE: RGB = (255, 255, 255)
MISSING = "\U000f0000"  # a private-use character: no font has it, its glyph is .notdef


def colour_count(image: npt.NDArray[np.uint8], rgb: RGB, tol: int = 60) -> int:
    """How many pixels of `image` are within `tol` of `rgb` in every channel."""
    diff = np.abs(image.astype(np.int16) - np.array(rgb, np.int16)).max(axis=2)
    return int((diff <= tol).sum())


def caption_area(caption: Caption, grow: int = 0) -> Rect:
    """Where a caption's bitmap lands on the canvas (what `blend` covers), grown by `grow` pixels."""
    s = sprite(caption.content, caption.color, caption.size)
    x, y = (caption.x + s.dx) & ~1, (caption.y + s.dy) & ~1
    return Rect(x - grow, y - grow, s.width + 2 * grow, s.height + 2 * grow)


def cut(image: npt.NDArray[np.uint8], r: Rect) -> npt.NDArray[np.uint8]:
    return image[max(0, r.y) : max(0, r.bottom), max(0, r.x) : max(0, r.right)]


def outside(image: npt.NDArray[np.uint8], *areas: Rect) -> npt.NDArray[np.uint8]:
    """`image` with `areas` blacked out (a copy)."""
    out = image.copy()
    for r in areas:
        out[max(0, r.y) : max(0, r.bottom), max(0, r.x) : max(0, r.right)] = 0
    return out


# ---- the font and the bitmaps ---------------------------------------------------------------------


def test_cjk_text_renders_as_glyphs_not_tofu() -> None:
    masks = {text: text_masks(text, 32)[0] for text in ("张", "三", "李", "四", "한", "あ", MISSING)}
    notdef = masks.pop(MISSING)
    assert notdef.any()  # the .notdef box is drawn, so a missing glyph would look like it
    for text, mask in masks.items():
        assert mask.sum() > 0, text
        assert mask.shape != notdef.shape or not np.array_equal(mask, notdef), f"{text} renders as .notdef"
    zhang, li, tofu = (text_masks(t, 32)[0] for t in ("张三", "李四", MISSING * 2))
    assert zhang.shape != li.shape or not np.array_equal(zhang, li)
    assert zhang.shape != tofu.shape or not np.array_equal(zhang, tofu)
    # each glyph of the font is its own (a fallback font would draw every character the same box)
    assert len({masks[t].tobytes() for t in masks}) == len(masks)


def test_sprites_are_cached_and_even() -> None:
    a = sprite("会议 Meeting", "#FF0000", 24)
    assert sprite("会议 Meeting", "#FF0000", 24) is a
    assert sprite("会议 Meeting", "#00FF00", 24) is not a
    assert a.width % 2 == 0 and a.height % 2 == 0 and a.dx % 2 == 0 and a.dy % 2 == 0
    assert a.alpha[1].shape == (a.height // 2, a.width // 2)
    assert sprite("x", "#FFFFFF", 48).height > sprite("x", "#FFFFFF", 12).height


def _canvas(w: int, h: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    return (
        np.full((h, w), 16, np.uint8),
        np.full((h // 2, w // 2), 128, np.uint8),
        np.full((h // 2, w // 2), 128, np.uint8),
    )


def test_blend_writes_the_colour_inside_the_caption_area_only() -> None:
    planes = _canvas(320, 180)
    caption = Caption("HI 你好", "#FF0000", 40, 30, 40)
    (overlay,) = caption_overlays([caption])
    blend(planes, overlay)
    area = caption_area(caption)
    y, _, v = (round(c) for c in rgb_to_yuv(RED))
    covered = (np.abs(planes[0].astype(int) - y) <= 2) & (
        np.abs(planes[2][:, :].repeat(2, 0).repeat(2, 1).astype(int) - v) <= 8
    )
    assert covered[area.y : area.bottom, area.x : area.right].sum() > 100
    assert covered.sum() == covered[area.y : area.bottom, area.x : area.right].sum()
    changed = planes[0] != 16
    assert changed.sum() == changed[area.y : area.bottom, area.x : area.right].sum()


@pytest.mark.parametrize(("x", "y"), [(290, 150), (-40, -30), (1000, 10), (10, 1000)])
def test_blend_clips_at_the_canvas_edges(x: int, y: int) -> None:
    planes = _canvas(320, 180)
    blend(planes, Overlay(sprite("边缘 edge", "#00FF00", 48), x, y))
    visible = Rect(0, 0, 320, 180).intersect(caption_area(Caption("边缘 edge", "#00FF00", x, y, 48)))
    changed = int((planes[0] != 16).sum())
    if visible is None:
        assert changed == 0
    else:
        assert changed > 0


def test_tile_labels_sit_at_the_bottom_left_inside_their_tile() -> None:
    tiles = [(Rect(0, 0, 160, 180), "alice"), (Rect(160, 0, 160, 180), "李四")]
    overlays = tile_label_overlays(tiles)
    assert [o.sprite for o in overlays] == [
        sprite("alice", "#FFFFFF", label_size(tiles[0][0])),
        sprite("李四", "#FFFFFF", label_size(tiles[1][0])),
    ]
    planes = _canvas(320, 180)
    for o in overlays:
        blend(planes, o)
    ys, xs = np.nonzero(planes[0] != 16)
    assert ys.min() > 180 // 2 and ys.max() < 180  # bottom half
    left, right = xs[xs < 160], xs[xs >= 160]
    assert left.size and right.size
    assert left.min() < 20 and right.min() < 180  # left edge of each tile
    # cut off at the tile: a long label never spills into the neighbour
    planes = _canvas(320, 180)
    blend(planes, tile_label_overlays([(Rect(0, 0, 60, 180), "a-very-long-user-id-indeed")])[0])
    assert not (planes[0][:, 60:] != 16).any()


def test_compositor_cost_of_three_captions_is_small() -> None:
    """ms per 1280x720 frame with and without 3 captions (printed with -s), the captions under 3 ms."""
    captions = [
        Caption("张三 Zhang San", "#FF0000", 40, 40, 32),
        Caption("会议记录 Meeting notes 2026-11-25", "#FFFF00", 40, 600, 48),
        Caption("李四", "#00FF00", 1100, 650, 36),
    ]
    overlays = caption_overlays(captions)
    tiles = [TileDraw(Rect(0, 0, 640, 360), CropMode.STRETCH, "user", "k")]

    def per_frame(with_captions: bool) -> float:
        comp = Compositor(1280, 720)
        n = 60
        t0 = time.perf_counter()
        for i in range(n):
            # a new label each frame defeats the unchanged-frame shortcut: the canvas is redrawn
            tiles = [TileDraw(Rect(0, 0, 640, 360), CropMode.STRETCH, f"user{i % 2}", "k")]
            comp.compose(tiles, overlays if with_captions else ())
        return (time.perf_counter() - t0) / n * 1000

    per_frame(True)
    base, with_caps = min(per_frame(False) for _ in range(3)), min(per_frame(True) for _ in range(3))
    print(f"compose 1280x720: {base:.2f} ms/frame without captions, {with_caps:.2f} ms with 3 captions")
    assert with_caps - base < 3.0
    del tiles


# ---- recordings -----------------------------------------------------------------------------------


def test_captions_are_drawn_then_cleared(server: StreamServer, tmp_path: Path) -> None:
    red = Caption("CAP 字幕", "#FF0000", 10, 10, 40)
    green = Caption("张三", "#00FF00", 10, 100, 32)
    streams = (StreamInfo("b", MediaType.CAMERA, "0", server.url("blue.flv")),)
    layout = Layout(video=(VideoTile("b", "0", MediaType.CAMERA, 240, 120, 80, 60, Mode.STRETCH),))
    spec = make_spec(tmp_path, streams=streams, layout=layout, captions=(red, green))
    result, script = record(spec, [(2.0, SetCaptions(())), (3.5, Finish())])
    started = result.started
    assert started is not None and result.segments
    frames = video_frames(result.segments[0].segment.path)
    cleared_at = (script.delivered[0][0] - started.at) * 15
    assert cleared_at > 8, cleared_at
    before = frames[3][1]
    red_area, green_area = caption_area(red), caption_area(green)
    assert colour_count(cut(before, red_area), RED) > 50
    assert colour_count(cut(before, green_area), GREEN) > 50
    rest = outside(before, caption_area(red, 4), caption_area(green, 4))
    assert colour_count(rest, RED) == 0 and colour_count(rest, GREEN) == 0
    for _, after in frames[int(cleared_at) + 2 :]:
        assert colour_count(after, RED) == 0 and colour_count(after, GREEN) == 0


def test_set_captions_on_a_recording_without_any(server: StreamServer, tmp_path: Path) -> None:
    cap = Caption("李四", "#00FF00", 100, 60, 48)
    streams = (StreamInfo("b", MediaType.CAMERA, "0", server.url("blue.flv")),)
    layout = Layout(video=(VideoTile("b", "0", MediaType.CAMERA, 240, 120, 80, 60, Mode.STRETCH),))
    result, _ = record(
        make_spec(tmp_path, streams=streams, layout=layout), [(1.5, SetCaptions((cap,))), (3.0, Finish())]
    )
    frames = video_frames(result.segments[0].segment.path)
    assert colour_count(frames[0][1], GREEN) == 0
    assert colour_count(cut(frames[-2][1], caption_area(cap)), GREEN) > 50


def test_auto_caption_writes_each_user_id(server: StreamServer, tmp_path: Path) -> None:
    streams = (
        StreamInfo("alice_wonder", MediaType.CAMERA, "0", server.url("red.flv"), 1),
        StreamInfo("bo", MediaType.CAMERA, "0", server.url("green.flv"), 2),
    )
    spec = make_spec(tmp_path, streams=streams, auto=AutoSpec(type=1, crop_mode=CropMode.FILL, caption=True))
    result, _ = record(spec, [(2.5, Finish())])
    image = video_frames(result.segments[0].segment.path)[-2][1]
    # two tiles side by side (160x180 each): a white user id in the bottom-left corner of each
    for x0 in (0, 160):
        assert colour_count(image[140:180, x0 : x0 + 80], WHITE) > 20, x0
        assert colour_count(image[0:120, x0 : x0 + 160], WHITE) == 0, x0
    assert colour_count(image[140:180, 160 + 60 : 320], WHITE) == 0  # "bo" is short
    # the labels are the users' ids: alice_wonder's is wider than bo's
    cols = [
        np.nonzero((np.abs(image[140:180, x0 : x0 + 160].astype(int) - 255).max(axis=2) <= 60).any(axis=0))[0]
        for x0 in (0, 160)
    ]
    assert cols[0].max() - cols[0].min() > cols[1].max() - cols[1].min()


def test_auto_without_caption_writes_nothing(server: StreamServer, tmp_path: Path) -> None:
    streams = (StreamInfo("alice", MediaType.CAMERA, "0", server.url("red.flv"), 1),)
    spec = make_spec(tmp_path, streams=streams, auto=AutoSpec(type=1, crop_mode=CropMode.FILL))
    result, _ = record(spec, [(2.0, Finish())])
    image = video_frames(result.segments[0].segment.path)[-2][1]
    assert colour_count(image, WHITE) == 0
