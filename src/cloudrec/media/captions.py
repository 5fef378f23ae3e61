"""Captions: text rendered once with Pillow (a bundled CJK font), alpha-blended into yuv420p planes."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from cloudrec.layout import Rect
from cloudrec.recorder.spec import Caption

log = logging.getLogger(__name__)

# Noto Sans CJK JP Regular (SIL OFL 1.1), from the `noto-cjk-sans-jp-regular` package (a dependency):
# every Chinese, Japanese and Korean character, and Latin, in one font that ships with cloudrec.
FONT_PACKAGE = "noto_cjk_sans_jp_regular"
FONT_FILE = "NotoSansCJKjp-Regular.otf"

U8Array = npt.NDArray[np.uint8]
U16Array = npt.NDArray[np.uint16]

OUTLINE_YUV = (16.0, 128.0, 128.0)  # limited-range black: keeps light text legible on light video
AUTO_CAPTION_RGB = "#FFFFFF"
AUTO_CAPTION_MARGIN = 4  # pixels between a tile's edges and its user id


@functools.lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK (Chinese, Japanese, Korean and Latin) at `size` pixels."""
    # a path (not bytes): FreeType reads the 16 MB file as needed, once for all sizes
    return ImageFont.truetype(str(files(FONT_PACKAGE) / FONT_FILE), size)


def parse_color(color: str) -> tuple[int, int, int]:
    """`"#RRGGBB"` as (r, g, b)."""
    if len(color) != 7 or color[0] != "#":
        raise ValueError(f"not a #RRGGBB colour: {color!r}")
    value = int(color[1:], 16)
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


def rgb_to_yuv(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """BT.601 limited range (the canvas colours) of an 8-bit RGB colour."""
    r, g, b = rgb
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return y, u, v


def text_masks(content: str, size: int) -> tuple[U8Array, U8Array, int, int]:
    """(fill coverage, outline coverage, dx, dy) of `content`: both (h, w) masks 0..255, placed at
    (dx, dy) from the point where the text's top-left (left edge, ascender line) is anchored."""
    face = font(size)
    stroke = max(1, round(size / 16))
    fx0, fy0, fx1, fy1 = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox(
        (0, 0), content, font=face, anchor="la", stroke_width=stroke
    )
    x0, y0, x1, y1 = math.floor(fx0), math.floor(fy0), math.ceil(fx1), math.ceil(fy1)
    w, h = max(1, x1 - x0), max(1, y1 - y0)
    fill = Image.new("L", (w, h), 0)
    ImageDraw.Draw(fill).multiline_text((-x0, -y0), content, font=face, fill=255, anchor="la")
    outline = Image.new("L", (w, h), 0)
    ImageDraw.Draw(outline).multiline_text(
        (-x0, -y0), content, font=face, fill=255, anchor="la", stroke_width=stroke, stroke_fill=255
    )
    return np.asarray(fill, np.uint8), np.asarray(outline, np.uint8), x0, y0


@dataclass(frozen=True, eq=False)
class Sprite:
    """A caption ready to blend: per plane, 256-scaled alpha and premultiplied colour (+128 rounding).

    The bitmap has even width and height and is placed at an even offset (dx, dy) from its anchor,
    so that its chroma lines up with the canvas's 2x2 chroma pixels.
    """

    dx: int
    dy: int
    alpha: tuple[U16Array, U16Array, U16Array]  # Y (h, w), U and V (h/2, w/2): 0..256
    colour: tuple[U16Array, U16Array, U16Array]  # alpha * colour + 128, the same shapes

    @property
    def width(self) -> int:
        return int(self.alpha[0].shape[1])

    @property
    def height(self) -> int:
        return int(self.alpha[0].shape[0])


@functools.lru_cache(maxsize=256)
def sprite(content: str, color: str, size: int, opacity: int = 100) -> Sprite:
    """`content` in `color` with a thin dark outline, `opacity` percent opaque (100: fully), rendered once
    (cached by content, colour, size and opacity)."""
    fill, outline, dx, dy = text_masks(content, size)
    # even origin and size: pad by up to one pixel on each side
    left, top = dx & 1, dy & 1
    h, w = fill.shape
    right, bottom = (left + w) & 1, (top + h) & 1
    pad = ((top, bottom), (left, right))
    a_text = np.pad(fill, pad).astype(np.float64) / 255.0
    a_line = np.pad(outline, pad).astype(np.float64) / 255.0
    alpha = a_text + a_line * (1.0 - a_text)  # text over its outline
    # below 100 % the whole caption, outline included, lets the picture show through by the same share
    scale = max(0, min(100, opacity)) / 100.0
    text_yuv = rgb_to_yuv(parse_color(color))
    alphas: list[U16Array] = []
    colours: list[U16Array] = []
    for i in range(3):
        premul = a_text * text_yuv[i] + a_line * (1.0 - a_text) * OUTLINE_YUV[i]
        a, p = alpha * scale, premul * scale
        if i:  # 4:2:0 chroma: the mean of each 2x2 block
            a = a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean(axis=(1, 3))
            p = p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))
        a256 = np.rint(a * 256.0)
        alphas.append(a256.astype(np.uint16))
        colours.append((np.minimum(np.rint(p * 256.0), a256 * 255.0) + 128.0).astype(np.uint16))
    for arr in (*alphas, *colours):
        arr.setflags(write=False)
    return Sprite(
        dx - left, dy - top, (alphas[0], alphas[1], alphas[2]), (colours[0], colours[1], colours[2])
    )


@dataclass(frozen=True, eq=False)
class Overlay:
    """A sprite placed on the canvas: its anchor at (x, y), drawn only inside `limit` (when given)."""

    sprite: Sprite
    x: int
    y: int
    limit: Rect | None = None


CLOCK_FORMAT = "%Y-%m-%d %H:%M:%S"  # the time format of the API's replies


def caption_text(caption: Caption, now: float) -> str:
    """What `caption` shows at Unix time `now`: its content, or for a clock the time in its zone."""
    if not caption.clock:
        return caption.content
    return datetime.fromtimestamp(int(now), ZoneInfo(caption.time_zone)).strftime(CLOCK_FORMAT)


def has_clock(captions: Iterable[Caption]) -> bool:
    """Whether a caption shows the time (its overlay is then rendered again every second)."""
    return any(c.clock for c in captions)


def caption_overlays(captions: Iterable[Caption], now: float = 0.0) -> list[Overlay]:
    """The captions' overlays; clock captions show the time of `now` (Unix seconds)."""
    out = []
    for c in captions:
        text = caption_text(c, now)
        if text.strip() and c.opacity > 0:
            # a clock's text is new every second: rendered uncached, it never crowds the cache out
            render = sprite.__wrapped__ if c.clock else sprite
            out.append(Overlay(render(text, c.color.upper(), c.size, c.opacity), c.x, c.y))
    return out


def label_size(tile: Rect) -> int:
    """Font size of a tile's user id: about a tenth of the tile height, 10 to 32 pixels."""
    return max(10, min(32, tile.h // 10))


def tile_label_overlays(tiles: Iterable[tuple[Rect, str]]) -> list[Overlay]:
    """Each tile's label written at its bottom-left corner, cut off at the tile's edges."""
    out = []
    for rect, label in tiles:
        if not label.strip():
            continue
        size = label_size(rect)
        image = sprite(label, AUTO_CAPTION_RGB, size)
        ascent, descent = font(size).getmetrics()
        x = rect.x + AUTO_CAPTION_MARGIN
        y = rect.bottom - AUTO_CAPTION_MARGIN - ascent - descent
        out.append(Overlay(image, x, y, rect))
    return out


def _even_inside(rect: Rect) -> Rect | None:
    """`rect` shrunk to even edges (at most one pixel on each side); None when nothing is left."""
    x0, y0 = (rect.x + 1) & ~1, (rect.y + 1) & ~1
    x1, y1 = rect.right & ~1, rect.bottom & ~1
    if x1 <= x0 or y1 <= y0:
        return None
    return Rect(x0, y0, x1 - x0, y1 - y0)


def blend(planes: Sequence[U8Array], overlay: Overlay) -> None:
    """Alpha-blend `overlay` into yuv420p `planes` (even-sized canvas), clipped at the canvas edges."""
    s = overlay.sprite
    height, width = planes[0].shape
    # the anchor is snapped to even pixels (at most one pixel left / up) to keep chroma aligned
    area = Rect((overlay.x + s.dx) & ~1, (overlay.y + s.dy) & ~1, s.width, s.height)
    visible = area.intersect(Rect(0, 0, width, height))
    if visible is not None and overlay.limit is not None:
        inner = _even_inside(overlay.limit)
        visible = visible.intersect(inner) if inner is not None else None
    if visible is None:
        return
    for i, plane in enumerate(planes):
        d = 1 if i == 0 else 2
        y0, y1, x0, x1 = visible.y // d, visible.bottom // d, visible.x // d, visible.right // d
        sy, sx = (visible.y - area.y) // d, (visible.x - area.x) // d
        a = s.alpha[i][sy : sy + y1 - y0, sx : sx + x1 - x0]
        p = s.colour[i][sy : sy + y1 - y0, sx : sx + x1 - x0]
        region = plane[y0:y1, x0:x1]
        region[:] = ((region * (256 - a) + p) >> 8).astype(np.uint8)
