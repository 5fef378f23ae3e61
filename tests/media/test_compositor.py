"""Compositor tests on synthetic frames: crop modes, clipping, picture-in-picture, placeholders."""

from __future__ import annotations

from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest

from cloudrec.layout import Rect
from cloudrec.media.compositor import (
    CANVAS_COLORSPACE,
    CANVAS_RANGE,
    Compositor,
    TileDraw,
    crop_frame,
    in_canvas_format,
    yuv_planes,
)
from cloudrec.recorder.spec import CropMode
from media.media_helpers import (
    BLACK,
    BLUE,
    GREEN,
    MAGENTA,
    PLACEHOLDER,
    RED,
    YELLOW,
    bands_pattern,
    near,
    pixel,
)


def yuv(image: npt.NDArray[np.uint8], fmt: str = "yuv420p") -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=fmt)


def rgb(frame: av.VideoFrame) -> npt.NDArray[np.uint8]:
    return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)


def solid(rgb_value: tuple[int, int, int], w: int = 64, h: int = 48) -> av.VideoFrame:
    image = np.empty((h, w, 3), np.uint8)
    image[:] = rgb_value
    return yuv(image)


def test_crop_modes_clipping_pip_and_placeholder() -> None:
    pattern = yuv(bands_pattern(320, 240))  # 4:3; bands: 24 rows top/bottom, 32 columns left/right
    comp = Compositor(640, 360)
    tiles = [
        TileDraw(Rect(0, 0, 320, 180), CropMode.STRETCH, "a", "p", pattern, 1),
        TileDraw(Rect(320, 0, 320, 180), CropMode.FILL, "a", "p", pattern, 1),
        TileDraw(Rect(0, 180, 320, 180), CropMode.FIT, "a", "p", pattern, 1),
        TileDraw(Rect(320, 180, 320, 180), CropMode.STRETCH, "user-42", "missing"),
        TileDraw(Rect(560, 300, 60, 40), CropMode.STRETCH, "b", "y", solid(YELLOW), 1),  # PiP on top
        TileDraw(Rect(620, 340, 100, 100), CropMode.FILL, "c", "b", solid(BLUE), 1),  # partly outside
    ]
    img = rgb(comp.compose(tiles))
    assert img.shape == (360, 640, 3)
    # stretch: every band visible at its edge (scaled by 1 x 0.75)
    assert near(pixel(img, 160, 6), GREEN) and near(pixel(img, 160, 173), YELLOW)
    assert near(pixel(img, 10, 90), RED) and near(pixel(img, 309, 90), BLUE)
    assert near(pixel(img, 160, 90), MAGENTA)
    # fill: rows 30..210 of the source; top and bottom bands are cut off, left/right stay
    assert near(pixel(img, 480, 4), MAGENTA) and near(pixel(img, 480, 175), MAGENTA)
    assert near(pixel(img, 330, 90), RED) and near(pixel(img, 629, 90), BLUE)
    # fit: 240x180 centred: black bars of 40 px, the bands of the source inside
    assert near(pixel(img, 15, 270), BLACK, 10) and near(pixel(img, 305, 270), BLACK, 10)
    assert near(pixel(img, 50, 270), RED) and near(pixel(img, 270, 270), BLUE)
    assert near(pixel(img, 160, 184), GREEN) and near(pixel(img, 160, 356), YELLOW)
    # placeholder with its label written in a light colour
    assert near(pixel(img, 330, 190), PLACEHOLDER, 8)
    tile = img[180:300, 320:560].astype(int)
    assert (tile.sum(axis=2) > 450).sum() > 20
    # picture-in-picture drawn over the placeholder; a tile cut by the canvas edge
    assert near(pixel(img, 590, 320), YELLOW)
    assert near(pixel(img, 630, 350), BLUE)
    assert near(pixel(img, 632, 320), PLACEHOLDER, 8) and near(pixel(img, 590, 345), PLACEHOLDER, 8)


def test_unchanged_tiles_reuse_the_previous_frame_and_scalers() -> None:
    comp = Compositor(320, 180)
    red, green = solid(RED), solid(GREEN)
    first = comp.compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FILL, "u", "s", red, 1)])
    again = comp.compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FILL, "u", "s", red, 1)])
    assert again is first
    scaler = comp._inputs[("s", 320, 180)].scaler
    changed = comp.compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FILL, "u", "s", green, 2)])
    assert changed is not first and near(pixel(rgb(changed), 160, 90), GREEN)
    assert comp._inputs[("s", 320, 180)].scaler is scaler
    # a tile that went away takes its scaler with it
    comp.compose([TileDraw(Rect(0, 0, 160, 90), CropMode.FILL, "u", "s", green, 2)])
    assert list(comp._inputs) == [("s", 160, 90)]


def test_a_new_frame_with_the_same_pixels_is_no_change() -> None:
    """A screen share sends the same slide many times a second: the canvas is not redrawn for it."""
    comp = Compositor(320, 180)
    slide = bands_pattern(320, 240)
    first = comp.compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FIT, "u", "s", yuv(slide), 1)])
    scaled = comp._inputs[("s", 240, 180)].planes
    same = comp.compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FIT, "u", "s", yuv(slide.copy()), 2)])
    assert same is first  # the caller sees a repeat and need not encode it
    assert comp._inputs[("s", 240, 180)].planes is scaled  # nor was it scaled again
    # one changed pixel (outside the middle row that is compared first) is a change
    changed_image = slide.copy()
    changed_image[10, 10] = (255, 255, 255)
    changed = comp.compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FIT, "u", "s", yuv(changed_image), 3)])
    assert changed is not first
    again = comp.compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FIT, "u", "s", yuv(changed_image), 4)])
    assert again is changed
    # back to the first picture: drawn again (only the previous frame is compared)
    assert (
        comp.compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FIT, "u", "s", yuv(slide), 5)]) is not changed
    )


def test_redrawing_only_changed_tiles_gives_the_same_pictures() -> None:
    """A reused output buffer gets only its changed tiles redrawn: every output must equal what a fresh
    compositor draws from scratch, through layouts with and without overlaps, placeholders and the
    round-robin reuse of buffers."""
    rng = np.random.default_rng(7)
    colours = [RED, GREEN, BLUE, YELLOW, MAGENTA, (200, 200, 200)]
    pictures = [solid(c, 96, 54) for c in colours]
    grid = [Rect(0, 0, 160, 90), Rect(160, 0, 160, 90), Rect(0, 90, 160, 90), Rect(160, 90, 160, 90)]
    pip = [Rect(0, 0, 320, 180), Rect(200, 100, 100, 60), Rect(10, 10, 80, 46), Rect(300, 160, 60, 40)]
    odd = [Rect(0, 0, 107, 90), Rect(107, 0, 107, 90), Rect(214, 0, 106, 90), Rect(0, 90, 320, 90)]
    modes = [CropMode.FILL, CropMode.FIT, CropMode.STRETCH, CropMode.FIT]
    comp = Compositor(320, 180)
    patchable = comp._patchable
    patches: list[bool] = []

    def counting(now: Any, shown: Any) -> bool:
        patches.append(patchable(now, shown))
        return patches[-1]

    comp._patchable = counting  # type: ignore[method-assign]
    state = [(0, 1), (1, 1), (2, 1), (3, 1)]  # per input: (picture index, sequence number)
    drawn = 0
    for step in range(60):
        layout = grid if step < 30 else (pip if step < 40 else (odd if step < 50 else grid))
        for i in rng.choice(4, size=int(rng.integers(0, 3)), replace=False):
            state[i] = (int(rng.integers(0, len(pictures))), state[i][1] + 1)
        gone = step % 7 == 3  # input 2 shows its placeholder now and then
        tiles = [
            TileDraw(
                rect,
                modes[i],
                f"user{i}",
                f"s{i}",
                *((None, 0) if gone and i == 2 else (pictures[state[i][0]], state[i][1])),
            )
            for i, rect in enumerate(layout)
        ]
        before = comp._calls
        out = comp.compose(tiles)
        expected = Compositor(320, 180).compose(tiles)
        for got, want in zip(yuv_planes(out), yuv_planes(expected), strict=True):
            assert np.array_equal(got, want), step
        drawn += comp._calls - before
    assert drawn > 20  # most steps really drew something (the rest reused the last frame)
    assert sum(patches) > 10 and not all(patches)  # both ways were taken


@pytest.mark.parametrize("fmt", ["rgb24", "yuv444p"])
def test_frames_other_than_420_are_always_redrawn(fmt: str) -> None:
    comp = Compositor(320, 180)
    slide = bands_pattern(320, 180)
    first = comp.compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FILL, "u", "s", yuv(slide, fmt), 1)])
    second = comp.compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FILL, "u", "s", yuv(slide, fmt), 2)])
    assert second is not first
    assert near(pixel(rgb(second), 10, 90), RED)


@pytest.mark.parametrize("fmt", ["yuv420p", "yuvj420p", "nv12", "rgb24", "yuv444p"])
def test_crop_of_any_pixel_format(fmt: str) -> None:
    image = bands_pattern(320, 240)
    frame = yuv(image, fmt)
    part = crop_frame(frame, Rect(0, 30, 320, 180), av.video.reformatter.VideoReformatter())
    assert (part.width, part.height) == (320, 180)
    out = rgb(part)
    assert near(pixel(out, 160, 90), MAGENTA) and near(pixel(out, 160, 3), MAGENTA)
    # odd crops are grown to even ones in 4:2:0, never shrunk below the request
    odd = crop_frame(frame, Rect(33, 25, 101, 77), av.video.reformatter.VideoReformatter())
    assert odd.width >= 101 and odd.height >= 77
    assert near(pixel(rgb(odd), 50, 38), MAGENTA)


def test_odd_canvas_is_refused() -> None:
    with pytest.raises(ValueError):
        Compositor(321, 180)


def _scaled_planes(frame: av.VideoFrame) -> tuple[npt.NDArray[np.uint8], ...]:
    """What the tile's scaler makes of `frame` at its own size, in the canvas's colours."""
    out = av.video.reformatter.VideoReformatter().reformat(
        frame,
        width=frame.width,
        height=frame.height,
        format="yuv420p",
        dst_colorspace=CANVAS_COLORSPACE,
        dst_color_range=CANVAS_RANGE,
    )
    return tuple(p.copy() for p in yuv_planes(out))


@pytest.mark.parametrize(("colorspace", "color_range"), [(2, 0), (6, 1), (5, 0)])
def test_a_picture_in_the_canvas_format_is_pasted_as_it_is(colorspace: int, color_range: int) -> None:
    """Same size, 4:2:0, BT.601 or untagged: its samples land on the canvas unchanged (the scaler would
    give the same ones)."""
    frame = yuv(bands_pattern(320, 180))
    frame.colorspace, frame.color_range = colorspace, color_range
    assert in_canvas_format(frame, 320, 180)
    out = Compositor(640, 180).compose([TileDraw(Rect(320, 0, 320, 180), CropMode.FILL, "u", "s", frame, 1)])
    got = [p.copy() for p in yuv_planes(out)]
    want = _scaled_planes(frame)
    for i, (plane, src, scaled) in enumerate(zip(got, yuv_planes(frame), want, strict=True)):
        d = 1 if i == 0 else 2
        tile = plane[:, 320 // d :]
        assert np.array_equal(tile, src) and np.array_equal(tile, scaled), i


@pytest.mark.parametrize(("colorspace", "color_range"), [(1, 1), (2, 2)])
def test_a_picture_in_other_colours_goes_through_its_scaler(colorspace: int, color_range: int) -> None:
    """BT.709 or full range at the tile's size: converted to the canvas's colours, not pasted."""
    frame = yuv(bands_pattern(320, 180))
    frame.colorspace, frame.color_range = colorspace, color_range
    assert not in_canvas_format(frame, 320, 180)
    out = Compositor(320, 180).compose([TileDraw(Rect(0, 0, 320, 180), CropMode.FILL, "u", "s", frame, 1)])
    got = [p.copy() for p in yuv_planes(out)]
    assert all(np.array_equal(a, b) for a, b in zip(got, _scaled_planes(frame), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(got, yuv_planes(frame), strict=True))
