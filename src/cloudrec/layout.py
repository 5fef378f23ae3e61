"""Layout math: crop-mode rectangles, clipping, equal grid, main + subs and automatic stream choice.

Pure functions on integers: no I/O, no `av`, no numpy. All rectangles are in canvas pixels,
``x``/``y`` the top-left corner, ``w``/``h`` the size; the canvas is ``[0, W) x [0, H)``.

Crop modes (`crop_rects`), for a source of ``sw x sh`` pixels and a tile ``(x, y, tw, th)``:

- STRETCH (1): the whole source is scaled to the whole tile.
- FILL (2): the largest centred part of the source with the tile's aspect ratio is scaled to the
  whole tile. If ``tw * sh >= th * sw`` (tile relatively wider) the crop keeps the full width and
  ``ch = round(sw * th / tw)`` rows starting at ``(sh - ch) // 2``; otherwise the full height and
  ``cw = round(sh * tw / th)`` columns starting at ``(sw - cw) // 2``.
- FIT (3): the whole source is scaled into the largest centred rectangle of the source's aspect ratio
  inside the tile: if ``tw * sh >= th * sw`` it is ``dh = th``, ``dw = round(th * sw / sh)`` at
  ``x + (tw - dw) // 2``; otherwise ``dw = tw``, ``dh = round(tw * sh / sw)`` at ``y + (th - dh) // 2``.
  The rest of the tile shows the background.

Then the destination is clipped to the canvas and the source crop shrunk by the same proportion
(start rounded down, end rounded up, so the visible part never lacks source pixels).

Equal grid (`equal_grid`), n tiles -> ``cols x rows``: 1 -> 1x1, 2 -> 2x1, 3-4 -> 2x2, 5-6 -> 3x2,
7-9 -> 3x3. Cell ``(c, r)`` spans ``x = c*W//cols .. (c+1)*W//cols`` and ``y = r*H//rows ..
(r+1)*H//rows``: cells differ by at most one pixel and tile the canvas exactly (no gap). Cells are
used row-major; leftover cells stay empty (background).

Main + subs (`main_and_subs`), n tiles: n == 1 -> the full canvas. Otherwise with ``k = n - 1`` subs and
``r = max(4, k)`` slots, the subs are thumbnails of the canvas' aspect ratio stacked top-down in a right
hand column: ``sub_i = (W - W//r, (i-1)*H//r, W//r, i*H//r - (i-1)*H//r)`` for i = 1..k, and the main
tile fills the rest: ``main = (0, 0, W - W//r, H)``. Main and subs never overlap; with fewer than 4 subs
the bottom of the column stays background.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloudrec.recorder.spec import GROUP_WHITEBOARD_USER, AutoSpec, CropMode, MediaType, StreamInfo

MAX_TILES = 9
VIDEO_PRIORITY: tuple[MediaType, ...] = (MediaType.SCREEN, MediaType.CAMERA, MediaType.WHITEBOARD)


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def area(self) -> int:
        return max(0, self.w) * max(0, self.h)

    def intersect(self, other: Rect) -> Rect | None:
        """The common part of two rectangles, or None when they do not overlap."""
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        if x1 <= x0 or y1 <= y0:
            return None
        return Rect(x0, y0, x1 - x0, y1 - y0)


def clip(rect: Rect, canvas_w: int, canvas_h: int) -> Rect | None:
    """The part of `rect` inside the canvas, or None when nothing of it is visible."""
    return rect.intersect(Rect(0, 0, canvas_w, canvas_h))


def _round_div(num: int, den: int) -> int:
    """round(num / den) for non-negative integers, halves up."""
    return (2 * num + den) // (2 * den)


def _ceil_div(num: int, den: int) -> int:
    return -(-num // den)


def crop_rects(
    src_w: int, src_h: int, tile: Rect, mode: CropMode, canvas_w: int, canvas_h: int
) -> tuple[Rect, Rect] | None:
    """(source crop, destination) for a source drawn into `tile` by `mode`, clipped to the canvas.

    The source crop is in source pixels, the destination in canvas pixels; the crop is to be scaled to
    the destination's size. None when nothing would be visible (or a size is not positive).
    """
    if src_w <= 0 or src_h <= 0 or tile.w <= 0 or tile.h <= 0:
        return None
    tile_wider = tile.w * src_h >= tile.h * src_w
    src = Rect(0, 0, src_w, src_h)
    dst = tile
    if mode == CropMode.FILL:
        if tile_wider:
            ch = min(src_h, max(1, _round_div(src_w * tile.h, tile.w)))
            src = Rect(0, (src_h - ch) // 2, src_w, ch)
        else:
            cw = min(src_w, max(1, _round_div(src_h * tile.w, tile.h)))
            src = Rect((src_w - cw) // 2, 0, cw, src_h)
    elif mode == CropMode.FIT:
        if tile_wider:
            dw = min(tile.w, max(1, _round_div(tile.h * src_w, src_h)))
            dst = Rect(tile.x + (tile.w - dw) // 2, tile.y, dw, tile.h)
        else:
            dh = min(tile.h, max(1, _round_div(tile.w * src_h, src_w)))
            dst = Rect(tile.x, tile.y + (tile.h - dh) // 2, tile.w, dh)
    visible = clip(dst, canvas_w, canvas_h)
    if visible is None:
        return None
    if visible == dst:
        return src, dst
    sx0 = src.x + (visible.x - dst.x) * src.w // dst.w
    sx1 = src.x + _ceil_div((visible.right - dst.x) * src.w, dst.w)
    sy0 = src.y + (visible.y - dst.y) * src.h // dst.h
    sy1 = src.y + _ceil_div((visible.bottom - dst.y) * src.h, dst.h)
    sx1 = max(sx1, sx0 + 1)
    sy1 = max(sy1, sy0 + 1)
    return Rect(sx0, sy0, sx1 - sx0, sy1 - sy0), visible


_GRID_SHAPES: dict[int, tuple[int, int]] = {
    1: (1, 1),
    2: (2, 1),
    3: (2, 2),
    4: (2, 2),
    5: (3, 2),
    6: (3, 2),
    7: (3, 3),
    8: (3, 3),
    9: (3, 3),
}


def _check_count(n: int) -> None:
    if n < 0 or n > MAX_TILES:
        raise ValueError(f"tile count must be in [0, {MAX_TILES}], got {n}")


def equal_grid(n: int, canvas_w: int, canvas_h: int) -> list[Rect]:
    """`n` (0..9) equal cells in row-major order (see the module docstring for the geometry)."""
    _check_count(n)
    if n == 0:
        return []
    cols, rows = _GRID_SHAPES[n]
    cells: list[Rect] = []
    for r in range(rows):
        y0, y1 = r * canvas_h // rows, (r + 1) * canvas_h // rows
        for c in range(cols):
            x0, x1 = c * canvas_w // cols, (c + 1) * canvas_w // cols
            cells.append(Rect(x0, y0, x1 - x0, y1 - y0))
    return cells[:n]


def main_and_subs(n: int, canvas_w: int, canvas_h: int) -> list[Rect]:
    """`n` (0..9) rects: the main tile first, then the subs top-down (see the module docstring)."""
    _check_count(n)
    if n == 0:
        return []
    if n == 1:
        return [Rect(0, 0, canvas_w, canvas_h)]
    subs = n - 1
    slots = max(4, subs)
    sub_w = canvas_w // slots
    col_x = canvas_w - sub_w
    rects = [Rect(0, 0, col_x, canvas_h)]
    for i in range(subs):
        y0, y1 = i * canvas_h // slots, (i + 1) * canvas_h // slots
        rects.append(Rect(col_x, y0, sub_w, y1 - y0))
    return rects


def user_join_order(streams: Sequence[StreamInfo]) -> list[str]:
    """User ids ordered by join order: the smallest `join_seq` of any of their streams, then list order."""
    first: dict[str, tuple[int, int]] = {}
    for pos, s in enumerate(streams):
        seen = first.get(s.user_id)
        if seen is None or s.join_seq < seen[0]:
            first[s.user_id] = (s.join_seq, pos if seen is None else seen[1])
    return sorted(first, key=lambda u: first[u])


def _best_video(streams: Sequence[StreamInfo]) -> StreamInfo | None:
    """A user's stream of highest priority (screen share > camera > whiteboard), earliest first on ties."""
    ranked = [
        (VIDEO_PRIORITY.index(s.media_type), s.join_seq, pos, s)
        for pos, s in enumerate(streams)
        if s.media_type in VIDEO_PRIORITY
    ]
    if not ranked:
        return None
    return min(ranked, key=lambda t: (t[0], t[1], t[2]))[3]


def is_group_whiteboard(stream: StreamInfo) -> bool:
    """The group's whiteboard: published without a user (see `spec.GROUP_WHITEBOARD_USER`)."""
    return stream.user_id == GROUP_WHITEBOARD_USER and stream.media_type == MediaType.WHITEBOARD


def _main_first(chosen: list[StreamInfo], streams: Sequence[StreamInfo], auto: AutoSpec) -> list[StreamInfo]:
    """`chosen` with the main tile's stream first (main + subs): the main user is `auto.user_id` when that
    user publishes video, else the first joined user; the group's whiteboard is no user. With
    `main_media_type` the main user's stream of that type fills the main tile; for the whiteboard, when
    the user has none of their own, the group's whiteboard does (the user keeps a sub tile)."""
    users = [i for i, s in enumerate(chosen) if not is_group_whiteboard(s)]
    if not users:
        return chosen
    main_idx = next((i for i in users if chosen[i].user_id == auto.user_id), users[0])
    wanted = auto.main_media_type
    if wanted is not None and chosen[main_idx].media_type != wanted:
        user = chosen[main_idx].user_id
        own = [s for s in streams if s.user_id == user and s.media_type == wanted]
        board = next((i for i, s in enumerate(chosen) if is_group_whiteboard(s)), None)
        if own:
            chosen[main_idx] = min(own, key=lambda s: s.join_seq)
        elif wanted == MediaType.WHITEBOARD and board is not None:
            main_idx = board
    chosen.insert(0, chosen.pop(main_idx))
    return chosen


def auto_select(
    streams: Sequence[StreamInfo], auto: AutoSpec, canvas_w: int, canvas_h: int
) -> list[tuple[StreamInfo, Rect]]:
    """Video streams of an automatic layout with their rects: at most `media_count`, one per user.

    Users come in join order, the group's whiteboard (with `white_board`) in its place among them as if
    it were one; for main + subs (type 2) see `_main_first`.
    """
    if not auto.white_board:
        streams = [s for s in streams if not is_group_whiteboard(s)]
    order = user_join_order(streams)
    chosen: list[StreamInfo] = []
    for user in order:
        best = _best_video([s for s in streams if s.user_id == user])
        if best is not None:
            chosen.append(best)
    if auto.type == 2 and chosen:
        chosen = _main_first(chosen, streams, auto)
    count = max(1, min(MAX_TILES, auto.media_count))
    chosen = chosen[:count]
    if auto.type == 2:
        rects = main_and_subs(len(chosen), canvas_w, canvas_h)
    else:
        rects = equal_grid(len(chosen), canvas_w, canvas_h)
    return list(zip(chosen, rects, strict=True))


def auto_audio(streams: Sequence[StreamInfo]) -> list[StreamInfo]:
    """Audio streams mixed by an automatic layout: every published audio stream, users in join order."""
    order = {u: i for i, u in enumerate(user_join_order(streams))}
    audio = [
        (order[s.user_id], s.join_seq, pos, s)
        for pos, s in enumerate(streams)
        if s.media_type == MediaType.AUDIO
    ]
    return [t[3] for t in sorted(audio, key=lambda t: (t[0], t[1], t[2]))]
