"""Video composition: each tile's current frame, cropped and scaled by crop mode, on one 4:2:0 canvas."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame
from av.video.plane import VideoPlane
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

from cloudrec.layout import Rect, clip, crop_rects
from cloudrec.media.captions import Overlay, blend
from cloudrec.media.placeholder import placeholder
from cloudrec.recorder.spec import CropMode

log = logging.getLogger(__name__)

U8Array = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class TileDraw:
    """One tile to draw: where, how, and what (`frame` None: the placeholder with `label`)."""

    rect: Rect
    crop_mode: CropMode
    label: str
    source_key: Hashable  # identifies the input (its scaler and cached scaled images)
    frame: VideoFrame | None = None
    frame_seq: int = 0  # changes whenever `frame` does


def plane_array(plane: VideoPlane, row_bytes: int, rows: int) -> U8Array:
    """A (rows, row_bytes) numpy view of a frame plane (no copy, strides follow the line size)."""
    flat = np.frombuffer(memoryview(plane), dtype=np.uint8)
    view: U8Array = flat[: plane.line_size * rows].reshape(rows, plane.line_size)[:, :row_bytes]
    return view


def rgb_array(frame: VideoFrame) -> U8Array:
    """A (h, w, 3) numpy view of an rgb24 frame."""
    rows = plane_array(frame.planes[0], frame.width * 3, frame.height)
    return rows.reshape(frame.height, frame.width, 3)


def crop_frame(frame: VideoFrame, crop: Rect, to_rgb: VideoReformatter) -> VideoFrame:
    """The `crop` part of `frame` as a new frame.

    4:2:0 frames are cut plane by plane on even coordinates (grown by at most one source pixel);
    anything else goes through rgb24 once (with the caller's scaler, kept per input).
    """
    if crop == Rect(0, 0, frame.width, frame.height):
        return frame
    name = frame.format.name
    if name in ("yuv420p", "yuvj420p"):
        x0, y0 = crop.x & ~1, crop.y & ~1
        x1 = min(crop.right + (crop.right & 1), frame.width & ~1)
        y1 = min(crop.bottom + (crop.bottom & 1), frame.height & ~1)
        w, h = x1 - x0, y1 - y0
        if w >= 2 and h >= 2:
            out = VideoFrame(w, h, name)
            for i, (px, py, pw, ph) in enumerate(
                ((x0, y0, w, h), (x0 // 2, y0 // 2, w // 2, h // 2), (x0 // 2, y0 // 2, w // 2, h // 2))
            ):
                src = plane_array(frame.planes[i], frame.planes[i].line_size, py + ph)
                plane_array(out.planes[i], pw, ph)[:, :] = src[py : py + ph, px : px + pw]
            out.colorspace = frame.colorspace
            out.color_range = frame.color_range
            return out
    rgb = rgb_array(to_rgb.reformat(frame, format="rgb24"))
    part = np.ascontiguousarray(rgb[crop.y : crop.bottom, crop.x : crop.right])
    return VideoFrame.from_ndarray(part, format="rgb24")


BLACK_YUV = (16, 128, 128)  # limited-range black
RING = 4  # output frames in rotation


def snap(rect: Rect) -> Rect:
    """`rect` grown to even edges (4:2:0 chroma covers 2x2 pixels): at most one pixel on each side."""
    x0, y0 = rect.x & ~1, rect.y & ~1
    x1, y1 = (rect.right + 1) & ~1, (rect.bottom + 1) & ~1
    return Rect(x0, y0, x1 - x0, y1 - y0)


def yuv_planes(frame: VideoFrame) -> tuple[U8Array, U8Array, U8Array]:
    """(Y, U, V) numpy views of a yuv420p frame with even width and height."""
    w, h = frame.width, frame.height
    return (
        plane_array(frame.planes[0], w, h),
        plane_array(frame.planes[1], w // 2, h // 2),
        plane_array(frame.planes[2], w // 2, h // 2),
    )


# The canvas: BT.601 matrix (smpte170m), limited range. Untagged sources are BT.601 by FFmpeg's
# convention and need no colour conversion (which costs ~1 ms per 640x360 frame); tagged BT.709 or
# full-range sources are converted by their scaler.
CANVAS_COLORSPACE = Colorspace.ITU601
CANVAS_RANGE = ColorRange.MPEG
AVCOL_SPC_SMPTE170M = 6  # AVColorSpace of the canvas, for frame and encoder tags


# Tags of a picture already in the canvas's colours: untagged, or BT.601 (BT.470BG, SMPTE 170M), in
# limited range or untagged range.
CANVAS_LIKE_COLORSPACES = frozenset({2, 5, 6})  # AVColorSpace: unspecified, BT.470BG, SMPTE 170M
CANVAS_LIKE_RANGES = frozenset({0, int(CANVAS_RANGE)})  # AVColorRange: unspecified, MPEG


def in_canvas_format(frame: VideoFrame, width: int, height: int) -> bool:
    """Whether `frame` is a `width` x `height` picture in the canvas's pixel format and colours, so that
    its planes are pasted as they are (its scaler would return the same samples, at ~90 us per 360p)."""
    return (
        frame.width == width
        and frame.height == height
        and frame.format.name == "yuv420p"
        and frame.colorspace in CANVAS_LIKE_COLORSPACES
        and frame.color_range in CANVAS_LIKE_RANGES
    )


def _tag(frame: VideoFrame) -> None:
    frame.colorspace = AVCOL_SPC_SMPTE170M
    frame.color_range = CANVAS_RANGE


@functools.lru_cache(maxsize=16)
def placeholder_planes(width: int, height: int, text: str) -> tuple[U8Array, U8Array, U8Array]:
    """The placeholder (see `placeholder`) as yuv420p planes in the canvas colours; even sizes."""
    rgb = VideoFrame.from_ndarray(np.ascontiguousarray(placeholder(width, height, text)), format="rgb24")
    yuv = rgb.reformat(format="yuv420p", dst_colorspace=CANVAS_COLORSPACE, dst_color_range=CANVAS_RANGE)
    return yuv_planes(yuv)


def same_picture(a: VideoFrame, b: VideoFrame) -> bool:
    """Whether two 4:2:0 frames hold the same pixels (a screen share repeats its picture); False for
    any other format, which is then simply drawn again.

    One middle row is compared first: moving camera pictures differ there, so they cost ~1 µs.
    """
    if (a.format.name, a.width, a.height) != (b.format.name, b.width, b.height):
        return False
    if a.format.name not in ("yuv420p", "yuvj420p") or a.width % 2 or a.height % 2:
        return False
    ya, yb = yuv_planes(a), yuv_planes(b)
    mid = a.height // 2
    if not np.array_equal(ya[0][mid], yb[0][mid]):
        return False
    return all(np.array_equal(pa, pb) for pa, pb in zip(ya, yb, strict=True))


@dataclass
class _Seen:
    """Per input: the last frame drawn, its sequence number, and the picture version it shows."""

    frame: VideoFrame
    seq: int
    version: int


@dataclass(frozen=True)
class _Shown:
    """What an output buffer shows: the compose key (one entry per tile, then the captions) and the
    tile rectangles."""

    key: tuple[Hashable, ...]
    rects: tuple[Rect, ...]


class _Input:
    """Per (input, destination size): the scalers and the last scaled image."""

    def __init__(self) -> None:
        self.scaler = VideoReformatter()
        self.to_rgb = VideoReformatter()
        self.key: tuple[int, Rect] | None = None
        self.planes: tuple[U8Array, U8Array, U8Array] | None = None
        self.used = 0


class Compositor:
    """Draws tiles in list order (later on top) on a black canvas and returns yuv420p frames.

    Composition happens directly in 4:2:0 (BT.601, limited range: the encoder's format): no RGB round
    trip. Tile edges are snapped outwards to even pixels, so neighbouring tiles never leave a gap.
    Every input keeps its scaler, and a tile whose picture and geometry did not change since the last
    call reuses its scaled image. A new frame with the same pixels as the previous one (a screen share
    sends the same slide many times a second) counts as unchanged. When nothing at all changed, the
    previous output frame object is returned again (`is` tells the caller, who may skip encoding it).
    Otherwise, when the tiles do not overlap and no caption is drawn, only the tiles that differ from
    what the reused output buffer already shows are drawn again.
    A returned frame is valid until RING - 1 more frames were composed: encode it at once.
    """

    def __init__(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"canvas size must be even and positive, got {width}x{height}")
        self.width = width
        self.height = height
        self._inputs: dict[tuple[Hashable, int, int], _Input] = {}
        self._seen: dict[Hashable, _Seen] = {}
        self._calls = 0
        self._last_key: tuple[Hashable, ...] | None = None
        self._last_frame: VideoFrame | None = None
        # Output frames are reused round-robin: fresh 4:2:0 buffers would cost page faults on every
        # frame. Encoders copy (or reference-count) an input frame before `encode` returns, so a frame
        # handed out RING calls ago is free again.
        self._ring: list[VideoFrame] = []
        self._ring_keys: list[_Shown | None] = []  # what each output buffer shows
        self._ring_pos = 0
        self._disjoint: dict[tuple[Rect, ...], bool] = {}

    def _next_canvas(self) -> int:
        """The ring position of the output buffer to draw next."""
        if len(self._ring) < RING:
            out = VideoFrame(self.width, self.height, "yuv420p")
            _tag(out)
            self._ring.append(out)
            self._ring_keys.append(None)
            self._ring_pos = len(self._ring) - 1
        else:
            self._ring_pos = (self._ring_pos + 1) % RING
        return self._ring_pos

    def _patchable(self, now: _Shown, shown: _Shown | None) -> bool:
        """Whether a buffer showing `shown` becomes `now` by redrawing the tiles that differ: same tile
        rectangles, none overlapping another (after snapping), no captions on either."""
        if shown is None or now.rects != shown.rects or now.key[-1] != () or shown.key[-1] != ():
            return False
        rects = now.rects
        disjoint = self._disjoint.get(rects)
        if disjoint is None:
            areas = [a for a in (clip(snap(r), self.width, self.height) for r in rects) if a is not None]
            disjoint = all(
                a.right <= b.x or b.right <= a.x or a.bottom <= b.y or b.bottom <= a.y
                for i, a in enumerate(areas)
                for b in areas[i + 1 :]
            )
            if len(self._disjoint) > 64:
                self._disjoint.clear()
            self._disjoint[rects] = disjoint
        return disjoint

    def compose(self, tiles: Sequence[TileDraw], overlays: Sequence[Overlay] = ()) -> VideoFrame:
        """The canvas with `tiles` drawn, then `overlays` (captions) blended on top, as a yuv420p frame
        (the previous one when nothing changed)."""
        tiles = [self._dedup(t) for t in tiles]
        key = (
            *(
                (t.rect, t.crop_mode, t.source_key, t.frame_seq) if t.frame is not None else (t.rect, t.label)
                for t in tiles
            ),
            tuple(overlays),
        )
        if key == self._last_key and self._last_frame is not None:
            return self._last_frame
        self._calls += 1
        pos = self._next_canvas()
        out = self._ring[pos]
        planes = yuv_planes(out)
        shown, now = self._ring_keys[pos], _Shown(key, tuple(t.rect for t in tiles))
        if shown is not None and self._patchable(now, shown):
            for tile, tile_key, before in zip(tiles, key, shown.key, strict=False):
                if tile_key != before:
                    self._draw(planes, tile)
        else:
            for plane, value in zip(planes, BLACK_YUV, strict=True):
                plane[:] = value
            for tile in tiles:
                self._draw(planes, tile)
            for overlay in overlays:
                blend(planes, overlay)
            for ikey in [k for k, v in self._inputs.items() if v.used != self._calls]:
                del self._inputs[ikey]
            sources = {t.source_key for t in tiles if t.frame is not None}
            for skey in [k for k in self._seen if k not in sources]:
                del self._seen[skey]
        self._ring_keys[pos] = now
        self._last_key, self._last_frame = key, out
        return out

    def _dedup(self, tile: TileDraw) -> TileDraw:
        """`tile` with `frame_seq` replaced by the version of its picture: a new frame with the pixels
        of the previous one keeps the previous version (and its scaled image)."""
        if tile.frame is None:
            return tile
        seen = self._seen.get(tile.source_key)
        if seen is None:
            seen = self._seen[tile.source_key] = _Seen(tile.frame, tile.frame_seq, tile.frame_seq)
        elif seen.seq != tile.frame_seq:
            if not same_picture(seen.frame, tile.frame):
                seen.version = tile.frame_seq
            seen.frame, seen.seq = tile.frame, tile.frame_seq
        if seen.version == tile.frame_seq:
            return tile
        return dataclasses.replace(tile, frame_seq=seen.version)

    def _draw(self, canvas: tuple[U8Array, U8Array, U8Array], tile: TileDraw) -> None:
        area = snap(tile.rect)
        visible = clip(area, self.width, self.height)
        if visible is None:
            return
        if tile.frame is None:
            image = placeholder_planes(area.w, area.h, tile.label)
            _paste(canvas, visible, image, visible.x - area.x, visible.y - area.y)
            return
        frame = tile.frame
        if tile.crop_mode == CropMode.FIT:  # the tile is opaque: its padding is background
            for i, (plane, value) in enumerate(zip(canvas, BLACK_YUV, strict=True)):
                d = 1 if i == 0 else 2
                plane[visible.y // d : visible.bottom // d, visible.x // d : visible.right // d] = value
        rects = crop_rects(frame.width, frame.height, area, tile.crop_mode, self.width, self.height)
        if rects is None:
            return
        src, dst = rects[0], snap(rects[1])
        inp = self._inputs.get((tile.source_key, dst.w, dst.h))
        if inp is None:
            inp = self._inputs[(tile.source_key, dst.w, dst.h)] = _Input()
        inp.used = self._calls
        if inp.key != (tile.frame_seq, src) or inp.planes is None:
            part = crop_frame(frame, src, inp.to_rgb)
            if not in_canvas_format(part, dst.w, dst.h):
                part = inp.scaler.reformat(
                    part,
                    width=dst.w,
                    height=dst.h,
                    format="yuv420p",
                    dst_colorspace=CANVAS_COLORSPACE,
                    dst_color_range=CANVAS_RANGE,
                )
            inp.planes = yuv_planes(part)
            inp.key = (tile.frame_seq, src)
        _paste(canvas, dst, inp.planes, 0, 0)


def _paste(
    canvas: tuple[U8Array, U8Array, U8Array],
    where: Rect,
    image: tuple[U8Array, U8Array, U8Array],
    ox: int,
    oy: int,
) -> None:
    """Copy the part of `image` at even offset (ox, oy) into the even rect `where` of the canvas."""
    for i, (plane, src) in enumerate(zip(canvas, image, strict=True)):
        d = 1 if i == 0 else 2
        h, w = where.h // d, where.w // d
        plane[where.y // d : where.y // d + h, where.x // d : where.x // d + w] = src[
            oy // d : oy // d + h, ox // d : ox // d + w
        ]
