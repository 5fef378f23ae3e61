"""Compositor tests on synthetic frames: crop modes, clipping, picture-in-picture, placeholders."""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt
import pytest

from cloudrec.layout import Rect
from cloudrec.media.compositor import Compositor, TileDraw, crop_frame
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
