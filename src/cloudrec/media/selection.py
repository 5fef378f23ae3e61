"""What to record now: the tiles and audio streams of the layout (manual or automatic), by URL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloudrec.layout import Rect, auto_audio, auto_select
from cloudrec.recorder.spec import AutoSpec, CropMode, Layout, MediaType, StreamInfo


@dataclass(frozen=True)
class TilePlan:
    """One tile to draw; `url` None when its stream is not published (the placeholder shows)."""

    rect: Rect
    crop_mode: CropMode
    label: str
    url: str | None


@dataclass(frozen=True)
class Selection:
    """The video tiles (drawn in order) and the audio URLs (mixed) of the current layout."""

    tiles: tuple[TilePlan, ...] = ()
    audio_urls: tuple[str, ...] = ()

    def wanted(self) -> dict[str, tuple[bool, bool]]:
        """Every URL to pull, with (wants video, wants audio)."""
        want: dict[str, tuple[bool, bool]] = {}
        for tile in self.tiles:
            if tile.url is not None:
                want[tile.url] = (True, want.get(tile.url, (False, False))[1])
        for url in self.audio_urls:
            want[url] = (want.get(url, (False, False))[0], True)
        return want


def _dedupe(urls: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(urls))


def select(
    streams: Sequence[StreamInfo],
    layout: Layout | None,
    auto: AutoSpec | None,
    canvas_w: int,
    canvas_h: int,
    *,
    audio_only: bool = False,
) -> Selection:
    """The selection for the published `streams`: `auto` when given, else the manual `layout`."""
    tiles: tuple[TilePlan, ...] = ()
    if auto is not None:
        if not audio_only:
            tiles = tuple(
                TilePlan(rect, auto.crop_mode, s.user_id or s.media_id, s.url)
                for s, rect in auto_select(streams, auto, canvas_w, canvas_h)
            )
        return Selection(tiles, _dedupe([s.url for s in auto_audio(streams)]))
    if layout is None:
        return Selection()
    by_key = {s.key: s for s in streams}
    if not audio_only:
        plans: list[TilePlan] = []
        for t in layout.video:
            stream = by_key.get((t.user_id, t.media_id, t.media_type))
            plans.append(
                TilePlan(
                    Rect(t.x, t.y, t.w, t.h),
                    t.crop_mode,
                    t.user_id or t.media_id,  # the group's whiteboard has no user: its media id
                    stream.url if stream else None,
                )
            )
        tiles = tuple(plans)
    audio: list[str] = []
    for ref in layout.audio:
        stream = by_key.get((ref.user_id, ref.media_id, ref.media_type)) or by_key.get(
            (ref.user_id, ref.media_id, MediaType.AUDIO)
        )
        if stream is not None:
            audio.append(stream.url)
    return Selection(tiles, _dedupe(audio))
